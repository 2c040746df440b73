#!/usr/bin/env bash
# proxy_profile.sh - where soad's proxy master spends its time (issue 7:
# "if a target is out of reach, show with a profile where the time goes").
# One soad master with one proxy service (private listener, tcpwrap =
# $TCPWRAP) in front of bench/ehttpd.c; for each load (keep-alive -c50,
# Connection: close -c50, 100 MiB bulk x BULK_N):
#   1. perf stat -e task-clock,context-switches on the master: CPU ms and
#      CPU us per request;
#   2. perf record -g on the master (cpu-clock): top symbols, children
#      included (where the master's CPU goes: user vs kernel, which calls);
#   3. strace -c -f on the master only (not its services): syscalls per
#      request (strace slows the master; its counts matter, not its times).
# The machine-wide split (wrk, ehttpd, soad) during the keep-alive load is
# taken from /proc: utime+stime of each over the run.
#
# env: SOAD PROF_PORT (21150; +0, +1) DURATION (5s) TCPWRAP (no) BULK_N (5)
#      TESTS ("c50 close bulk")
source "$(dirname "$0")/lib.sh"
need "$SOAD"
command -v perf >/dev/null || die "perf missing (apt-get install linux-perf)"
command -v strace >/dev/null || die "strace missing"
build_helper ehttpd
build_helper fetch
P=${PROF_PORT:-21150}
DURATION=${DURATION:-5s}
TCPWRAP=${TCPWRAP:-no}
BULK_N=${BULK_N:-5}
TESTS=${TESTS:-c50 close bulk}
OUT=$RES/proxy-profile
mkdir -p "$OUT"
require_free "$P" $((P + 1))
printf 'ALL: 127.0.0.1\n' >"$WORK/conf/prof.allow"
: >"$WORK/conf/prof.deny"
cat >"$WORK/conf/prof.conf" <<EOF
timeout = 300
hosts-allow = "$WORK/conf/prof.allow"
hosts-deny = "$WORK/conf/prof.deny"
service prof {
	mode = proxy
	tcpwrap = $TCPWRAP
	listen = { "127.0.0.1:$((P + 1))" }
	server = "$BIN/ehttpd"
}
EOF
start_bg prof-direct "$BIN/ehttpd" --port "$P"
start_soad prof "$WORK/conf/prof.conf"
wait_for 10 listening "$P" || die "ehttpd did not listen"
curl -fsS -m 10 -o /dev/null "http://127.0.0.1:$((P + 1))/" || die "soad did not answer"
APP=$(pgrep -P "$SOAD_PID" -x ehttpd)

load() { # test : one bounded load through soad; prints requests
	case $1 in
	c50) wrk -t1 -c50 -d"$DURATION" -s "$BENCH/wrk_report.lua" "http://127.0.0.1:$((P + 1))/" |
		sed -n 's/^WRKJSON //p' | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["requests"])' ;;
	close) wrk -t1 -c50 -d"$DURATION" -H "Connection: close" -s "$BENCH/wrk_report.lua" "http://127.0.0.1:$((P + 1))/" |
		sed -n 's/^WRKJSON //p' | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["requests"])' ;;
	bulk) for _ in $(seq "$BULK_N"); do timeout 60 "$BIN/fetch" 127.0.0.1 $((P + 1)) /big >/dev/null; done
		echo "$BULK_N" ;;
	esac
}
all_ticks() { echo "$(cpu_ticks "$SOAD_PID") $(cpu_ticks "$APP")"; }

log "proxy_profile: $(machine_info), tcpwrap = $TCPWRAP"
{
echo "### Proxy master profile (tcpwrap = $TCPWRAP)"
echo
echo "\`SOAD=$SOAD DURATION=$DURATION TCPWRAP=$TCPWRAP BULK_N=$BULK_N bench/proxy_profile.sh\`, $(machine_info)"
for t in $TESTS; do
	echo; echo "#### $t"; echo
	read -r s0 a0 < <(all_ticks); t0=$(date +%s%N)
	perf stat -x, -e task-clock,context-switches -p "$SOAD_PID" -o "$OUT/$t.stat" &
	pst=$!; sleep 0.2
	n=$(load "$t")
	kill -INT "$pst"; wait "$pst" 2>/dev/null || true
	read -r s1 a1 < <(all_ticks); t1=$(date +%s%N)
	tc=$(awk -F, '$3 == "task-clock" {print $1}' "$OUT/$t.stat")
	cs=$(awk -F, '$3 == "context-switches" {print $1}' "$OUT/$t.stat")
	echo "- ${n} requests (bulk: transfers of 100 MiB); master task-clock $(printf %.0f "$tc") ms" \
		"($(awk -v c="$tc" -v n="$n" 'BEGIN {printf "%.1f", c * 1000 / n}') us per request)," \
		"$cs context switches; /proc over the load: master $((s1 - s0)) ticks, app $((a1 - a0)) ticks," \
		"wall $(( (t1 - t0) / 10000000 )) ticks (1 tick = 10 ms)"
	perf record -q -g -o "$OUT/$t.perf" -p "$SOAD_PID" 2>/dev/null &
	prec=$!; sleep 0.2
	load "$t" >/dev/null
	kill -INT "$prec"; wait "$prec" 2>/dev/null || true
	echo; echo "perf record -g (cpu-clock) on the master, top entries by self time:"; echo; echo '```'
	perf report -i "$OUT/$t.perf" --stdio --no-children --sort symbol -g none --percent-limit 2 2>/dev/null |
		grep -E '^ +[0-9]' | head -20
	echo '```'
	echo; echo "by children (inclusive) time, top syscalls entry points:"; echo; echo '```'
	perf report -i "$OUT/$t.perf" --stdio --children --sort symbol -g none 2>/dev/null |
		grep -E '^ +[0-9].*(__x64_sys|__sys_|do_splice|tcp_sendmsg|tcp_recvmsg|unix_stream|ep_poll|event_base_loop)' | head -14
	echo '```'
	strace -c -f -o "$OUT/$t.strace" -p "$SOAD_PID" &
	str=$!; sleep 0.5
	n=$(load "$t")
	kill -TERM "$str"; wait "$str" 2>/dev/null || true
	echo; echo "strace -c -f on the master (${n} requests under strace; calls per request):"; echo; echo '```'
	awk -v n="$n" '$1 ~ /^[0-9.]+$/ && NF >= 5 {c = $4; s = $NF; printf "%-16s %10d calls  %8.2f per request\n", s, c, c / n}' \
		"$OUT/$t.strace" | sort -k2 -rn | head -12
	echo '```'
	sleep 2
done
echo; echo "loadavg at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/profile.md"
