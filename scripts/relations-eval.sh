#!/usr/bin/env bash
# The generated evaluation of how two videos relate (issue 40): songs made with ffmpeg's audio
# sources (notes, not pure tones) over lavfi pictures, and for each song a re-encoded copy, a
# mirrored copy, an excerpt at a known offset, the same song over other pictures, and an
# unrelated song over the same pictures. All of them are ingested into a new library, and
# `reelmatch dupes --json --threshold T` is scored against the truth: precision and recall per
# relation (copy, excerpt, same_song), the excerpts' offset error, and, beside them, how many
# of the true duplicate pairs (copies and excerpts) the frames alone list.
#
# usage: scripts/relations-eval.sh [REELMATCH_BINARY] [IMAGE_MODEL_DIR]
#   REELMATCH_BINARY defaults to target/release/reelmatch, else target/debug/reelmatch;
#   IMAGE_MODEL_DIR defaults to the test assets' trained ResNet-50
#   ($REELMATCH_TEST_ASSETS/models/resnet50-keras-v1).
# SONGS (default 5) sets how many songs, SECONDS (default 30) their length.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-}"
[ -n "$bin" ] || { [ -x target/release/reelmatch ] && bin=target/release/reelmatch || bin=target/debug/reelmatch; }
assets="${REELMATCH_TEST_ASSETS:-$HOME/.cache/reelmatch-test-assets}"
model="${2:-$assets/models/resnet50-keras-v1}"
songs="${SONGS:-5}"
seconds="${SECONDS_LONG:-30}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
media="$work/media"
mkdir -p "$media"
pictures=(testsrc2 smptebars mandelbrot "life=mold=10:ratio=0.1" "cellauto=rule=110" rgbtestsrc yuvtestsrc)
picture() { # the lavfi source of picture $1, with a size and rate
  local p="${pictures[$1]}"
  case "$p" in *=*) echo "$p:size=160x90:rate=10" ;; *) echo "$p=size=160x90:rate=10" ;; esac
}
tune() { # $1 out, $2 seconds, $3 base Hz, $4 step, $5 picture index
  local note="$3*pow(2,floor(mod(floor(t*2)*$4,12))/12)"
  ffmpeg -hide_banner -loglevel error -y \
    -f lavfi -i "aevalsrc='0.4*sin(2*PI*$note*t)+0.2*sin(2*PI*1.5*$note*t)':s=44100:d=$2" \
    -f lavfi -t "$2" -i "$(picture "$5")" \
    -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -shortest "$1"
}
steps=(7.31 5.17 3.93 8.77 6.29 2.61 9.43 4.47 1.87 7.89)
truth="$work/truth.tsv"
: > "$truth"
echo "making $((songs * 6)) clips of up to $seconds s in $media…" >&2
for ((i = 0; i < songs; i++)); do
  base=$((196 + 23 * i)); step="${steps[$i]}"; other_step="${steps[$((i + songs))]:-1.37}"
  o="song$i"
  tune "$media/$o.mp4" "$seconds" "$base" "$step" "$i"
  ffmpeg -hide_banner -loglevel error -y -i "$media/$o.mp4" -vf scale=128:72 -b:v 120k -c:a aac -b:a 64k "$media/$o copy.mp4"
  ffmpeg -hide_banner -loglevel error -y -i "$media/$o.mp4" -vf hflip -c:a copy "$media/$o mirrored.mp4"
  offset=$((3 + 2 * i))
  ffmpeg -hide_banner -loglevel error -y -ss "$offset" -t 10 -i "$media/$o.mp4" "$media/$o excerpt.mp4"
  tune "$media/$o lyric video.mp4" "$seconds" "$base" "$step" "$(( (i + 2) % ${#pictures[@]} ))"
  tune "$media/$o other song.mp4" "$seconds" $((base + 11)) "$other_step" "$i"
  for v in "$o copy" "$o mirrored"; do printf '%s\t%s\tcopy\t\n' "$o" "$v" >> "$truth"; done
  printf '%s\t%s\tcopy\t\n' "$o copy" "$o mirrored" >> "$truth"
  for v in "$o" "$o copy" "$o mirrored"; do printf '%s\t%s\texcerpt\t%s\n' "$o excerpt" "$v" "$offset" >> "$truth"; done
  printf '%s\t%s\texcerpt\t%s\n' "$o excerpt" "$o lyric video" "$offset" >> "$truth"
  for v in "$o" "$o copy" "$o mirrored"; do printf '%s\t%s\tsame_song\t\n' "$o lyric video" "$v" >> "$truth"; done
done
lib="$work/lib"
config="$work/config.toml"
# Frames shared by many videos are set aside as saying nothing (a shared intro); here each
# picture is in six videos on purpose, so that is turned off to measure the relations.
printf '[models]\noffline = true\n[search.traps]\nset_aside = false\n' > "$config"
echo "ingesting with $bin…" >&2
"$bin" --library "$lib" --config "$config" --image-model "$model" -q ingest "$media" >&2
threshold="${THRESHOLD:-0.95}"
"$bin" --library "$lib" --config "$config" --image-model "$model" -q dupes --all --threshold "$threshold" --json > "$work/dupes.json"
python3 - "$truth" "$work/dupes.json" "$threshold" <<'PY'
import json, sys
truth_path, dupes_path, threshold = sys.argv[1], sys.argv[2], sys.argv[3]
truth = {}
for line in open(truth_path):
    a, b, rel, offset = line.rstrip("\n").split("\t")
    truth[frozenset((a, b))] = (rel, float(offset) if offset else None, a)
pairs = json.load(open(dupes_path))
found = {}
by_frames = set()
for p in pairs:
    key = frozenset((p["a_title"], p["b_title"]))
    r = p["relation"]
    if r:
        offset = r["offset_s"]
        if p["b_title"] == next(iter(key - {p["a_title"]}), None) and truth.get(key, (None, None, None))[2] == p["b_title"]:
            offset = -offset  # told from the other side
        found[key] = (r["relation"], offset)
    if p["score"] >= float(threshold):
        by_frames.add(key)
print(f"{len(truth)} related pairs in the truth; {len(pairs)} pairs listed by dupes at threshold {threshold}")
print("relation    precision  recall   (found / true)")
for rel in ("copy", "excerpt", "same_song"):
    want = {k for k, v in truth.items() if v[0] == rel}
    got = {k for k, v in found.items() if v[0] == rel}
    right = want & got
    precision = len(right) / len(got) if got else float("nan")
    recall = len(right) / len(want) if want else float("nan")
    print(f"{rel:<11} {precision:9.3f} {recall:7.3f}   ({len(got)} / {len(want)})")
errors = [abs(abs(found[k][1]) - v[1]) for k, v in truth.items() if v[0] == "excerpt" and k in found and found[k][0] == "excerpt"]
if errors:
    print(f"excerpt offsets: mean error {sum(errors) / len(errors):.2f} s, worst {max(errors):.2f} s ({len(errors)} excerpts)")
dups = {k for k, v in truth.items() if v[0] in ("copy", "excerpt")}
print(f"frames alone (visual score >= {threshold}): {len(dups & by_frames)} of {len(dups)} copy and excerpt pairs listed, {len(by_frames - dups)} other pairs listed")
scores = {frozenset((p["a_title"], p["b_title"])): p["score"] for p in pairs}
for rel in ("copy", "excerpt", "same_song"):
    s = sorted(scores[k] for k, v in truth.items() if v[0] == rel and k in scores)
    if s:
        print(f"visual scores of the true {rel} pairs listed: {s[0]:.3f} to {s[-1]:.3f} (median {s[len(s) // 2]:.3f})")
PY
