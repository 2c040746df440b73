#!/usr/bin/env bash
# cold.sh - activation latency: cold connect -> first response byte through
# soad and through systemd-socket-activate, against the same server's own
# start-to-ready time (spawned binding its own port, spawn -> first byte).
#
# Servers: c = tests/fdserver, py = bench/fd3_http.py (Python http.server).
# One soad runs for the whole part with timeout = 1 and both servers as
# services; after each soad measurement the script waits for
# "NAME: pid N stopped" in its log, so every repetition is really cold.
# Each repetition runs the three modes in an order rotated per repetition;
# every mode idles IDLE_MS before its cold connect (activator settled).
#
# env: SOAD FDSERVER COLD_PORT (21000; uses +0..+2) REPS (20) IDLE_MS (200)
source "$(dirname "$0")/lib.sh"
need "$SOAD" "$FDSERVER" "$SDACT" "$PY"

P=${COLD_PORT:-21000}
REPS=${REPS:-20}
IDLE_MS=${IDLE_MS:-200}
RAW=$RES/cold.tsv
require_free "$P" $((P + 1)) $((P + 2))

cat >"$WORK/conf/cold.conf" <<EOF
timeout = 1
service c {
	listen = { "127.0.0.1:$P" }
	server = "$FDSERVER"
}
service py {
	listen = { "127.0.0.1:$((P + 1))" }
	server = "$PY"
	args = { "python3", "$FD3PY" }
}
EOF
start_soad cold "$WORK/conf/cold.conf"
declare -A SPORT=([c]=$P [py]=$((P + 1)))
declare -A CMD=([c]="$FDSERVER" [py]="$PY $FD3PY")
Q=$((P + 2))                       # systemd-socket-activate and standalone
MODES=(soad sd-activate standalone)
CLOG=$WORK/log/cold-spawned.log   # stderr of coldstart and what it spawned
: >"$CLOG"

log "cold: $(machine_info), $REPS reps"
printf 'server\tmode\trep\tcold_us\twarm_us\tlisten_us\n' >"$RAW"
for rep in $(seq "$REPS"); do
	for s in c py; do
		for k in 0 1 2; do
			m=${MODES[$(( (rep + k) % 3 ))]}
			case $m in
			soad)
				n=$(count_log "$SOAD_LOG" "^soad: $s: pid [0-9]+ stopped")
				sleep "$(awk -v m="$IDLE_MS" 'BEGIN {print m / 1000}')"
				out=$("$BIN/coldstart" once "${SPORT[$s]}") || die "soad $s failed"
				wait_for 15 log_has "$SOAD_LOG" "^soad: $s: pid [0-9]+ stopped" $((n + 1)) ||
					die "soad did not stop $s: $(tail -3 "$SOAD_LOG")" ;;
			sd-activate)
				out=$(timeout 60 "$BIN/coldstart" activate "$Q" "$IDLE_MS" -- \
					"$SDACT" -l "127.0.0.1:$Q" ${CMD[$s]} 2>>"$CLOG") ||
					die "sd-activate $s failed: $(tail -3 "$CLOG")" ;;
			standalone)
				out=$(timeout 60 "$BIN/coldstart" standalone "$Q" -- \
					${CMD[$s]} --port "$Q" 2>>"$CLOG") ||
					die "standalone $s failed: $(tail -3 "$CLOG")" ;;
			esac
			eval "$out"    # cold_us= warm_us= listen_us=
			printf '%s\t%s\t%d\t%s\t%s\t%s\n' "$s" "$m" "$rep" "$cold_us" "$warm_us" "$listen_us" >>"$RAW"
		done
	done
	log "rep $rep/$REPS done"
done
starts=$(count_log "$SOAD_LOG" 'started pid')
[ "$starts" = $((2 * REPS)) ] || log "note: soad started $starts services for $((2 * REPS)) cold requests"

{
	echo "### Activation latency (cold connect -> first byte)"
	echo
	echo "\`SOAD=$SOAD FDSERVER=$FDSERVER REPS=$REPS IDLE_MS=$IDLE_MS bench/cold.sh\`, ports $P-$Q, $(machine_info)"
	echo
	"$PY" "$BENCH/report.py" cold "$RAW"
	echo; echo "loadavg at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$RES/cold.md"
