#!/usr/bin/env python3
"""How far 8-bit Winograd F(2x2, 3x3) on ResNet-50's stride-1 3x3 convolutions would move the
features from f32, beside 8-bit direct 3x3 convolutions as reelmatch runs them (a scale per pixel,
a scale per output channel): a numpy study for issue 43, no reelmatch code involved.

    python3 scripts/winograd_int8_fidelity.py WEIGHTS.safetensors VIDEO...

WEIGHTS: trained ResNet-50 in torchvision's names (the test assets' models/resnet50-keras-v1),
run in the v1.5 layout as reelmatch runs it (the stride in the 3x3 convolution), batch norms
folded. Every layer runs in f32 but the stride-1 3x3 convolutions, which run
  direct:   inputs rounded to 8 bits with a scale per pixel (0..255 after ReLU), weights to 8 bits
            with a scale per output channel (-127..127), exact sums;
  winograd: F(2x2, 3x3): each 4x4 input tile's 16 transformed values B'dB rounded to 8 bits
            with a scale per tile and position (-127..127: they are signed), the transformed
            kernels G g G' with a scale per position and output channel, exact sums, A'MA back;
  winograd-bytes: the inputs first rounded per pixel as for direct (kept in 8 bits between
            the layers, as reelmatch keeps them), then as winograd;
  winograd-f32: the same transforms without rounding (checks the transforms);
  all-direct, all-winograd-bytes: every convolution but the stem in 8 bits (the 1x1 and
            stride-2 3x3 ones as direct), the blocks' outputs kept in 8 bits a scale per pixel, as
            reelmatch's int8 runs them but without its channel balancing;
  all-winograd-deep: as all-winograd-bytes, but Winograd only in the third and fourth stages
            (14x14 and 7x7), the first two direct.
For each, the lowest centred cosine to the f32 features (centred on their mean) over up to 8
frames a video at 1 fps (224x224 straight from ffmpeg), and the mean of 1 - cosine. Needs numpy,
safetensors and ffmpeg.
"""
import subprocess
import sys

import numpy as np
from safetensors.numpy import load_file

BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], np.float64)
G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], np.float64)
AT = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], np.float64)
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def frames(video, count=8):
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", video, "-vf", "fps=1,scale=224:224", "-frames:v",
                          str(count), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    x = np.frombuffer(raw, np.uint8).reshape(-1, 224, 224, 3).astype(np.float32) / 255.0
    return (x - MEAN) / STD


def folded(w, conv, bn):
    """A convolution's weight as [kh, kw, c_in, c_out] and bias, its batch norm folded in."""
    scale = w[f"{bn}.weight"] / np.sqrt(w[f"{bn}.running_var"] + 1e-5)
    weight = (w[f"{conv}.weight"] * scale[:, None, None, None]).transpose(2, 3, 1, 0)
    return weight.astype(np.float32), (w[f"{bn}.bias"] - w[f"{bn}.running_mean"] * scale).astype(np.float32)


def conv(x, weight, bias, stride=1, pad=0):
    """NHWC convolution (cross-correlation) by patches."""
    k = weight.shape[0]
    if pad:
        x = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    n, h, wd, c = x.shape
    oh, ow = (h - k) // stride + 1, (wd - k) // stride + 1
    patches = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(1, 2))[:, ::stride, ::stride][:, :oh, :ow]
    # patches: [n, oh, ow, c, kh, kw] -> [n*oh*ow, kh*kw*c]
    rows = patches.transpose(0, 1, 2, 4, 5, 3).reshape(n * oh * ow, k * k * c)
    return (rows @ weight.reshape(k * k * c, -1)).reshape(n, oh, ow, -1) + bias


def per_pixel_bytes(x):
    scale = x.max(axis=-1, keepdims=True) / 255.0
    safe = np.where(scale > 0, scale, 1.0)
    return np.round(x / safe).clip(0, 255) * scale


def per_column(w2d):
    """Rows are depths, columns outputs: a scale per column, -127..127."""
    scale = np.abs(w2d).max(axis=0, keepdims=True) / 127.0
    safe = np.where(scale > 0, scale, 1.0)
    return np.round(w2d / safe).clip(-127, 127) * scale


def direct8(x, weight, bias):
    kh, kw, c, o = weight.shape
    wq = per_column(weight.reshape(-1, o)).reshape(weight.shape).astype(np.float32)
    return conv(per_pixel_bytes(x).astype(np.float32), wq, bias, 1, 1)


def winograd(x, weight, bias, rounded):
    n, h, wd, c = x.shape
    o = weight.shape[-1]
    th, tw = (h + 1) // 2, (wd + 1) // 2
    xp = np.zeros((n, 2 * th + 2, 2 * tw + 2, c), np.float64)
    xp[:, 1:h + 1, 1:wd + 1] = x
    tiles = np.lib.stride_tricks.sliding_window_view(xp, (4, 4), axis=(1, 2))[:, ::2, ::2][:, :th, :tw]
    # tiles: [n, th, tw, c, 4, 4]; V = B' d B per channel -> [n, th, tw, 4, 4, c]
    v = np.einsum("ij,ntwcjk,lk->ntwilc", BT, tiles, BT, optimize=True)
    u = np.einsum("ij,jkco,lk->ilco", G, weight.astype(np.float64), G)  # [4, 4, c, o]
    if rounded:
        scale = np.abs(v).max(axis=-1, keepdims=True) / 127.0
        safe = np.where(scale > 0, scale, 1.0)
        v = np.round(v / safe).clip(-127, 127) * scale
        us = np.abs(u).max(axis=2, keepdims=True) / 127.0
        usafe = np.where(us > 0, us, 1.0)
        u = np.round(u / usafe).clip(-127, 127) * us
    # The 16 products, one a position: [tiles, c] @ [c, o].
    m = np.matmul(v.reshape(-1, 16, c).transpose(1, 0, 2), u.reshape(16, c, o))
    m = m.transpose(1, 0, 2).reshape(n, th, tw, 4, 4, o)
    y = np.einsum("ij,ntwjko,lk->ntwilo", AT, m, AT, optimize=True)  # [n, th, tw, 2, 2, o]
    y = y.transpose(0, 1, 3, 2, 4, 5).reshape(n, 2 * th, 2 * tw, o)[:, :h, :wd]
    return (y + bias).astype(np.float32)


def conv8(x, weight, bias, stride=1):
    """A 1x1 convolution in 8 bits: inputs with a scale per pixel, weights per output channel."""
    wq = per_column(weight.reshape(-1, weight.shape[-1])).reshape(weight.shape).astype(np.float32)
    return conv(per_pixel_bytes(x).astype(np.float32), wq, bias, stride)


def forward(w, x, mode):
    relu = lambda t: np.maximum(t, 0)
    every = mode.startswith("all-")
    mode = mode.removeprefix("all-")
    one = conv8 if every else conv
    x = relu(conv(x, *folded(w, "conv1", "bn1"), 2, 3))
    x = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=-np.inf)
    x = np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(1, 2))[:, ::2, ::2].max(axis=(-1, -2))
    for layer, blocks in zip(range(1, 5), (3, 4, 6, 3)):
        for b in range(blocks):
            p = f"layer{layer}.{b}"
            stride = 2 if layer > 1 and b == 0 else 1
            y = relu(one(x, *folded(w, f"{p}.conv1", f"{p}.bn1")))
            wt, bias = folded(w, f"{p}.conv2", f"{p}.bn2")
            if stride == 2 and every:
                wq = per_column(wt.reshape(-1, wt.shape[-1])).reshape(wt.shape).astype(np.float32)
                y = conv(per_pixel_bytes(y).astype(np.float32), wq, bias, stride, 1)
            elif stride == 2 or mode == "f32":
                y = conv(y, wt, bias, stride, 1)
            elif mode == "direct":
                y = direct8(y, wt, bias)
            elif mode == "winograd-deep" and layer < 3:
                y = direct8(y, wt, bias)
            elif mode in ("winograd-bytes", "winograd-deep"):
                y = winograd(per_pixel_bytes(y), wt, bias, rounded=True)
            else:
                y = winograd(y, wt, bias, rounded=mode == "winograd")
            y = one(relu(y), *folded(w, f"{p}.conv3", f"{p}.bn3"))
            short = one(x, *folded(w, f"{p}.downsample.0", f"{p}.downsample.1"), stride) if b == 0 else x
            x = relu(y + short)
            if every and not (layer == 4 and b == blocks - 1):
                x = per_pixel_bytes(x)
    return x.mean(axis=(1, 2))


def main():
    w = load_file(sys.argv[1])
    x = np.concatenate([frames(v) for v in sys.argv[2:]])
    reference = forward(w, x, "f32")
    centre = reference.mean(axis=0)
    modes = ("winograd-f32", "direct", "winograd", "winograd-bytes", "all-direct", "all-winograd-bytes",
             "all-winograd-deep")
    for mode in modes:
        got = forward(w, x, mode)
        a, b = reference - centre, got - centre
        cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
        print(f"{mode:>13}: {len(x)} frames, lowest centred cosine {cos.min():.5f}, mean 1 - cosine {np.mean(1 - cos):.2e}")


if __name__ == "__main__":
    main()
