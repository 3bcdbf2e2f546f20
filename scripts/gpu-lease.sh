#!/usr/bin/env bash
# The steps run on a lent GPU machine (the workplace's device tool), from what travelled with the
# working tree: a CUDA build of reelmatch (gzip), the bundle of `gpu-check.sh prepare` without its
# models, and the models packed by scripts/gpu-carry.py (each tool call carries at most 64 MiB, so
# the models come in two calls, and the machine keeps the first call's files while it stays warm).
#
# usage: scripts/gpu-lease.sh DIR STEP
#   DIR/*/reelmatch.gz, DIR/*/bundle/{frames,lyrics.txt,speech.pcm}, DIR/*/packed/MODEL/: one
#   folder under DIR per call that carried them (DIR/a, DIR/b)
#   STEP  first   the machine's facts, the binary's libraries, image and text roles on cpu and cuda:0
#         all     every role on both devices: scripts/gpu-check.sh run (parity and pace)
# Writes its reports and logs into $OUT (or DIR/out). GPU_LEASE_DEVICE=cpu rehearses it all on a
# machine without a GPU (with a CPU build); GPU_CHECK_BATCHES as in gpu-check.sh.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir="$(cd "$1" && pwd)" step="$2"
out="${OUT:-$dir/out}"
mkdir -p "$out"
say() { echo "gpu-lease: $*" >&2; }

# The CUDA 13 libraries the binary loads: the toolkit's where it has them, else the Python
# packages' (PyTorch's nvidia-cublas and friends).
libs=""
for d in /usr/local/cuda/lib64 $(python3 -c 'import nvidia; print(" ".join(nvidia.__path__))' 2>/dev/null); do
  [ -d "$d" ] || continue
  libs="$libs:$(find "$d" -name 'lib*.so*' -printf '%h\n' 2>/dev/null | sort -u | paste -sd:)"
done
export LD_LIBRARY_PATH="${libs#:}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

bin="$dir/reelmatch"
[ -x "$bin" ] || { gunzip -c "$dir"/*/reelmatch.gz >"$bin" && chmod +x "$bin"; } || exit 1
bundle="$(dirname "$(ls -d "$dir"/*/bundle/frames | head -n1)")"
mkdir -p "$bundle/models"
for packed in "$dir"/*/packed/*/; do
  m="$(basename "$packed")"
  [ -f "$bundle/models/$m/model.safetensors" ] || python3 "$here/gpu-carry.py" unpack "$packed" "$bundle/models/$m"
done

case "$step" in
  first)
    { date -u; uname -r; nproc; free -g | head -2
      nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv
      nvidia-smi | head -4 | tail -1
      echo "tools: $(command -v ffmpeg ffprobe espeak-ng nvcc | tr '\n' ' ')"
      ldd "$bin"; } >"$out/machine.txt" 2>&1
    cat "$out/machine.txt"
    mapfile -t texts <"$bundle/lyrics.txt"
    for dev in "${GPU_LEASE_DEVICE:-cuda:0}" cpu; do
      "$bin" --offline --device "$dev" --text-model "$bundle/models/all-minilm-l6-v2" \
        models check --images "$bundle"/frames/*.jpg --text "${texts[@]}" \
        --batches "${GPU_CHECK_BATCHES:-1,8,32,128}" --out "$out/first-${dev%%:*}.json" 2>&1 | tail -n 8
    done
    bash "$here/gpu-check.sh" compare "$out/first-cpu.json" "$out/first-$(d="${GPU_LEASE_DEVICE:-cuda:0}"; echo "${d%%:*}").json" "$out/first-report.md"
    ;;
  all)
    bash "$here/gpu-check.sh" run "$bin" "$bundle" cpu "${GPU_LEASE_DEVICE:-cuda:0}" 2>&1 | tail -n 40
    status=${PIPESTATUS[0]}
    cp "$bundle"/check-a.json "$out/check-cpu.json" 2>/dev/null
    cp "$bundle"/check-b.json "$out/check-cuda.json" 2>/dev/null
    cp "$bundle"/report.md "$out/report.md" 2>/dev/null
    exit "$status"
    ;;
  *) say "unknown step $step (first | all)"; exit 2 ;;
esac
