#!/usr/bin/env bash
# proxy.sh - soad `mode = proxy` in the data path, against the app run
# directly, systemd-socket-proxyd and haproxy (mode tcp, nbthread 1), all up
# at once and measured one at a time in one run (issue 7, "Bench").
#
# App: bench/ehttpd.c (one process, epoll, keep-alive; 256 B body, 100 MiB
# on GET /big), the serving model of the peers' nginx with one worker, and
# one that can take an inherited listener (soad's private UNIX listener).
# Targets (port offsets from PROXY_PORT):
#   direct          ehttpd --port P                                   +0
#   soad-priv-wrap  mode = proxy, private listener, tcpwrap = yes     +1
#   soad-priv       the same, tcpwrap = no                            +2
#   soad-back-wrap  mode = proxy, backend = 127.0.0.1:+10, tcpwrap = yes  +3
#   soad-back       the same, backend 127.0.0.1:+11, tcpwrap = no      +4
#   sdproxy         systemd-socket-activate -l +5 systemd-socket-proxyd :P  +5
#   haproxy         haproxy mode tcp, nbthread 1 -> :P                 +6
# The four soad services live in one master (soad -d); tcpwrap = yes reads
# a hosts.allow that allows 127.0.0.1 (`ALL: 127.0.0.1`, empty hosts.deny),
# and every check runs in soad's helper processes, not the master.
#
# Tests (wrk -t1 -d$DURATION --latency, bench/wrk_report.lua):
#   c50 / c200 : keep-alive, 50 / 200 connections
#   close      : -c50 with "Connection: close" (a TCP connection - accept,
#                check, connect to the app - per request)
# ROUNDS rounds; each test runs every target once per round, in an order
# rotated per round.  Ratios to direct (and to haproxy) are taken within a
# round, then the median over rounds.  Around each run: utime+stime of the
# soad master itself (/proc/PID/stat), of its tcpwrap helpers, and of the
# peer proxy process; printed per request (= per connection in `close`).
# Bulk: bench/fetch.c (1 MiB reads) GETs /big (100 MiB) through every
# target, BULK_REPS rotated repetitions; time and MB/s (10^6 B/s), ratio per
# repetition.  At the end: the master's fd count before/after and every
# soad log line that is not a start/stop notice.
#
# env: SOAD PROXY_PORT (21100; +0..+6, +10, +11) ROUNDS (3) DURATION (6s)
#      BULK_REPS (9) TESTS ("c50 c200 close") TARGETS (all of the above)
source "$(dirname "$0")/lib.sh"
need "$SOAD" /lib/systemd/systemd-socket-proxyd "$SDACT"
command -v wrk >/dev/null || die "wrk missing: apt-get install -y wrk"
command -v haproxy >/dev/null || die "haproxy missing: apt-get install -y haproxy"
build_helper ehttpd
build_helper fetch

P=${PROXY_PORT:-21100}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-6s}
BULK_REPS=${BULK_REPS:-9}
TESTS=${TESTS:-c50 c200 close}
read -ra TARGETS <<<"${TARGETS:-direct soad-priv-wrap soad-priv soad-back-wrap soad-back sdproxy haproxy}"
RAW=$RES/proxy.tsv
BULKRAW=$RES/proxy-bulk.tsv
C=$WORK/conf
require_free $(seq "$P" $((P + 6))) $((P + 10)) $((P + 11))

printf 'ALL: 127.0.0.1\n' >"$C/proxy.allow"
: >"$C/proxy.deny"
svc() { # name port tcpwrap [backend-port]
	printf 'service %s {\n\tmode = proxy\n\ttcpwrap = %s\n\tlisten = { "127.0.0.1:%d" }\n\tserver = "%s"\n' \
		"$1" "$3" "$2" "$BIN/ehttpd"
	if [ -n "${4:-}" ]; then
		printf '\tbackend = "127.0.0.1:%d"\n\targs = { "ehttpd", "--port", "%d" }\n' "$4" "$4"
	fi
	printf '}\n'
}
{
	printf 'timeout = 300\nhosts-allow = "%s"\nhosts-deny = "%s"\n' "$C/proxy.allow" "$C/proxy.deny"
	svc soad-priv-wrap $((P + 1)) yes
	svc soad-priv $((P + 2)) no
	svc soad-back-wrap $((P + 3)) yes $((P + 10))
	svc soad-back $((P + 4)) no $((P + 11))
} >"$C/proxy.conf"
cat >"$C/proxy-haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 9000
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend fe
    bind 127.0.0.1:$((P + 6))
    backlog 4096
    default_backend be
backend be
    server s1 127.0.0.1:$P
EOF

declare -A PORT PID
start_bg proxy-direct "$BIN/ehttpd" --port "$P"
PORT[direct]=$P; PID[direct]=$LAST_PID
start_soad proxy "$C/proxy.conf"
for i in 1 2 3 4; do
	t=$(sed -n "$i"p <<<$'soad-priv-wrap\nsoad-priv\nsoad-back-wrap\nsoad-back')
	PORT[$t]=$((P + i)); PID[$t]=$SOAD_PID
done
start_bg proxy-sdproxy "$SDACT" -l "127.0.0.1:$((P + 5))" /lib/systemd/systemd-socket-proxyd "127.0.0.1:$P"
PORT[sdproxy]=$((P + 5)); PID[sdproxy]=$LAST_PID	# exec()s the proxy in place
start_bg proxy-haproxy haproxy -db -f "$C/proxy-haproxy.cfg"
PORT[haproxy]=$((P + 6)); PID[haproxy]=$LAST_PID
for t in "${TARGETS[@]}"; do
	wait_for 10 listening "${PORT[$t]}" || die "$t did not listen on ${PORT[$t]}"
done
# warm-up: the first request starts soad's services and socket-proxyd
for t in "${TARGETS[@]}"; do
	curl -fsS -m 10 -o /dev/null "http://127.0.0.1:${PORT[$t]}/" || die "$t did not answer"
	wrk -t1 -c10 -d1s "http://127.0.0.1:${PORT[$t]}/" >/dev/null
done
fds0=$(ls "/proc/$SOAD_PID/fd" | wc -l)
rss0=$(status_field "$SOAD_PID" VmRSS)

# helper_ticks : utime+stime (+ reaped children) of soad's children that
# are not its services' apps, i.e. the tcpwrap helpers.
helper_ticks() {
	local p tot=0 s
	for p in $(pgrep -P "$SOAD_PID" || true); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = ehttpd ] && continue
		s=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13 + $14 + $15}') || continue
		tot=$((tot + ${s:-0}))
	done
	echo "$tot"
}
# ctick : "master helpers" ticks for a target (peer proxies: their own).
ctick() {
	case $1 in
	direct) echo "0 0" ;;
	soad-*) echo "$(own_ticks "$SOAD_PID") $(helper_ticks)" ;;
	*) echo "$(own_ticks "${PID[$1]}") 0" ;;
	esac
}

log "proxy: $(machine_info), $ROUNDS rounds of $DURATION; targets: ${TARGETS[*]}"
printf 'test\ttarget\tround\trequests\trps\tp50_us\tp99_us\terrors\tmaster_ticks\thelper_ticks\tclk_tck\tloadavg\n' >"$RAW"
for round in $(seq "$ROUNDS"); do
	for t in $TESTS; do
		conns=50; hdr=()
		[ "$t" = c200 ] && conns=200
		[ "$t" = close ] && hdr=(-H "Connection: close")
		while read -r tg; do
			read -r m0 h0 < <(ctick "$tg")
			out=$(timeout 120 wrk -t1 -c"$conns" -d"$DURATION" --latency "${hdr[@]}" \
				-s "$BENCH/wrk_report.lua" "http://127.0.0.1:${PORT[$tg]}/" 2>&1 |
				sed -n 's/^WRKJSON //p')
			read -r m1 h1 < <(ctick "$tg")
			[ -n "$out" ] || die "wrk gave no result for $t/$tg"
			row=$("$PY" -c 'import json,sys; w=json.loads(sys.argv[1]); print("%d\t%.1f\t%d\t%d\t%d" % (w["requests"], w["rps"], w["p50_us"], w["p99_us"], w["err_connect"]+w["err_read"]+w["err_write"]+w["err_status"]+w["err_timeout"]))' "$out")
			printf '%s\t%s\t%d\t%s\t%d\t%d\t%d\t%s\n' "$t" "$tg" "$round" "$row" \
				$((m1 - m0)) $((h1 - h0)) "$CLK_TCK" "$(cut -d' ' -f1 /proc/loadavg)" >>"$RAW"
			log "round $round $t $tg: $(cut -f2 <<<"$row") req/s p99 $(cut -f4 <<<"$row") us err $(cut -f5 <<<"$row"), master +$((m1 - m0)) helpers +$((h1 - h0)) ticks"
			sleep 1
		done < <(rotate $((round - 1)))
		[ "$t" = close ] && sleep 4	# let TIME-WAIT drain a little
	done
done

log "bulk: GET /big (100 MiB) x $BULK_REPS per target"
printf 'target\trep\tbytes\tsecs\tmaster_ticks\n' >"$BULKRAW"
for rep in $(seq "$BULK_REPS"); do
	while read -r tg; do
		read -r m0 _ < <(ctick "$tg")
		res=$(timeout 60 "$BIN/fetch" 127.0.0.1 "${PORT[$tg]}" /big | sed -n 's/^FETCHJSON //p')
		read -r m1 _ < <(ctick "$tg")
		row=$("$PY" -c 'import json,sys; f=json.loads(sys.argv[1] or "{\"bytes\":0,\"secs\":0}"); print("%d\t%.6f" % (f["bytes"], f["secs"]))' "$res")
		printf '%s\t%d\t%s\t%d\n' "$tg" "$rep" "$row" $((m1 - m0)) >>"$BULKRAW"
	done < <(rotate $((rep - 1)))
done
fds1=$(ls "/proc/$SOAD_PID/fd" | wc -l)
sleep 3
fds2=$(ls "/proc/$SOAD_PID/fd" | wc -l)
rss1=$(status_field "$SOAD_PID" VmRSS)

{
	echo "### Proxy mode (soad in the data path) vs direct, systemd-socket-proxyd, haproxy"
	echo
	echo "\`SOAD=$SOAD ROUNDS=$ROUNDS DURATION=$DURATION BULK_REPS=$BULK_REPS bench/proxy.sh\`, ports $P-$((P + 6)), $((P + 10))-$((P + 11)), $(machine_info)"
	echo
	"$PY" "$BENCH/report.py" proxy "$RAW" "$BULKRAW"
	echo
	echo "soad master: fds $fds0 -> $fds1 (after 3 s idle: $fds2), VmRSS $rss0 -> $rss1 KiB over the run;" \
		"$(grep -c 'started pid' "$SOAD_LOG") service starts;" \
		"log lines other than start notices: $(grep -vcE 'started (pid|with)|file descriptor limit' "$SOAD_LOG")"
	grep -vE 'started (pid|with)|file descriptor limit' "$SOAD_LOG" | sort | uniq -c | sort -rn | head -5 | sed 's/^/    /'
	echo; echo "loadavg at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$RES/proxy.md"
