#!/usr/bin/env bash
# cold_scale.sh - cold activation (connect -> first byte) of the C server
# (tests/fdserver) through two soad builds, each with 0 and with OTHERS
# other services configured, against systemd-socket-activate (which execs
# in place), all in the same run.
#
# Four soad masters run for the whole part, each with timeout = 1 and the
# service "c" on its own port; the "OTHERS" variants also have OTHERS idle
# services on UNIX sockets (never started: they only make the master
# bigger, in fds, memory and page tables).  sd-activate is spawned per
# measurement by coldstart (as in cold.sh).  Each repetition runs the five
# targets in an order rotated per repetition, each after an idle pause of
# IDLE_MS; after a soad measurement the script waits for "c: pid N
# stopped", so every repetition is really cold.  Ratios vs sd-activate are
# per repetition (same repetition), then the median.  The master's own CPU
# time from connect to first byte (/proc/PID/schedstat, ns) is what the
# activation costs it: arrival, pipe, spawn.
#
# env: SOAD (the build under test), SOAD_BEFORE (the build to compare;
# optional), FDSERVER, COLD_PORT (21060; uses +0..+4), REPS (20),
# IDLE_MS (200), OTHERS (1000)
source "$(dirname "$0")/lib.sh"
SOAD_BEFORE=${SOAD_BEFORE:+$(realpath -m "$SOAD_BEFORE")}
need "$SOAD" "$FDSERVER" "$SDACT" "$PY" ${SOAD_BEFORE:+"$SOAD_BEFORE"}

P=${COLD_PORT:-21060}
REPS=${REPS:-20}
IDLE_MS=${IDLE_MS:-200}
OTHERS=${OTHERS:-1000}
RAW=$RES/cold_scale.tsv
Q=$((P + 4))                      # systemd-socket-activate
require_free "$P" $((P + 1)) $((P + 2)) $((P + 3)) "$Q"

declare -A BUILD=([after]="$SOAD")
[ -n "$SOAD_BEFORE" ] && BUILD[before]=$SOAD_BEFORE
declare -A PORT LOGF MASTER
TARGETS=()
k=0
for b in before after; do
	[ -n "${BUILD[$b]:-}" ] || { k=$((k + 2)); continue; }
	for n in 0 "$OTHERS"; do
		t="soad-$b-$n"
		PORT[$t]=$((P + k)); k=$((k + 1))
		dir=$WORK/cold_scale/$t
		rm -rf "$dir"; mkdir -p "$dir"
		{
			echo "timeout = 1"
			printf 'service c {\n\tlisten = { "127.0.0.1:%d" }\n\tserver = "%s"\n}\n' \
				"${PORT[$t]}" "$FDSERVER"
			for ((i = 0; i < n; i++)); do
				printf 'service o%d {\n\tlisten = { "%s/o%d.sock" }\n\tserver = "%s"\n}\n' \
					"$i" "$dir" "$i" "$FDSERVER"
			done
		} >"$dir/soad.conf"
		start_bg "cold_scale-$t" "${BUILD[$b]}" -d -f "$dir/soad.conf"
		MASTER[$t]=$LAST_PID
		LOGF[$t]=$WORK/log/cold_scale-$t.log
		wait_for 60 log_has "${LOGF[$t]}" 'started with [0-9]+ service' 1 ||
			die "soad $t did not start: $(tail -5 "${LOGF[$t]}")"
		TARGETS+=("$t")
	done
done
TARGETS+=(sd-activate)
NT=${#TARGETS[@]}
CLOG=$WORK/log/cold_scale-spawned.log
: >"$CLOG"

log "cold_scale: $(machine_info), $REPS reps, targets ${TARGETS[*]}"
masters=$(for t in "${TARGETS[@]}"; do
	[ "$t" = sd-activate ] && continue
	printf '%s VmRSS=%s kB VmPTE=%s kB fds=%s; ' "$t" \
		"$(status_field "${MASTER[$t]}" VmRSS)" \
		"$(status_field "${MASTER[$t]}" VmPTE)" \
		"$(ls "/proc/${MASTER[$t]}/fd" | wc -l)"
done)
log "masters: $masters"
# CPU time a process has run, in us (schedstat: ns, not clock ticks).
run_us() { awk '{printf "%d", $1 / 1000}' "/proc/$1/schedstat"; }
printf 'target\trep\tcold_us\twarm_us\tmaster_cpu_us\n' >"$RAW"
for rep in $(seq "$REPS"); do
	for ((j = 0; j < NT; j++)); do
		t=${TARGETS[$(( (rep + j) % NT ))]}
		cpu=
		if [ "$t" = sd-activate ]; then
			out=$(timeout 60 "$BIN/coldstart" activate "$Q" "$IDLE_MS" -- \
				"$SDACT" -l "127.0.0.1:$Q" "$FDSERVER" 2>>"$CLOG") ||
				die "sd-activate failed: $(tail -3 "$CLOG")"
		else
			n=$(count_log "${LOGF[$t]}" '^soad: c: pid [0-9]+ stopped')
			sleep "$(awk -v m="$IDLE_MS" 'BEGIN {print m / 1000}')"
			cpu0=$(run_us "${MASTER[$t]}")
			out=$("$BIN/coldstart" once "${PORT[$t]}") || die "$t failed"
			cpu=$(( $(run_us "${MASTER[$t]}") - cpu0 ))
			wait_for 15 log_has "${LOGF[$t]}" '^soad: c: pid [0-9]+ stopped' $((n + 1)) ||
				die "$t did not stop c: $(tail -3 "${LOGF[$t]}")"
		fi
		eval "$out"    # cold_us= warm_us= listen_us=
		printf '%s\t%d\t%s\t%s\t%s\n' "$t" "$rep" "$cold_us" "$warm_us" "$cpu" >>"$RAW"
	done
	log "rep $rep/$REPS done"
done

{
	echo "### Cold activation vs the master's size"
	echo
	echo "\`SOAD=$SOAD${SOAD_BEFORE:+ SOAD_BEFORE=$SOAD_BEFORE} FDSERVER=$FDSERVER REPS=$REPS IDLE_MS=$IDLE_MS OTHERS=$OTHERS bench/cold_scale.sh\`, ports $P-$Q, $(machine_info)"
	echo
	echo "masters before the run: $masters"
	echo
	"$PY" - "$RAW" <<'EOF'
import csv, statistics, sys
from collections import defaultdict
by, cpu = defaultdict(dict), defaultdict(list)
for r in csv.DictReader(open(sys.argv[1]), delimiter="\t"):
    by[r["target"]][int(r["rep"])] = float(r["cold_us"]) / 1e3
    if r["master_cpu_us"]:
        cpu[r["target"]].append(float(r["master_cpu_us"]))
sd = by["sd-activate"]
print("| target | n | cold median ms | min | max | per-rep ratio vs sd-activate: median | quartiles | master CPU us, connect to first byte, median |")
print("|---|---:|---:|---:|---:|---:|---|---:|")
for t in sorted(by, key=lambda t: (t == "sd-activate", t)):
    c = list(by[t].values())
    rat = sorted(by[t][k] / sd[k] for k in by[t] if k in sd)
    q = statistics.quantiles(rat, n=4) if len(rat) > 1 else rat * 3
    mc = f"{statistics.median(cpu[t]):.0f}" if cpu[t] else "-"
    print(f"| {t} | {len(c)} | {statistics.median(c):.2f} | {min(c):.2f} | "
          f"{max(c):.2f} | {statistics.median(rat):.3f} | {q[0]:.2f}-{q[2]:.2f} | {mc} |")
print()
print("Cost of the other services: per-rep difference (OTHERS minus 0), median:")
print()
for b in ("before", "after"):
    ts = sorted(t for t in by if t.startswith("soad-%s-" % b))
    if len(ts) != 2:
        continue
    small, big = sorted(ts, key=lambda t: int(t.rsplit("-", 1)[1]))
    d = [by[big][k] - by[small][k] for k in by[big] if k in by[small]]
    print(f"* {b}: {statistics.median(d):+.2f} ms ({big} vs {small})")
if all(f"soad-{b}-0" in by for b in ("before", "after")):
    print()
    print("after / before, per-rep ratio, median:")
    print()
    for n in sorted({t.rsplit("-", 1)[1] for t in by if t.startswith("soad-")}, key=int):
        a, b = by[f"soad-after-{n}"], by[f"soad-before-{n}"]
        print(f"* {n} other services: {statistics.median([a[k] / b[k] for k in a if k in b]):.3f}")
EOF
	echo; echo "loadavg at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$RES/cold_scale.md"
