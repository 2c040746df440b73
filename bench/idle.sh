#!/usr/bin/env bash
# idle.sh - idle cost of the master with 1, 100 and 1000 services (each a
# TCP listener on 127.0.0.1, server tests/fdserver, never activated), and of
# systemd-socket-activate holding 1 and 100 listeners, measured in the same
# run.  Window 1 runs soad x1, soad x100, sd-activate x1, sd-activate x100
# side by side (idle processes do not disturb each other; each is measured
# on its own /proc entries); window 2 runs soad x1000 alone, since 1000 ports
# fill the bench range.  Ports: the first free ones from IDLE_PORT up
# (21000-21999; a port in use is skipped, so the range may spill above).
#
# Per daemon: start time (spawn -> soad's "started with N services" line, or
# -> all N sockets listening for systemd-socket-activate; 10 ms polling),
# then after a 2 s settle VmRSS, Pss and Private (smaps_rollup), open fds,
# and over IDLE_S seconds the voluntary+nonvoluntary context switches
# (= wake-ups; an idle master should have none) and CPU ticks.  If a process
# woke up, `strace -c` is attached for STRACE_S seconds to show why.
#
# env: SOAD FDSERVER IDLE_PORT (21000) IDLE_S (60) STRACE_S (10)
source "$(dirname "$0")/lib.sh"
need "$SOAD" "$FDSERVER" "$SDACT"

BASE=${IDLE_PORT:-21000}
IDLE_S=${IDLE_S:-60}
STRACE_S=${STRACE_S:-10}
RAW=$RES/idle.tsv
rm -f "$RES"/idle-strace-*.txt
printf 'daemon\tservices\tlistening\tstart_ms\trss_kb\tpss_kb\tprivate_kb\tfds\tidle_s\tctxsw\tcpu_ticks\tactivated\n' >"$RAW"

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
nlisten() { ss -Hltnp | grep -c "pid=$1," || true; }

# launch KIND N PORTS... : start one daemon, wait until ready; appends to D_*.
D_NAME=(); D_PID=(); D_N=(); D_START=()
launch() {
	local kind=$1 n=$2 name pid t0 p conf i; shift 2
	name=idle-$kind-$n
	t0=$(now_ms)
	if [ "$kind" = soad ]; then
		conf=$WORK/conf/$name.conf
		{
			echo "timeout = 1"
			i=0
			for p in "$@"; do
				printf 'service s%d {\n\tlisten = { "127.0.0.1:%d" }\n\tserver = "%s"\n}\n' \
					"$i" "$p" "$FDSERVER"
				i=$((i + 1))
			done
		} >"$conf"
		t0=$(now_ms)
		start_soad "$name" "$conf"
		pid=$SOAD_PID
	else
		local args=()
		for p in "$@"; do args+=(-l "127.0.0.1:$p"); done
		start_bg "$name" "$SDACT" "${args[@]}" "$FDSERVER"
		pid=$LAST_PID
		wait_for 60 eval '[ "$(nlisten '"$pid"')" -ge '"$n"' ]' || log "$name: not all listening"
	fi
	D_START+=($(( $(now_ms) - t0 )))
	D_NAME+=("$kind"); D_PID+=("$pid"); D_N+=("$n")
}

# measure : settle, sample every daemon started by launch, then stop them.
measure() {
	local i pid v0=() c0=() v1 c1 sw act
	sleep 2
	for i in "${!D_PID[@]}"; do
		v0[i]=$(ctxsw "${D_PID[i]}"); c0[i]=$(cpu_ticks "${D_PID[i]}")
	done
	log "idle window: ${D_NAME[*]} (${D_N[*]} services), $IDLE_S s"
	sleep "$IDLE_S"
	for i in "${!D_PID[@]}"; do
		pid=${D_PID[i]}
		v1=$(ctxsw "$pid"); c1=$(cpu_ticks "$pid")
		sw=$((v1 - v0[i]))
		if [ "${D_NAME[i]}" = soad ]; then
			act=$(count_log "$WORK/log/idle-soad-${D_N[i]}.log" 'started pid')
		else
			[ "$(readlink "/proc/$pid/exe")" = "$SDACT" ] && act=0 || act=1
		fi
		printf '%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n' \
			"${D_NAME[i]}" "${D_N[i]}" "$(nlisten "$pid")" "${D_START[i]}" \
			"$(status_field "$pid" VmRSS)" "$(rollup_field "$pid" Pss)" \
			$(( $(rollup_field "$pid" Private_Clean) + $(rollup_field "$pid" Private_Dirty) )) \
			"$(ls "/proc/$pid/fd" | wc -l)" "$IDLE_S" "$sw" $((c1 - c0[i])) "$act" >>"$RAW"
		log "${D_NAME[i]} x${D_N[i]}: $sw context switches in $IDLE_S s"
		if [ "$sw" -gt 0 ] && command -v strace >/dev/null; then
			timeout -s INT "$STRACE_S" strace -c -p "$pid" -o "$RES/idle-strace-${D_NAME[i]}-${D_N[i]}.txt" 2>/dev/null || true
			log "strace -c of ${D_NAME[i]} x${D_N[i]} for $STRACE_S s: $RES/idle-strace-${D_NAME[i]}-${D_N[i]}.txt"
		fi
	done
	cleanup
	D_NAME=(); D_PID=(); D_N=(); D_START=()
}

log "idle: $(machine_info), $IDLE_S s windows"
read -ra ports <<<"$(free_ports 202 "$BASE")"
[ "${#ports[@]}" = 202 ] || die "not enough free ports from $BASE"
launch soad 1 "${ports[0]}"
launch soad 100 "${ports[@]:1:100}"
launch sd-activate 1 "${ports[101]}"
launch sd-activate 100 "${ports[@]:102:100}"
measure
read -ra ports <<<"$(free_ports 1000 "$BASE")"
[ "${#ports[@]}" = 1000 ] || die "not enough free ports from $BASE"
[ "${ports[999]}" -le 21999 ] || log "note: 1000 services use ports up to ${ports[999]} (some in 21000-21999 were taken)"
launch soad 1000 "${ports[@]}"
measure

{
	echo "### Idle cost (services never activated)"
	echo
	echo "\`SOAD=$SOAD FDSERVER=$FDSERVER IDLE_S=$IDLE_S bench/idle.sh\`, ports from $BASE, $(machine_info)"
	echo
	"$PY" "$BENCH/report.py" idle "$RAW"
	echo; echo "loadavg at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
	for f in "$RES"/idle-strace-*.txt; do
		[ -e "$f" ] || continue
		echo; echo "\`strace -c -p\` for $STRACE_S s, $(basename "$f"):"; echo '```'; cat "$f"; echo '```'
	done
} | tee "$RES/idle.md"
