"""An independent ResNet-50 forward pass in numpy, written from torchvision's resnet50 (v1.5:
the stride sits on each bottleneck's 3×3 convolution), in eval mode, without the final layer:
the 2048-d average-pooled features.

usage: python3 resnet.py WEIGHTS.safetensors < {"input": [[[...]]]}   (one 3×224×224 image, normalised)
prints: [...2048 numbers...]
"""
import json
import sys

import numpy as np
from safetensors.numpy import load_file

w = {k: v.astype(np.float64) for k, v in load_file(sys.argv[1]).items()}


def conv(x, name, stride=1, padding=0):
    """x: C×H×W; weight: O×C×kh×kw. im2col, then one matrix product."""
    k = w[f"{name}.weight"]
    o, c, kh, kw = k.shape
    x = np.pad(x, ((0, 0), (padding, padding), (padding, padding)))
    h = (x.shape[1] - kh) // stride + 1
    wd = (x.shape[2] - kw) // stride + 1
    cols = np.empty((c, kh, kw, h, wd))
    for i in range(kh):
        for j in range(kw):
            cols[:, i, j] = x[:, i : i + stride * h : stride, j : j + stride * wd : stride]
    return (k.reshape(o, -1) @ cols.reshape(c * kh * kw, h * wd)).reshape(o, h, wd)


def bn(x, name, eps=1e-5):
    scale = w[f"{name}.weight"] / np.sqrt(w[f"{name}.running_var"] + eps)
    shift = w[f"{name}.bias"] - w[f"{name}.running_mean"] * scale
    return x * scale[:, None, None] + shift[:, None, None]


def relu(x):
    return np.maximum(x, 0)


def max_pool(x):
    """3×3, stride 2, padding 1 (padding never wins the max)."""
    x = np.pad(x, ((0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    h = (x.shape[1] - 3) // 2 + 1
    wd = (x.shape[2] - 3) // 2 + 1
    out = np.full((x.shape[0], h, wd), -np.inf)
    for i in range(3):
        for j in range(3):
            out = np.maximum(out, x[:, i : i + 2 * h : 2, j : j + 2 * wd : 2])
    return out


def bottleneck(x, name, stride):
    out = relu(bn(conv(x, f"{name}.conv1"), f"{name}.bn1"))
    out = relu(bn(conv(out, f"{name}.conv2", stride, 1), f"{name}.bn2"))
    out = bn(conv(out, f"{name}.conv3"), f"{name}.bn3")
    if f"{name}.downsample.0.weight" in w:
        x = bn(conv(x, f"{name}.downsample.0", stride), f"{name}.downsample.1")
    return relu(out + x)


x = np.array(json.load(sys.stdin)["input"], dtype=np.float64)
x = max_pool(relu(bn(conv(x, "conv1", 2, 3), "bn1")))
for layer, blocks, stride in [(1, 3, 1), (2, 4, 2), (3, 6, 2), (4, 3, 2)]:
    for b in range(blocks):
        x = bottleneck(x, f"layer{layer}.{b}", stride if b == 0 else 1)
print(json.dumps(x.mean(axis=(1, 2)).tolist()))
