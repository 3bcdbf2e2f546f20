#!/usr/bin/env python3
"""Makes a model folder small enough to carry to a GPU machine, and whole again there.

    gpu-carry.py pack MODEL_DIR OUT_DIR     every float matrix rounded to 8 bits per row (a scale
                                            per row), vectors kept as f16; the other files copied
    gpu-carry.py unpack PACKED_DIR MODEL_DIR   the same layout again, in float32

A packed model is about a quarter of the float32 one (Whisper tiny.en: 151 MB to 39 MB). The
weights are rounded, so the model is not the original one: a parity check between two devices runs
the unpacked weights on both, and only compares the devices with each other. Needs numpy and
safetensors (both on the lent GPU machines).
"""
import os
import shutil
import sys

import numpy as np
from safetensors.numpy import load_file, save_file

SCALE = ".__row_scale"


def pack(src, out):
    os.makedirs(out, exist_ok=True)
    packed = {}
    for name, t in load_file(os.path.join(src, "model.safetensors")).items():
        if t.dtype.kind == "f" and t.ndim >= 2 and t.size >= 4096:
            rows = t.reshape(t.shape[0], -1).astype(np.float32)
            scale = np.abs(rows).max(axis=1) / 127.0
            scale[scale == 0] = 1.0
            packed[name] = np.clip(np.rint(rows / scale[:, None]), -127, 127).astype(np.int8).reshape(t.shape)
            packed[name + SCALE] = scale.astype(np.float32)
        elif t.dtype.kind == "f":
            packed[name] = t.astype(np.float16)
        else:
            packed[name] = t
    save_file(packed, os.path.join(out, "model.safetensors"))
    copy_others(src, out)


def unpack(src, out):
    os.makedirs(out, exist_ok=True)
    packed = load_file(os.path.join(src, "model.safetensors"))
    whole = {}
    for name, t in packed.items():
        if name.endswith(SCALE):
            continue
        if name + SCALE in packed:
            scale = packed[name + SCALE]
            rows = t.reshape(t.shape[0], -1).astype(np.float32) * scale[:, None]
            whole[name] = rows.reshape(t.shape)
        elif t.dtype == np.float16:
            whole[name] = t.astype(np.float32)
        else:
            whole[name] = t
    save_file(whole, os.path.join(out, "model.safetensors"))
    copy_others(src, out)


def copy_others(src, out):
    for f in os.listdir(src):
        if f != "model.safetensors" and os.path.isfile(os.path.join(src, f)):
            shutil.copy(os.path.join(src, f), os.path.join(out, f))


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("pack", "unpack"):
        sys.exit("usage: gpu-carry.py pack MODEL_DIR OUT_DIR | unpack PACKED_DIR MODEL_DIR")
    (pack if sys.argv[1] == "pack" else unpack)(sys.argv[2], sys.argv[3])
