#!/usr/bin/env bash
# Where a command's CPU time goes: runs it under `perf record` and prints the symbols that take
# the largest shares (the profile shares the docs quote, e.g. "gemm 62 %").
#
# usage: scripts/profile.sh [-n TOP] COMMAND [ARGS...]
#   TOP defaults to 15. Needs perf (Debian: apt-get install linux-perf) and a release build with
#   symbols (Cargo.toml keeps debug = 1 for release). The command's own output goes where it would.
set -euo pipefail
top=15
if [ "${1:-}" = "-n" ]; then top="$2"; shift 2; fi
[ $# -ge 1 ] || { echo "usage: scripts/profile.sh [-n TOP] COMMAND [ARGS...]" >&2; exit 2; }
command -v perf >/dev/null || { echo "profile: perf is required (apt-get install linux-perf)" >&2; exit 1; }
data="$(mktemp)"
trap 'rm -f "$data"' EXIT
perf record -q -g -o "$data" -- "$@"
echo "profile of: $*" >&2
perf report -i "$data" --no-children --sort symbol --stdio --percent-limit 0.5 2>/dev/null \
  | grep -E '^ +[0-9.]+%' | head -n "$top"
