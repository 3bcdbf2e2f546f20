#!/usr/bin/env bash
# Parity and pace of a CUDA build against the CPU: every role (ResNet-50 image vectors, BERT text
# vectors, a Whisper transcript) run on two devices with the same inputs, compared, and timed.
#
# usage:
#   scripts/gpu-check.sh prepare BUNDLE
#       (where the test assets and ffmpeg are) writes BUNDLE/: the text and speech models from
#       the test assets, 16 video frames as JPEG, up to 60 s of espeak-ng speech as 16 kHz f32 PCM and
#       a few lyric lines; small enough to carry to a GPU machine that has neither.
#   scripts/gpu-check.sh run BINARY BUNDLE [DEVICE_A [DEVICE_B]]
#       runs `BINARY models check` on DEVICE_A (default cpu) and DEVICE_B (default cuda:0), writes
#       BUNDLE/report.md (a Markdown table) and exits non-zero unless: image and text vectors have
#       cosine ≥ 0.9999 per input, and the transcripts' word error rate against each other ≤ 0.02.
#   scripts/gpu-check.sh compare A.json B.json REPORT.md
#       only the comparison, of two `models check` reports.
#   GPU_CHECK_BATCHES  batch sizes to time (default 1,8,32,128)
# The image model is the configured one, else a seeded random ResNet-50 (the same weights on
# every machine: parity does not need trained ones).
set -euo pipefail
say() { echo "gpu-check: $*" >&2; }
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

prepare() {
  local bundle="$1" assets
  assets="${REELMATCH_TEST_ASSETS:-$("$here/prepare-test-assets.sh" | tail -n1)}"
  mkdir -p "$bundle/models" "$bundle/frames"
  cp -r "$assets/models/all-minilm-l6-v2" "$assets/models/whisper-tiny.en" "$bundle/models/"
  local v
  for v in bigbuckbunny bikes; do
    ffmpeg -nostdin -loglevel error -y -i "$assets/videos/$v.mp4" -vf "fps=1.6" -frames:v 8 -q:v 3 \
      "$bundle/frames/$v-%02d.jpg"
  done
  local lines="$bundle/lyrics.txt"
  cat >"$lines" <<'EOF'
I was walking down the road at night, the city lights were shining bright.
Hold me closer, never let me go, dancing in the dark and moving slow.
We are the champions of the summer, singing loud above the thunder.
The river runs forever to the sea, and every wave is calling me.
EOF
  local speech
  speech="$(tr '\n' ' ' <"$lines")"
  speech="$speech $speech $speech"
  espeak-ng -s 150 -w "$bundle/speech.wav" "$speech"
  ffmpeg -nostdin -loglevel error -y -i "$bundle/speech.wav" -t 60 -ac 1 -ar 16000 -f f32le "$bundle/speech.pcm"
  rm -f "$bundle/speech.wav"
  say "bundle ready: $(du -sh "$bundle" | cut -f1) in $bundle"
}

check_on() { # binary bundle device out
  local bin="$1" bundle="$2" dev="$3" out="$4" texts=()
  while IFS= read -r line; do texts+=("$line"); done <"$bundle/lyrics.txt"
  "$bin" --offline --device "$dev" \
    --text-model "$bundle/models/all-minilm-l6-v2" --speech-model "$bundle/models/whisper-tiny.en" \
    models check --images "$bundle"/frames/*.jpg --text "${texts[@]}" --audio "$bundle/speech.pcm" \
    --batches "${GPU_CHECK_BATCHES:-1,8,32,128}" --out "$out"
}

run() {
  local bin="$1" bundle="$2" a="${3:-cpu}" b="${4:-cuda:0}"
  check_on "$bin" "$bundle" "$a" "$bundle/check-a.json"
  check_on "$bin" "$bundle" "$b" "$bundle/check-b.json"
  compare "$bundle/check-a.json" "$bundle/check-b.json" "$bundle/report.md"
}

compare() { # a.json b.json report.md
  local gpu=""
  gpu="$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -n1 || true)"
  python3 - "$1" "$2" "$3" "$gpu" <<'PY'
import json, math, sys, datetime
a, b = (json.load(open(p)) for p in sys.argv[1:3])
out, gpu = sys.argv[3], sys.argv[4]

def cos(u, v):
    dot = sum(x * y for x, y in zip(u, v))
    nu, nv = math.sqrt(sum(x * x for x in u)), math.sqrt(sum(y * y for y in v))
    return dot / (nu * nv) if nu and nv else (1.0 if nu == nv else 0.0)

def wer(ref, hyp):
    r, h = ref.lower().split(), hyp.lower().split()
    d = list(range(len(h) + 1))
    for i, rw in enumerate(r, 1):
        prev, d[0] = d[0], i
        for j, hw in enumerate(h, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (rw != hw))
    return d[len(h)] / max(len(r), 1)

ok, lines = True, []
da, db = a["device"], b["device"]
lines.append(f"reelmatch models check, {da} against {db}" + (f" ({gpu})" if gpu else "") + f", {datetime.date.today()}")
lines.append("")
lines.append("| role | parity | " + da + " | " + db + " | ratio |")
lines.append("|---|---|---|---|---|")
for role in ("image", "text", "speech"):
    if (role in a) != (role in b):
        missing = db if role in a else da
        lines.append(f"| {role} | missing on {missing} FAIL | | | |")
        ok = False
for role, unit in (("image", "images/s"), ("text", "documents/s")):
    if role not in a or role not in b:
        continue
    cs = [cos(u, v) for u, v in zip(a[role]["vectors"], b[role]["vectors"])]
    worst = min(cs)
    good = worst >= 0.9999 and len(cs) == len(a[role]["vectors"]) > 0
    ok &= good
    rates_b = {r["batch"]: r["per_s"] for r in b[role]["rates"]}
    for r in a[role]["rates"]:
        rb = rates_b.get(r["batch"])
        ratio = f"{rb / r['per_s']:.2f}×" if rb else "—"
        lines.append(f"| {role} batch {r['batch']} | min cosine {worst:.6f} {'ok' if good else 'FAIL'} | "
                     f"{r['per_s']:.1f} {unit} | {rb:.1f} {unit} | {ratio} |")
if "speech" in a and "speech" in b:
    w = wer(a["speech"]["text"], b["speech"]["text"])
    good = w <= 0.02
    ok &= good
    ra, rb = a["speech"]["real_time_factor"], b["speech"]["real_time_factor"]
    lines.append(f"| speech ({a['speech']['audio_seconds']:.0f} s) | WER {w:.3f} {'ok' if good else 'FAIL'} | "
                 f"{ra:.1f}× real time | {rb:.1f}× real time | {rb / ra:.2f}× |")
lines.append("")
lines.append("PASS" if ok else "FAIL")
open(out, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
sys.exit(0 if ok else 1)
PY
}

case "${1:-}" in
  prepare) [ $# -eq 2 ] || { say "usage: gpu-check.sh prepare BUNDLE"; exit 2; }; prepare "$2" ;;
  run) [ $# -ge 3 ] || { say "usage: gpu-check.sh run BINARY BUNDLE [DEVICE_A [DEVICE_B]]"; exit 2; }; shift; run "$@" ;;
  compare) [ $# -eq 4 ] || { say "usage: gpu-check.sh compare A.json B.json REPORT.md"; exit 2; }; shift; compare "$@" ;;
  *) say "usage: gpu-check.sh prepare BUNDLE | run BINARY BUNDLE [DEVICE_A [DEVICE_B]] | compare A.json B.json REPORT.md"; exit 2 ;;
esac
