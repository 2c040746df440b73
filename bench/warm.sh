#!/usr/bin/env bash
# warm.sh - warm throughput: a server run directly (binding --port itself)
# against the same server started by soad (pass mode: soad hands it the
# listener and stays out of the data path).  Servers: fdserver =
# tests/fdserver; httpd = bench/httpd.c, fdserver's serving model with the
# response in one write() (fdserver's two writes meet Nagle + delayed ACK on
# keep-alive connections, which caps it at ~50 conns / 40 ms).
# Everything is up for the whole part; soad's services are warmed by one
# request first (timeout = 300, soad's default: arrivals are watched as
# in production, and no stop happens during the part).
#
# Tests: keepalive = wrk -t1 -c50 -d$DURATION; close = the same with
# "Connection: close" (a TCP connection per request: every request is an
# arrival the kernel signals to soad's master).  ROUNDS rounds; the order
# direct/soad alternates per round.  Around each soad run the master's own
# CPU time (utime+stime, /proc/PID/stat) and context switches are sampled.
#
# env: SOAD FDSERVER WARM_PORT (21010; uses +0..+3) ROUNDS (3) DURATION (10s)
#      SERVERS ("fdserver httpd")
source "$(dirname "$0")/lib.sh"
need "$SOAD" "$FDSERVER" "$HTTPD"
command -v wrk >/dev/null || die "wrk missing: apt-get install -y wrk"

P=${WARM_PORT:-21010}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
SERVERS=${SERVERS:-fdserver httpd}
RAW=$RES/warm.tsv
require_free $(seq "$P" $((P + 3)))
declare -A EXE=([fdserver]=$FDSERVER [httpd]=$HTTPD) DPORT SPORT

i=0
echo "timeout = 300" >"$WORK/conf/warm.conf"
for s in $SERVERS; do
	DPORT[$s]=$((P + i)); SPORT[$s]=$((P + i + 1)); i=$((i + 2))
	start_bg "warm-direct-$s" "${EXE[$s]}" --port "${DPORT[$s]}"
	wait_for 10 listening "${DPORT[$s]}" || die "$s --port ${DPORT[$s]} did not listen"
	printf 'service %s {\n\tlisten = { "127.0.0.1:%d" }\n\tserver = "%s"\n}\n' \
		"$s" "${SPORT[$s]}" "${EXE[$s]}" >>"$WORK/conf/warm.conf"
done
start_soad warm "$WORK/conf/warm.conf"
for s in $SERVERS; do
	curl -fsS -m 10 -o /dev/null "http://127.0.0.1:${SPORT[$s]}/" || die "soad's $s did not answer"
done

log "warm: $(machine_info), $ROUNDS rounds of $DURATION"
printf 'server\ttest\ttarget\tround\trps\trequests\tlat_ms\terrors\tmaster_ticks\tmaster_ctxsw\tclk_tck\n' >"$RAW"
for round in $(seq "$ROUNDS"); do
	for s in $SERVERS; do
		for t in keepalive close; do
			if (( round % 2 )); then order=(direct soad); else order=(soad direct); fi
			for target in "${order[@]}"; do
				hdr=(); [ "$t" = close ] && hdr=(-H "Connection: close")
				port=${DPORT[$s]}; [ "$target" = soad ] && port=${SPORT[$s]}
				c0=$(cpu_ticks "$SOAD_PID"); s0=$(ctxsw "$SOAD_PID")
				out=$WORK/log/wrk-$s-$t-$target-$round.txt
				timeout 120 wrk -t1 -c50 -d"$DURATION" "${hdr[@]}" \
					"http://127.0.0.1:$port/" >"$out" 2>&1 || die "wrk failed: $(tail -3 "$out")"
				c1=$(cpu_ticks "$SOAD_PID"); s1=$(ctxsw "$SOAD_PID")
				row=$(awk '
					/Latency/ { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
						    lat = v * (u == "us" ? 0.001 : u == "s" ? 1000 : u == "m" ? 60000 : 1) }
					/requests in/ { req = $1 }
					/Socket errors/ { gsub(/,/, ""); err += $4 + $6 + $8 + $10 }
					/Non-2xx/ { err += $NF }
					/Requests\/sec/ { rps = $2 }
					END { printf "%s\t%s\t%.3f\t%d", rps, req, lat, err }' "$out")
				printf '%s\t%s\t%s\t%d\t%s\t%d\t%d\t%d\n' "$s" "$t" "$target" "$round" "$row" \
					$((c1 - c0)) $((s1 - s0)) "$CLK_TCK" >>"$RAW"
				log "round $round $s $t $target: $(cut -f1 <<<"$row") req/s, soad master +$((c1 - c0)) ticks +$((s1 - s0)) ctxsw"
			done
		done
	done
done
n=$(count_log "$SOAD_LOG" 'started pid')
[ "$n" = "$(wc -w <<<"$SERVERS")" ] || log "note: soad started $n service processes (a restart happened)"

{
	echo "### Warm throughput (server run directly vs passed its socket by soad)"
	echo
	echo "\`SOAD=$SOAD FDSERVER=$FDSERVER ROUNDS=$ROUNDS DURATION=$DURATION bench/warm.sh\`, ports $P-$((P + 3)), $(machine_info)"
	echo
	"$PY" "$BENCH/report.py" warm "$RAW"
	echo; echo "loadavg at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$RES/warm.md"
