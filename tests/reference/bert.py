"""An independent BERT encoder in numpy, written from Hugging Face transformers' BertModel (eval
mode: no dropout): word + position + token-type embeddings, LayerNorm, then per layer
self-attention (scaled dot product, padding masked), residual + LayerNorm, a GELU (erf) MLP,
residual + LayerNorm. Masked mean pooling and L2 normalisation, as reelmatch's default.

usage: python3 bert.py MODEL_DIR < {"ids": [[101, ..., 102], ...]}   (one sequence per text, unpadded)
prints: [[...vector...], ...]
"""
import json
import math
import sys

import numpy as np
from safetensors.numpy import load_file

model_dir = sys.argv[1]
cfg = json.load(open(f"{model_dir}/config.json"))
w = {k.removeprefix("bert."): v.astype(np.float64) for k, v in load_file(f"{model_dir}/model.safetensors").items()}
eps = cfg["layer_norm_eps"]
heads = cfg["num_attention_heads"]
erf = np.vectorize(math.erf)


def layer_norm(x, name):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w[f"{name}.weight"] + w[f"{name}.bias"]


def linear(x, name):
    return x @ w[f"{name}.weight"].T + w[f"{name}.bias"]


def encode(ids):
    n = len(ids)
    x = w["embeddings.word_embeddings.weight"][ids]
    x = x + w["embeddings.position_embeddings.weight"][:n] + w["embeddings.token_type_embeddings.weight"][0]
    x = layer_norm(x, "embeddings.LayerNorm")
    d = x.shape[1] // heads
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}"
        split = lambda t: t.reshape(n, heads, d).transpose(1, 0, 2)
        q, k, v = (split(linear(x, f"{p}.attention.self.{m}")) for m in ("query", "key", "value"))
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(d)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        attn = (scores / scores.sum(-1, keepdims=True)) @ v
        attn = attn.transpose(1, 0, 2).reshape(n, heads * d)
        x = layer_norm(linear(attn, f"{p}.attention.output.dense") + x, f"{p}.attention.output.LayerNorm")
        h = linear(x, f"{p}.intermediate.dense")
        h = 0.5 * h * (1.0 + erf(h / math.sqrt(2.0)))
        x = layer_norm(linear(h, f"{p}.output.dense") + x, f"{p}.output.LayerNorm")
    pooled = x.mean(0)
    return pooled / np.linalg.norm(pooled)


request = json.load(sys.stdin)
print(json.dumps([encode(ids).tolist() for ids in request["ids"]]))
