#!/usr/bin/env bash
# run_all.sh - every soad benchmark, one after another (~8 minutes), then one
# markdown report in $SOAD_BENCH_WORK/results/results.md (default
# /tmp/soad-bench).  Knobs of the parts pass through (REPS, ROUNDS,
# DURATION, IDLE_S, ...; see README.md).  Builds soad if it is missing and
# installs wrk if it is missing.
source "$(dirname "$0")/lib.sh"

if [ ! -x "$SOAD" ] || [ ! -x "$FDSERVER" ]; then
	log "building soad and tests/fdserver"
	(cd "$BENCH/.." && flock /tmp/soad-build.lock make -s check-programs)
fi
command -v wrk >/dev/null || apt-get install -y wrk >/dev/null
[ -x "$SDACT" ] || log "note: $SDACT missing (Debian package systemd); cold.sh and idle.sh need it"

# Snapshot the binaries: the tree is rebuilt by others while we run.
ORIG_SOAD=$SOAD ORIG_FDSERVER=$FDSERVER
cp "$SOAD" "$BIN/soad.snap"; cp "$FDSERVER" "$BIN/fdserver.snap"
export SOAD=$BIN/soad.snap FDSERVER=$BIN/fdserver.snap

OUT=$RES/results.md
{
	echo "## Run of $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	echo "- machine: $(machine_info), $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
	echo "- soad: copy of $ORIG_SOAD (md5 $(md5sum <"$SOAD" | cut -c1-12), $(stat -c %y "$ORIG_SOAD" | cut -d. -f1); tree at $(cd "$BENCH/.." && git rev-parse --short HEAD 2>/dev/null || echo '?')$(cd "$BENCH/.." && git diff --quiet HEAD -- src 2>/dev/null || echo ' + uncommitted changes in src/')), fdserver: copy of $ORIG_FDSERVER"
	echo "- $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2), $("$SDACT" --version | head -1), $("$PY" -V)"
	echo
} >"$OUT"
for part in cold warm idle; do
	t0=$(date +%s)
	"$BENCH/$part.sh"
	{ cat "$RES/$part.md"; echo; echo "_($part.sh took $(( $(date +%s) - t0 )) s)_"; echo; } >>"$OUT"
done
echo "- loadavg at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT"
log "report: $OUT"
