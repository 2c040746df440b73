#!/usr/bin/env bash
# nowait.sh - nowait connection rate (a process per connection, issue 8,
# "Bench"): soad `mode = nowait` with and without tcp_wrappers against
# Debian's openbsd-inetd (without and with -l), xinetd (Debian's build,
# libwrap on, and flags = NOLIBWRAP) and the peers' reference masters
# (bench/ref_super.c: accept + fork + execv, and accept + posix_spawn), all
# up at once, measured one at a time in one run.
#
# Service for all: bench/echo1.c (static; read once, echo, exit).
# Targets (port offsets from NOWAIT_PORT):
#   soad           mode = nowait, tcpwrap = no                 +0
#   soad-wrap      mode = nowait, tcpwrap = yes                +1
#   inetd          openbsd-inetd -i -R 100000000 -q 1024       +2
#   inetd-l        the same with -l (libwrap)                  +3
#   xinetd         xinetd -dontfork, libwrap (Debian default)  +4
#   xinetd-nowrap  same xinetd, flags = NOLIBWRAP              +5
#   ref-fork       ref_super fork                              +6
#   ref-spawn      ref_super spawn (posix_spawn)               +7
# tcp_wrappers rules: the system's /etc/hosts.allow and /etc/hosts.deny for
# everyone (libwrap in inetd -l and xinetd reads those; soad reads them by
# default).  Rate limits are lifted (inetd -R, xinetd cps, soad's defaults
# have none); no per-connection logging anywhere.
#
# Client: bench/connbench.c: connect, write 16 B, read the echo, shutdown,
# wait for EOF (the service exited), close.
#   seq : SEQ_N connections one at a time
#   par : PAR_N connections, PAR_C clients in parallel
# ROUNDS rounds, target order rotated per round; ratios within a round, then
# the median.  Master CPU: utime+stime of the master itself (not the
# services), /proc/PID/stat, per connection.  At the end: soad's fds, its
# children, and its log lines other than start notices.
#
# xinetd and openbsd-inetd: Debian's packages unpacked (not installed) by
# ../shared/peer-bench/setup.sh into /tmp/soad-peers/root (XINETD, INETD).
#
# env: SOAD NOWAIT_PORT (21130; +0..+7) ROUNDS (3) SEQ_N (2000) PAR_N (4000)
#      PAR_C (8) MAXS (60) TARGETS (all of the above) XINETD INETD
source "$(dirname "$0")/lib.sh"
XINETD=${XINETD:-/tmp/soad-peers/root/usr/sbin/xinetd}
INETD=${INETD:-/tmp/soad-peers/root/usr/sbin/inetd}
need "$SOAD" "$XINETD" "$INETD"
build_helper connbench -pthread
build_helper echo1 -static
build_helper ref_super

P=${NOWAIT_PORT:-21130}
ROUNDS=${ROUNDS:-3}
SEQ_N=${SEQ_N:-2000}
PAR_N=${PAR_N:-4000}
PAR_C=${PAR_C:-8}
MAXS=${MAXS:-60}
read -ra TARGETS <<<"${TARGETS:-soad soad-wrap inetd inetd-l xinetd xinetd-nowrap ref-fork ref-spawn}"
RAW=$RES/nowait.tsv
C=$WORK/conf
ECHO1=$BIN/echo1
require_free $(seq "$P" $((P + 7)))

cat >"$C/nowait.conf" <<EOF
service soad {
	mode = nowait
	tcpwrap = no
	listen = { "127.0.0.1:$P" }
	server = "$ECHO1"
	args = { "echo1" }
}
service soad-wrap {
	mode = nowait
	tcpwrap = yes
	listen = { "127.0.0.1:$((P + 1))" }
	server = "$ECHO1"
	args = { "echo1" }
}
EOF
printf '127.0.0.1:\n%d\tstream\ttcp4\tnowait\troot\t%s\techo1\n' $((P + 2)) "$ECHO1" >"$C/nowait-inetd.conf"
printf '127.0.0.1:\n%d\tstream\ttcp4\tnowait\troot\t%s\techo1\n' $((P + 3)) "$ECHO1" >"$C/nowait-inetd-l.conf"
xsvc() { # name port [flags]
	printf 'service %s\n{\n\ttype = UNLISTED\n\tsocket_type = stream\n\tprotocol = tcp\n\twait = no\n\tuser = root\n\tbind = 127.0.0.1\n\tport = %d\n\tserver = %s\n%s}\n' \
		"$1" "$2" "$ECHO1" "${3:+	flags = $3
}"
}
{
	printf 'defaults\n{\n\tinstances = UNLIMITED\n\tper_source = UNLIMITED\n\tcps = 1000000 1\n\tlog_type = FILE %s\n\tlog_on_success =\n\tlog_on_failure =\n}\n' "$WORK/log/nowait-xinetd-svc.log"
	xsvc soad-bench-nw $((P + 4))
	xsvc soad-bench-nw-nowrap $((P + 5)) NOLIBWRAP
} >"$C/nowait-xinetd.conf"

declare -A PORT PID
start_soad nowait "$C/nowait.conf"
PORT[soad]=$P; PID[soad]=$SOAD_PID
PORT[soad-wrap]=$((P + 1)); PID[soad-wrap]=$SOAD_PID
start_bg nowait-inetd "$INETD" -i -R 100000000 -q 1024 "$C/nowait-inetd.conf"
PORT[inetd]=$((P + 2)); PID[inetd]=$LAST_PID
start_bg nowait-inetd-l "$INETD" -i -l -R 100000000 -q 1024 "$C/nowait-inetd-l.conf"
PORT[inetd-l]=$((P + 3)); PID[inetd-l]=$LAST_PID
start_bg nowait-xinetd "$XINETD" -dontfork -f "$C/nowait-xinetd.conf" -filelog "$WORK/log/nowait-xinetd-daemon.log"
PORT[xinetd]=$((P + 4)); PID[xinetd]=$LAST_PID
PORT[xinetd-nowrap]=$((P + 5)); PID[xinetd-nowrap]=$LAST_PID
start_bg nowait-ref-fork "$BIN/ref_super" fork $((P + 6)) "$ECHO1"
PORT[ref-fork]=$((P + 6)); PID[ref-fork]=$LAST_PID
start_bg nowait-ref-spawn "$BIN/ref_super" spawn $((P + 7)) "$ECHO1"
PORT[ref-spawn]=$((P + 7)); PID[ref-spawn]=$LAST_PID
for t in "${TARGETS[@]}"; do
	wait_for 10 listening "${PORT[$t]}" || die "$t did not listen on ${PORT[$t]}"
done
for t in "${TARGETS[@]}"; do	# sanity and warm-up (pages the binaries in)
	res=$("$BIN/connbench" 127.0.0.1 "${PORT[$t]}" 20 1 10)
	grep -q '"errors":0' <<<"$res" || die "warm-up failed for $t: $res"
done
fds0=$(ls "/proc/$SOAD_PID/fd" | wc -l)


log "nowait: $(machine_info), $ROUNDS rounds; seq $SEQ_N, par $PAR_N x $PAR_C"
printf 'test\tdesc\ttarget\tround\tconns\terrors\tcps\tp50_us\tp99_us\tmaster_ticks\tclk_tck\tloadavg\n' >"$RAW"
for round in $(seq "$ROUNDS"); do
	for t in seq par; do
		if [ "$t" = seq ]; then n=$SEQ_N; c=1; desc="$SEQ_N sequential connections (connect, 16 B echo, wait for the service to exit)"
		else n=$PAR_N; c=$PAR_C; desc="$PAR_N connections, $PAR_C clients in parallel"; fi
		while read -r tg; do
			c0=$(own_ticks "${PID[$tg]}")
			res=$(timeout $((MAXS + 30)) "$BIN/connbench" 127.0.0.1 "${PORT[$tg]}" "$n" "$c" "$MAXS" | sed -n 's/^CBJSON //p')
			sleep 0.3	# the last children are reaped
			c1=$(own_ticks "${PID[$tg]}")
			[ -n "$res" ] || die "connbench gave no result for $t/$tg"
			row=$("$PY" -c 'import json,sys; c=json.loads(sys.argv[1]); print("%d\t%d\t%.1f\t%.1f\t%.1f" % (c["conns"], c["errors"], c["cps"], c["p50_us"], c["p99_us"]))' "$res")
			printf '%s\t%s\t%s\t%d\t%s\t%d\t%d\t%s\n' "$t" "$desc" "$tg" "$round" "$row" \
				$((c1 - c0)) "$CLK_TCK" "$(cut -d' ' -f1 /proc/loadavg)" >>"$RAW"
			log "round $round $t $tg: $(cut -f3 <<<"$row") conn/s, errors $(cut -f2 <<<"$row"), master +$((c1 - c0)) ticks"
			sleep 0.5
		done < <(rotate $((round - 1)))
	done
done
sleep 2
fds1=$(ls "/proc/$SOAD_PID/fd" | wc -l)
kids=$(pgrep -P "$SOAD_PID" | wc -l)

{
	echo "### nowait: connections per second (a process per connection)"
	echo
	echo "\`SOAD=$SOAD ROUNDS=$ROUNDS SEQ_N=$SEQ_N PAR_N=$PAR_N PAR_C=$PAR_C bench/nowait.sh\`, ports $P-$((P + 7)), $(machine_info)"
	echo
	"$PY" "$BENCH/report.py" nowait "$RAW"
	echo
	echo "soad master: fds $fds0 -> $fds1 (2 s after the last run), $kids children left;" \
		"log lines other than start notices: $(grep -vcE 'started with|file descriptor limit' "$SOAD_LOG")"
	grep -vE 'started with|file descriptor limit' "$SOAD_LOG" | sed -E 's/[0-9]+/N/g' | sort | uniq -c | sort -rn | head -5 | sed 's/^/    /'
	echo; echo "loadavg at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$RES/nowait.md"
