#!/usr/bin/env bash
# conncount.sh - what counting open connections costs the master when the
# host is full of connections that are not the service's.
#
# Same run, side by side, three masters with one service each
# (tests/fdserver on 127.0.0.1, `timeout = 1`), kept busy while
# conncount.py holds $NOISE unrelated established loopback connections
# open on other ports (2 x $NOISE sockets on the host):
#   before       soad built from commit $BEFORE (default 32e6ce5) into
#                $WORK/before-$BEFORE: an unfiltered SOCK_DIAG dump of every
#                TCP socket every timeout/10; one held connection
#   after        $SOAD (this tree): kernel-filtered, batched on a 1 s grid,
#                a known connection looked up alone; one held connection
#   after-churn  $SOAD again, its service's connection replaced by a new one
#                every second, so every count walks the table (the new
#                code's worst case)
# Measured over $DURATION seconds: each master's utime+stime from
# /proc/PID/stat (CPU seconds per minute, % of a core) and context
# switches; for the new code the passes and their wall time from the -v
# log ("counted in one pass (W by a held connection, R TCP sockets read,
# X ms)").  before counts every 0.1 s by design: its CPU per count is its
# CPU over DURATION * 10 counts.
#
# env: SOAD FDSERVER BEFORE (32e6ce5) NOISE (20000) DURATION (60)
#      CC_PORT (21020: services on +0..+2; noise listeners on +10..+13)
source "$(dirname "$0")/lib.sh"
need "$SOAD" "$FDSERVER"

BEFORE=${BEFORE:-32e6ce5}
NOISE=${NOISE:-20000}
DURATION=${DURATION:-60}
BASE=${CC_PORT:-21020}
P_NOISE=$((BASE + 10))
require_free "$BASE" $((BASE + 1)) $((BASE + 2)) "$P_NOISE" \
	$((P_NOISE + 1)) $((P_NOISE + 2)) $((P_NOISE + 3))

# soad as of $BEFORE, built once from this repository's history.
OLD=$WORK/before-$BEFORE
if [ ! -x "$OLD/build/soad" ]; then
	log "building soad $BEFORE in $OLD"
	rm -rf "$OLD"
	mkdir -p "$OLD/src" "$OLD/build"
	git -C "$BENCH/.." archive "$BEFORE" | tar -x -C "$OLD/src"
	(cd "$OLD/src" && autoreconf -fi >/dev/null 2>&1)
	(cd "$OLD/build" && "$OLD/src/configure" CFLAGS=-O2 >/dev/null &&
		make -s soad >/dev/null 2>&1) || die "build of $BEFORE failed"
fi

NAMES=(before after after-churn)
declare -A PID PORT EXE T0 S0 L0
PORT[before]=$BASE; PORT[after]=$((BASE + 1)); PORT[after-churn]=$((BASE + 2))
EXE[before]=$OLD/build/soad; EXE[after]=$SOAD; EXE[after-churn]=$SOAD

log "conncount: $(machine_info); $NOISE unrelated connections, $DURATION s"
for n in "${NAMES[@]}"; do
	printf 'timeout = 1\nservice %s {\n\tlisten = { "127.0.0.1:%d" }\n\tserver = "%s"\n}\n' \
		"$n" "${PORT[$n]}" "$FDSERVER" >"$WORK/conf/cc-$n.conf"
	start_bg "cc-$n" "${EXE[$n]}" -d -v -f "$WORK/conf/cc-$n.conf"
	PID[$n]=$LAST_PID
done
for n in "${NAMES[@]}"; do
	wait_for 30 log_has "$WORK/log/cc-$n.log" 'started with [0-9]+ service' 1 ||
		die "soad ($n) did not start: $(tail -5 "$WORK/log/cc-$n.log")"
done

start_bg cc-load "$PY" "$BENCH/conncount.py" --noise "$NOISE" \
	--noise-port "$P_NOISE" --hold "127.0.0.1:${PORT[before]}" \
	--hold "127.0.0.1:${PORT[after]}" --churn "127.0.0.1:${PORT[after-churn]}"
LOAD_PID=$LAST_PID
load_ready() {
	log_has "$WORK/log/cc-load.log" '^ready' 1 && return 0
	kill -0 "$LOAD_PID" 2>/dev/null ||
		die "load exited: $(tail -5 "$WORK/log/cc-load.log")"
	return 1
}
wait_for 300 load_ready || die "load did not get ready in 300 s"
log "$(cat "$WORK/log/cc-load.log"); host TCP sockets: $(ss -Htan | wc -l)"
for n in "${NAMES[@]}"; do
	wait_for 30 log_has "$WORK/log/cc-$n.log" 'connections open, not idle' 1 ||
		die "soad ($n) never found its service's connection"
done
sleep 2		# every master past its first count, the new ones on the grid

for n in "${NAMES[@]}"; do
	T0[$n]=$(cpu_ticks "${PID[$n]}"); S0[$n]=$(ctxsw "${PID[$n]}")
	L0[$n]=$(wc -l <"$WORK/log/cc-$n.log")
done
sleep "$DURATION"
RAW=$RES/conncount.tsv
printf 'name\tticks\tctxsw\tlog\tfrom\n' >"$RAW"
for n in "${NAMES[@]}"; do
	printf '%s\t%d\t%d\t%s\t%d\n' "$n" $(( $(cpu_ticks "${PID[$n]}") - T0[$n] )) \
		$(( $(ctxsw "${PID[$n]}") - S0[$n] )) "$WORK/log/cc-$n.log" "${L0[$n]}" >>"$RAW"
	[ "$(count_log "$WORK/log/cc-$n.log" 'idle for')" = 0 ] ||
		log "WARNING: soad ($n) stopped its service during the run"
done
host=$(ss -Htan | wc -l)

{
	echo "### Counting open connections with $NOISE unrelated connections on the host"
	echo
	echo "\`BEFORE=$BEFORE NOISE=$NOISE DURATION=$DURATION bench/conncount.sh\`, $(machine_info), $host TCP sockets on the host at the end"
	echo
	"$PY" "$BENCH/conncount.py" --report "$RAW" --clk-tck "$CLK_TCK" \
		--duration "$DURATION" --before "$BEFORE"
	echo
	echo "loadavg at the end: $(cut -d' ' -f1-3 /proc/loadavg); CPU from /proc/PID/stat in ticks of 1/$CLK_TCK s"
} | tee "$RES/conncount.md"
