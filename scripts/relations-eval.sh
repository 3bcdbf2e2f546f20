#!/usr/bin/env bash
# The generated evaluation of how two videos relate (issue 40): songs made with ffmpeg's audio
# sources (notes, not pure tones) over lavfi pictures, and for each song six edited copies
# (re-encoded smaller, mirrored, cropped, letterboxed, colour-graded, its first 2 s trimmed), an
# excerpt at a known offset and the same excerpt without sound, the same song over other
# pictures, and an unrelated song over the same pictures. All of them are ingested into a new
# library, and `reelmatch dupes --json --threshold T` is scored against the truth: precision and
# recall per relation (copy, excerpt, same_song), the excerpts' offset error, and, beside them,
# how many of the true duplicate pairs (copies and excerpts) the frames alone list. Then each
# video asks `similar`, and the rankings' mean average precision is given in FIVR-200K's manner.
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
# KEEP=1 keeps the clips, the library and the answers (their folder is printed).
if [ -n "${KEEP:-}" ]; then echo "keeping $work" >&2; else trap 'rm -rf "$work"' EXIT; fi
media="$work/media"
mkdir -p "$media"
pictures=(testsrc2 smptebars mandelbrot "life=mold=10:ratio=0.1:seed=7" "cellauto=rule=110:seed=7" rgbtestsrc yuvtestsrc)
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
rel() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4:-}" >> "$truth"; } # a, b, relation, where a falls in b
echo "making $((songs * 11)) clips of up to $seconds s in $media…" >&2
for ((i = 0; i < songs; i++)); do
  base=$((196 + 23 * i)); step="${steps[$i]}"; other_step="${steps[$((i + songs))]:-1.37}"
  o="song$i"
  tune "$media/$o.mp4" "$seconds" "$base" "$step" "$i"
  edit() { # $1 name, then ffmpeg output options: an edited copy of the song
    local name="$1"; shift
    ffmpeg -hide_banner -loglevel error -y -i "$media/$o.mp4" "$@" "$media/$o $name.mp4"
  }
  edit copy -vf scale=128:72 -b:v 120k -c:a aac -b:a 64k
  edit mirrored -vf hflip -c:a copy
  edit cropped -vf "crop=iw*0.8:ih*0.8,scale=160:90" -c:a copy
  edit letterboxed -vf "scale=160:68,pad=160:90:0:11" -c:a copy
  edit graded -vf "eq=brightness=0.06:saturation=1.5:gamma=1.15" -c:a copy
  ffmpeg -hide_banner -loglevel error -y -ss 2 -i "$media/$o.mp4" "$media/$o trimmed.mp4"
  offset=$((3 + 2 * i))
  ffmpeg -hide_banner -loglevel error -y -ss "$offset" -t 10 -i "$media/$o.mp4" "$media/$o excerpt.mp4"
  ffmpeg -hide_banner -loglevel error -y -ss "$offset" -t 10 -i "$media/$o.mp4" -an "$media/$o silent excerpt.mp4"
  tune "$media/$o lyric video.mp4" "$seconds" "$base" "$step" "$(( (i + 2) % ${#pictures[@]} ))"
  tune "$media/$o other song.mp4" "$seconds" $((base + 11)) "$other_step" "$i"
  copies=("$o" "$o copy" "$o mirrored" "$o cropped" "$o letterboxed" "$o graded" "$o trimmed")
  for ((x = 0; x < ${#copies[@]}; x++)); do
    for ((y = x + 1; y < ${#copies[@]}; y++)); do rel "${copies[$x]}" "${copies[$y]}" copy; done
    at=$offset; [ "${copies[$x]}" = "$o trimmed" ] && at=$((offset - 2))
    rel "$o excerpt" "${copies[$x]}" excerpt "$at"
    rel "$o silent excerpt" "${copies[$x]}" excerpt "$at"
    rel "$o lyric video" "${copies[$x]}" same_song
    # The same pictures over another song: related by sight only (an incident, in FIVR's terms).
    rel "$o other song" "${copies[$x]}" same_pictures
  done
  rel "$o silent excerpt" "$o excerpt" copy
  rel "$o excerpt" "$o lyric video" excerpt "$offset"
  rel "$o excerpt" "$o other song" same_pictures
  # Without sound, the excerpt is as much cut from every video showing the same pictures on the
  # same time line: the other song over them, and another song's lyric video drawn on them.
  rel "$o silent excerpt" "$o other song" excerpt "$offset"
  for ((j = 0; j < songs; j++)); do
    [ $(( (j + 2) % ${#pictures[@]} )) -eq "$i" ] && rel "$o silent excerpt" "song$j lyric video" excerpt "$offset"
  done
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
# Each video asked against the library, for the ranking's mean average precision.
mkdir -p "$work/similar"
for f in "$media"/*.mp4; do
  t="$(basename "$f" .mp4)"
  "$bin" --library "$lib" --config "$config" --image-model "$model" -q similar "$t" --top 1000 --json > "$work/similar/$t.json"
done
python3 - "$truth" "$work/dupes.json" "$threshold" "$work/similar" <<'PY'
import json, os, sys
truth_path, dupes_path, threshold, similar_dir = sys.argv[1:5]
truth = {}
pictures_only = set()
for line in open(truth_path):
    a, b, rel, offset = line.rstrip("\n").split("\t")
    if rel == "same_pictures":
        pictures_only.add(frozenset((a, b)))
        continue
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
        found[key] = (r["relation"], offset, r.get("placed", True))
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
    for k in sorted(want - got, key=sorted):
        print(f"    missed: {' / '.join(sorted(k))}" + (f" (listed as {found[k][0]})" if k in found else ""))
    for k in sorted(got - want, key=sorted):
        print(f"    wrongly: {' / '.join(sorted(k))}" + (f" (truly {truth[k][0]})" if k in truth else " (unrelated)"))
# The same, apart: pairs with sound on both sides (the sound decides), and pairs with a silent
# video (the frames must).
for label, keep in (("with sound on both sides", lambda k: not any("silent" in t for t in k)),
                    ("one of them silent", lambda k: any("silent" in t for t in k))):
    parts = []
    for rel in ("copy", "excerpt"):
        want = {k for k, v in truth.items() if v[0] == rel and keep(k)}
        got = {k for k, v in found.items() if v[0] == rel and keep(k)}
        if want or got:
            p = len(want & got) / len(got) if got else float("nan")
            parts.append(f"{rel} precision {p:.3f} recall {len(want & got) / len(want):.3f} ({len(got)} / {len(want)})")
    print(f"  {label}: " + "; ".join(parts))
placed = [k for k, v in truth.items() if v[0] == "excerpt" and k in found and found[k][0] == "excerpt" and found[k][2]]
unplaced = [k for k, v in truth.items() if v[0] == "excerpt" and k in found and found[k][0] == "excerpt" and not found[k][2]]
print(f"excerpts found but not placed in time (pictures alike all along): {len(unplaced)}")
errors = [abs(abs(found[k][1]) - truth[k][1]) for k in placed]
for k in placed:
    if abs(abs(found[k][1]) - truth[k][1]) > 1.0:
        print(f"    offset off by {abs(abs(found[k][1]) - truth[k][1]):.1f} s: {' / '.join(sorted(k))}")
if errors:
    print(f"excerpt offsets: mean error {sum(errors) / len(errors):.2f} s, worst {max(errors):.2f} s ({len(errors)} excerpts)")
dups = {k for k, v in truth.items() if v[0] in ("copy", "excerpt")}
print(f"frames alone (visual score >= {threshold}): {len(dups & by_frames)} of {len(dups)} copy and excerpt pairs listed, {len(by_frames - dups)} other pairs listed")
scores = {frozenset((p["a_title"], p["b_title"])): p["score"] for p in pairs}
for rel in ("copy", "excerpt", "same_song"):
    s = sorted(scores[k] for k, v in truth.items() if v[0] == rel and k in scores)
    if s:
        print(f"visual scores of the true {rel} pairs listed: {s[0]:.3f} to {s[-1]:.3f} (median {s[len(s) // 2]:.3f})")
by_evidence = {}
for p in pairs:
    if p["relation"]:
        e = p["relation"].get("by", "sound")
        by_evidence[e] = by_evidence.get(e, 0) + 1
print("relations listed by evidence: " + ", ".join(f"{e} {n}" for e, n in sorted(by_evidence.items())))

# Mean average precision in FIVR-200K's manner: each video asks the library (`similar`), and
# the ranking is scored at three levels of what counts as relevant: duplicates (copies and
# excerpts), + the same song over other pictures (complementary), + the same pictures over
# another song (incident-like). Two rankings of the same answers: the frames alone (by visual
# score), and reelmatch's relations first (copy and excerpt, then same_song, then by score).
levels = {
    "duplicate (copy, excerpt)": {"copy", "excerpt"},
    "+ same song": {"copy", "excerpt", "same_song"},
    "+ same pictures": {"copy", "excerpt", "same_song", "same_pictures"},
}
def relevant(q, r, kinds):
    k = frozenset((q, r))
    return (k in truth and truth[k][0] in kinds) or ("same_pictures" in kinds and k in pictures_only)
def average_precision(ranked, positives):
    if not positives:
        return None
    hits, total = 0, 0.0
    for i, t in enumerate(ranked, 1):
        if t in positives:
            hits += 1
            total += hits / i
    return total / len(positives)
tier = {"copy": 0, "excerpt": 0, "same_song": 1}
answers = {}
for name in sorted(os.listdir(similar_dir)):
    answers[name[:-5]] = json.load(open(os.path.join(similar_dir, name)))["results"]
titles = set(answers)
print("mAP (FIVR-200K manner)            frames alone   with relations")
for label, kinds in levels.items():
    ap_frames, ap_rel = [], []
    for q, results in answers.items():
        positives = {t for t in titles if t != q and relevant(q, t, kinds)}
        by_visual = [h["title"] for h in sorted(results, key=lambda h: -(h["visual"] if h["visual"] is not None else -9))]
        by_relation = [h["title"] for h in sorted(results, key=lambda h: (tier.get((h["relation"] or {}).get("relation"), 2), -h["score"]))]
        a, b = average_precision(by_visual, positives), average_precision(by_relation, positives)
        if a is not None:
            ap_frames.append(a)
            ap_rel.append(b)
    print(f"{label:<33} {sum(ap_frames) / len(ap_frames):12.3f} {sum(ap_rel) / len(ap_rel):16.3f}   ({len(ap_frames)} queries)")
agree = sum(1 for q, results in answers.items() for h in results if h["duplicate"] and frozenset((q, h["title"])) in {frozenset((p["a_title"], p["b_title"])) for p in pairs if not (p["relation"] or {}).get("relation") == "same_song"})
flagged = sum(1 for results in answers.values() for h in results if h["duplicate"])
print(f"similar's duplicate flag: {flagged} (query, result) pairs flagged, {agree} of them listed by dupes as duplicates")
PY
