"""An independent Whisper audio encoder in numpy, written from OpenAI's whisper/model.py
(AudioEncoder) and transformers' WhisperEncoder: conv1 (kernel 3, padding 1) and conv2 (kernel 3,
stride 2, padding 1), each followed by the exact erf GELU; sinusoidal-position weights added; per
block pre-LayerNorm self-attention (no mask) and a GELU MLP, each residual; a final LayerNorm.

usage: python3 whisper_encoder.py MODEL_DIR < {"mel": [[...frames...] per mel bin]}
prints: {"shape": [frames, state], "values": [...row-major...]}
"""
import json
import math
import sys

import numpy as np
from safetensors.numpy import load_file

model_dir = sys.argv[1]
cfg = json.load(open(f"{model_dir}/config.json"))
w = {k.removeprefix("model.encoder."): v.astype(np.float64)
     for k, v in load_file(f"{model_dir}/model.safetensors").items() if k.startswith("model.encoder.")}
heads = cfg["encoder_attention_heads"]
erf = np.vectorize(math.erf)


def gelu(x):
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def conv1d(x, name, stride):
    """x: (channels, frames); weight (out, in, 3); padding 1."""
    weight, bias = w[f"{name}.weight"], w[f"{name}.bias"]
    padded = np.pad(x, ((0, 0), (1, 1)))
    frames = (x.shape[1] + 2 - 3) // stride + 1
    cols = np.stack([padded[:, t * stride:t * stride + 3] for t in range(frames)])  # (frames, in, 3)
    return np.einsum("fik,oik->of", cols, weight) + bias[:, None]


def layer_norm(x, name):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-5) * w[f"{name}.weight"] + w[f"{name}.bias"]


def linear(x, name, bias=True):
    y = x @ w[f"{name}.weight"].T
    return y + w[f"{name}.bias"] if bias else y


mel = np.array(json.load(sys.stdin)["mel"], dtype=np.float64)
x = gelu(conv1d(mel, "conv1", 1))
x = gelu(conv1d(x, "conv2", 2)).T  # (frames, state)
n, state = x.shape
x = x + w["embed_positions.weight"][:n]
d = state // heads
for i in range(cfg["encoder_layers"]):
    p = f"layers.{i}"
    h = layer_norm(x, f"{p}.self_attn_layer_norm")
    split = lambda t: t.reshape(n, heads, d).transpose(1, 0, 2)
    q = split(linear(h, f"{p}.self_attn.q_proj"))
    k = split(linear(h, f"{p}.self_attn.k_proj", bias=False))
    v = split(linear(h, f"{p}.self_attn.v_proj"))
    scores = q @ k.transpose(0, 2, 1) / math.sqrt(d)
    scores = np.exp(scores - scores.max(-1, keepdims=True))
    attn = ((scores / scores.sum(-1, keepdims=True)) @ v).transpose(1, 0, 2).reshape(n, state)
    x = x + linear(attn, f"{p}.self_attn.out_proj")
    h = layer_norm(x, f"{p}.final_layer_norm")
    x = x + linear(gelu(linear(h, f"{p}.fc1")), f"{p}.fc2")
x = layer_norm(x, "layer_norm")
print(json.dumps({"shape": list(x.shape), "values": x.reshape(-1).tolist()}))
