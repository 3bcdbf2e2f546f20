#!/usr/bin/env bash
# The dashboard's memory as a person uses it: `reelmatch tui` on LIBRARY in tmux, the Query
# pane, then Enter on QUERIES different videos; after each step the process's resident memory
# from /proc (anonymous = private, file-backed = mapped store pages and the binary), and the
# stored vectors' size beside it. The figures the docs quote for "memory while the dashboard
# is open".
#
# usage: scripts/dashboard-memory.sh LIBRARY [QUERIES] [BINARY]
#   QUERIES defaults to 6; BINARY to target/release/reelmatch (build it with cargo build --release).
# Needs tmux. Prints a table; the library is only read.
set -euo pipefail
lib="${1:?usage: scripts/dashboard-memory.sh LIBRARY [QUERIES] [BINARY]}"
queries="${2:-6}"
bin="${3:-$(dirname "$0")/../target/release/reelmatch}"
[ -x "$bin" ] || { echo "dashboard-memory: no binary at $bin (cargo build --release)" >&2; exit 1; }
[ -f "$lib/catalog.sqlite" ] || { echo "dashboard-memory: no library at $lib" >&2; exit 1; }
command -v tmux >/dev/null || { echo "dashboard-memory: tmux is required (apt-get install tmux)" >&2; exit 1; }
session="reelmatch-memory-$$"
tmux new-session -d -s "$session" -x 120 -y 36 "$(printf '%q ' "$bin" --library "$lib" --offline --graphics halfblocks tui)"
trap 'tmux kill-session -t "$session" 2>/dev/null || true' EXIT
pane_pid="$(tmux display-message -p -t "$session" '#{pane_pid}')"
# tmux starts the command through a shell, which may or may not exec it.
pid="$(pgrep -P "$pane_pid" -x reelmatch || echo "$pane_pid")"
screen() { tmux capture-pane -p -t "$session"; }
wait_for() { # text seconds
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    screen | grep -qF -- "$1" && return 0
    sleep 0.1
  done
  echo "dashboard-memory: waited $2 s for \"$1\"; the screen:" >&2; screen >&2; exit 1
}
kib() { awk -v k="$1" '$1 == k":" { print $2 }' "/proc/$pid/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.0f MiB", k / 1024 }'; }
row() {
  printf '| %s | %s | %s | %s |\n' "$1" "$(mib "$(kib VmRSS)")" "$(mib "$(kib RssAnon)")" "$(mib "$(kib RssFile)")"
}
wait_for "Library" 60
sleep 1
stored="$(find "$lib" -name '*.f16' -printf '%s\n' 2>/dev/null | awk '{ s += $1 } END { printf "%.2f GB", s / 1e9 }')"
echo "reelmatch tui on $lib ($(date -u +%F), $(nproc) cores; stored vectors: $stored)"
echo
echo "| after | resident | anonymous (private) | file-backed |"
echo "|---|---|---|---|"
row "start"
tmux send-keys -t "$session" 3
wait_for "Query:" 30
title() { screen | grep -o 'Most similar to [^(│]*' | head -n1 || true; }
for ((q = 1; q <= queries; q++)); do
  before="$(title)"
  tmux send-keys -t "$session" Enter
  for ((i = 0; i < 6000; i++)); do
    now="$(title)"
    [ -n "$now" ] && [ "$now" != "$before" ] && break
    sleep 0.1
  done
  [ -n "$now" ] && [ "$now" != "$before" ] || { echo "dashboard-memory: query $q gave no new answer" >&2; screen >&2; exit 1; }
  sleep 0.5
  row "query $q (${now#Most similar to })"
  tmux send-keys -t "$session" Down
  sleep 0.2
done
