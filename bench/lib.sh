# lib.sh - shared by the soad benchmark scripts; source it, do not run it.
#
# Every process a script starts goes through start_bg, is recorded by PID and
# is stopped by PID (with the descendants it had) when the script exits, also
# on error or Ctrl-C.  Nothing is killed by name.  Ports are checked free
# before use; scratch files live under $WORK (default /tmp/soad-bench).

set -euo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
first_x() { local f; for f in "$@"; do [ -x "$f" ] && { echo "$f"; return; }; done; echo "$1"; }
SOAD=$(realpath -m "${SOAD:-$(first_x "$BENCH/../soad" "$BENCH/../build/soad")}")
FDSERVER=$(realpath -m "${FDSERVER:-$(first_x "$BENCH/../tests/fdserver" "$BENCH/../build/tests/fdserver")}")
WORK=${SOAD_BENCH_WORK:-/tmp/soad-bench}
BIN=$WORK/bin
RES=$WORK/results
PY=/usr/bin/python3
SDACT=/usr/bin/systemd-socket-activate
FD3PY=$BENCH/fd3_http.py
CLK_TCK=$(getconf CLK_TCK)
mkdir -p "$BIN" "$RES" "$WORK/log" "$WORK/conf"

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "$*"; exit 1; }

need() {
	local f
	for f in "$@"; do [ -x "$f" ] || die "missing $f (see bench/README.md)"; done
}

# build_helper NAME [GCC FLAGS...] : compile bench/NAME.c into $BIN/NAME
# when it or the shared header changed.
build_helper() {
	local h=$1; shift
	[ "$BIN/$h" -nt "$BENCH/$h.c" ] && [ "$BIN/$h" -nt "$BENCH/benchlisten.h" ] ||
	    gcc -O2 -Wall "$@" -o "$BIN/$h" "$BENCH/$h.c"
}
build_helper coldstart
build_helper httpd
HTTPD=$BIN/httpd

# own_ticks PID : utime+stime of PID itself (0 if gone).
own_ticks() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $12 + $13}' || echo 0; }

# rotate K : the TARGETS array rotated by K, one per line (the order of
# round K, so no target always runs first).
rotate() {
	local n=${#TARGETS[@]} i
	for ((i = 0; i < n; i++)); do echo "${TARGETS[$(((i + $1) % n))]}"; done
}

machine_info() {
	echo "nproc=$(nproc) kernel=$(uname -r) loadavg=\"$(cut -d' ' -f1-3 /proc/loadavg)\""
}

BG_PIDS=()
# start_bg NAME CMD... : run CMD in the background, output to $WORK/log/NAME.log.
start_bg() {
	local name=$1; shift
	"$@" </dev/null >"$WORK/log/$name.log" 2>&1 &
	LAST_PID=$!
	BG_PIDS+=("$LAST_PID")
}

descendants() {
	local p
	for p in $(pgrep -P "$1" || true); do echo "$p"; descendants "$p"; done
}

# stop_pid PID : SIGTERM, wait up to 10 s, SIGKILL; then SIGTERM whatever of
# its descendants (noted before) is still alive.
stop_pid() {
	local pid=$1 d desc i
	[ -d "/proc/$pid" ] || { wait "$pid" 2>/dev/null || true; return 0; }
	desc=$(descendants "$pid")
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 100); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
	[ -d "/proc/$pid" ] && kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	for d in $desc; do [ -d "/proc/$d" ] && kill -TERM "$d" 2>/dev/null || true; done
	return 0
}

cleanup() {
	local i
	for ((i = ${#BG_PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${BG_PIDS[i]}"; done
	BG_PIDS=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# busy_ports : every local TCP port in use (any state but TIME-WAIT, which
# SO_REUSEADDR binds over), one a line.
busy_ports() { ss -Htan exclude time-wait | awk '{n = split($4, a, ":"); print a[n]}' | sort -un; }

# require_free PORT... : abort if a port is in use.
require_free() {
	local busy p
	busy=$(busy_ports)
	for p in "$@"; do
		grep -qx "$p" <<<"$busy" && die "port $p is busy; move the base port (see README.md)"
	done
	return 0
}

# free_ports N FROM : N ports >= FROM not in use (21000-21999 first; spills
# above 21999 only if ports there are taken), space-separated.
free_ports() {
	comm -23 <(seq "$2" 32000 | sort) <(busy_ports | sort) | sort -n | head -n "$1" | tr '\n' ' '
}

listening() { [ -n "$(ss -Hltn "sport = :$1")" ]; }

# wait_for SECONDS CMD... : poll CMD every 10 ms until it succeeds.
wait_for() {
	local t=$1 i; shift
	for ((i = 0; i < t * 100; i++)); do "$@" && return 0; sleep 0.01; done
	return 1
}

# count_log FILE REGEX : number of lines matching.
count_log() { grep -cE "$2" "$1" || true; }
log_has() { [ "$(count_log "$1" "$2")" -ge "$3" ]; }

# start_soad NAME CONF : start soad -d, wait for "started with", set SOAD_PID.
start_soad() {
	start_bg "$1" "$SOAD" -d -f "$2"
	SOAD_PID=$LAST_PID
	SOAD_LOG=$WORK/log/$1.log
	wait_for 60 log_has "$SOAD_LOG" 'started with [0-9]+ service' 1 ||
		die "soad did not start: $(tail -5 "$SOAD_LOG")"
}

# status_field PID FIELD : first number of a /proc/PID/status field.
status_field() { awk -v f="$2:" '$1 == f {print $2; exit}' "/proc/$1/status"; }
rollup_field() { awk -v f="$2:" '$1 == f {print $2; exit}' "/proc/$1/smaps_rollup"; }
# cpu_ticks PID : utime + stime of the process itself (clock ticks).
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
ctxsw() { echo $(( $(status_field "$1" voluntary_ctxt_switches) + $(status_field "$1" nonvoluntary_ctxt_switches) )); }
