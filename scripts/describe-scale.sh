#!/bin/bash
# A description's query at scale (issue 41): a synthetic library of 250 frames a video in
# SigLIP 2 base's width (768), stored as the vision-text model's vectors, then, as a person runs
# them, new processes taking turns: `similar --describe TEXT --json` (loading the model, embedding
# the words, scanning every frame) and `similar TITLE --space vision-text --json` (a video's query
# in the same space, the yardstick). The model is SigLIP at siglip2-base's sizes with random
# weights in its layout (tests/reference/vision_text.py --write siglip-base): its cost does not
# depend on the values.
#
# usage: scripts/describe-scale.sh            (400 videos: 100,000 frames)
#        VIDEOS=4000 scripts/describe-scale.sh (1,000,000 frames; about 3 GB of disk)
# Then the dashboard's Enter on a description, as its query job runs it (the library kept open),
# beside a video's Enter in the same space (examples/dashboard_describe.rs).
# BIN=path/to/reelmatch picks the binary (default target/debug/reelmatch); KEEP=1 keeps the work
# folder. Needs `cargo build --bin reelmatch --example synth_library --example dashboard_describe` first.
set -euo pipefail
cd "$(dirname "$0")/.."
videos="${VIDEOS:-400}"
rounds="${ROUNDS:-5}"
bin="${BIN:-target/debug/reelmatch}"
synth="${SYNTH:-target/debug/examples/synth_library}"
dashboard="${DASHBOARD:-target/debug/examples/dashboard_describe}"
work="$(mktemp -d)"
if [ -n "${KEEP:-}" ]; then echo "keeping $work" >&2; else trap 'rm -rf "$work"' EXIT; fi

python3 tests/reference/vision_text.py --write siglip-base "$work/siglip"
model=(--offline --vision-text-model "$work/siglip")
key="$("$bin" "${model[@]}" embed text "x" --role vision-text --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["model"])')"
"$synth" --videos "$videos" --frames-per-video 250 --dim 768 --library "$work/lib" --model "$key" >&2
"$bin" --library "$work/lib" "${model[@]}" index update >&2

seconds() {
  local start end
  start=$(date +%s.%N)
  "$@" > "$work/out.json"
  end=$(date +%s.%N)
  echo "$end - $start" | bc
}
describe=()
video=()
for _ in $(seq "$rounds"); do
  describe+=("$(seconds "$bin" --library "$work/lib" "${model[@]}" similar --describe "dark blue background with neon colours" --json)")
  python3 -c "import json; d = json.load(open('$work/out.json')); assert d['space'] == 'vision-text' and len(d['results']) > 0, d['space']"
  video+=("$(seconds "$bin" --library "$work/lib" "${model[@]}" similar "Synthetic 00001" --space vision-text --json)")
done
range() { printf '%s\n' "$@" | sort -n | awk 'NR==1{lo=$1} {hi=$1} END {printf "%.2f–%.2f s", lo, hi}'; }
frames=$((videos * 250))
echo "$frames frames of 768 dimensions, $rounds rounds alternated, new processes:"
echo "  similar --describe TEXT --json:                 $(range "${describe[@]}")"
echo "  similar TITLE --space vision-text --json:       $(range "${video[@]}")"
"$dashboard" "$work/lib" "$work/siglip" "$rounds"
