#!/usr/bin/env bash
# Runs one command and prints how long it took, its CPU time and its peak memory: the figures the docs quote
# for a single reelmatch command (`scripts/peak.sh reelmatch eval --json`).
#
# usage: scripts/peak.sh COMMAND [ARGS...]
# The command's own output goes where it would; the last line printed (on stderr) is
#   peak: wall 12.34 s, peak RSS 567 MiB (reelmatch's own process)
#   cpu: 50.10 user, 2.31 system (the command and the children it waited for, ffmpeg included)
# For reelmatch the peak is its own process's (it reports it when REELMATCH_PEAK_RSS is set),
# not that of the ffmpeg processes it starts; for any other command it is the largest of the
# command and the children it waited for (getrusage, as GNU time reports it).
# The exit status is the command's.
set -uo pipefail
[ $# -ge 1 ] || { echo "usage: scripts/peak.sh COMMAND [ARGS...]" >&2; exit 2; }
err="$(mktemp)"
trap 'rm -f "$err"' EXIT
REELMATCH_PEAK_RSS=1 python3 - "$@" 2>"$err" <<'PY'
import resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:])
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"children peak RSS: {usage.ru_maxrss} KiB", file=sys.stderr)
print(f"cpu seconds: {usage.ru_utime:.2f} user, {usage.ru_stime:.2f} system", file=sys.stderr)
print(f"wall seconds: {wall}", file=sys.stderr)
sys.exit(done.returncode if done.returncode >= 0 else 128 - done.returncode)
PY
status=$?
# The command's own stderr, less the lines the measurement added.
grep -v -e '^reelmatch peak RSS: ' -e '^children peak RSS: ' -e '^wall seconds: ' -e '^cpu seconds: ' "$err" >&2
cpu="$(grep '^cpu seconds: ' "$err" | tail -n1 | cut -d' ' -f3-)"
wall="$(grep '^wall seconds: ' "$err" | tail -n1 | cut -d' ' -f3)"
own="$(grep '^reelmatch peak RSS: ' "$err" | tail -n1 | sed 's/[^0-9]//g')"
if [ -n "$own" ]; then
  kib="$own"; whose="reelmatch's own process"
else
  kib="$(grep '^children peak RSS: ' "$err" | tail -n1 | sed 's/[^0-9]//g')"; whose="the command and its children, largest"
fi
awk -v t="${wall:-0}" -v k="${kib:-0}" -v w="$whose" \
  'BEGIN { printf "peak: wall %.2f s, peak RSS %.0f MiB (%s)\n", t, k / 1024, w }' >&2
echo "cpu: $cpu (the command and the children it waited for, ffmpeg included)" >&2
exit "$status"
