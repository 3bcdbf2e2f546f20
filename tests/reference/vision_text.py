"""Independent SigLIP and CLIP networks in numpy, written from Hugging Face transformers'
SiglipModel and CLIPModel (eval mode), with their image processors' steps done with PIL as
transformers does them; and random weights written in those repos' exact layouts.

SigLIP: patches (a strided convolution with bias) + position embeddings, pre-norm encoder layers
(tanh GELU), post layer norm, then the attention-pooling head (a learned probe attends over the
patches with nn.MultiheadAttention's packed projections, then layer norm + MLP, residual). Text:
token + position embeddings, the same encoder (no attention mask: SigLIP attends to its padding),
final layer norm, the last token through a linear head.
CLIP: patches (no bias) after a class token, position embeddings, a pre layer norm, encoder layers
(quick GELU), the class token's post layer norm through the visual projection. Text: a causal
encoder, final layer norm, the state at the end-of-text token (the largest id) through the text
projection.
Images: PIL resize of the 8-bit image with the processor's filter (to a size, or the shortest
edge rounded down), a centre crop at half the difference rounded down, rescale, normalise.

usage:
  python3 vision_text.py --write siglip|clip DIR     random weights, configs and a small tokenizer
  python3 vision_text.py --write siglip-base DIR     the same at SigLIP 2 base's sizes (benches/models.rs)
  python3 vision_text.py DIR < {"texts": [[ids...]], "images": ["file", ...]}
prints: {"text": [[...]], "image": [[...]], "pixels": [[c*h*w floats]]}, vectors L2-normalised
"""
import json
import math
import os
import sys

import numpy as np

WORDS = ["dark", "blue", "background", "with", "neon", "colours", "a", "crowd", "at", "night", "la", "red", "car"]


def write(family, out):
    from safetensors.numpy import save_file

    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(7 if family == "siglip" else 11)
    tensors = {}

    def put(name, *shape, scale=0.1, around=0.0):
        tensors[name] = (around + scale * rng.standard_normal(shape)).astype(np.float32)

    def layers(prefix, n, h, inter, ln):
        for i in range(n):
            p = f"{prefix}.encoder.layers.{i}"
            for m in ("q_proj", "k_proj", "v_proj", "out_proj"):
                put(f"{p}.self_attn.{m}.weight", h, h)
                put(f"{p}.self_attn.{m}.bias", h, scale=0.02)
            for norm in ("layer_norm1", "layer_norm2"):
                put(f"{p}.{norm}.weight", h, around=1.0)
                put(f"{p}.{norm}.bias", h, scale=0.02)
            put(f"{p}.mlp.fc1.weight", inter, h)
            put(f"{p}.mlp.fc1.bias", inter, scale=0.02)
            put(f"{p}.mlp.fc2.weight", h, inter)
            put(f"{p}.mlp.fc2.bias", h, scale=0.02)

    def norm(name, h):
        put(f"{name}.weight", h, around=1.0)
        put(f"{name}.bias", h, scale=0.02)

    vocab = ["<pad>", "<eos>", "<bos>", "<unk>"] + WORDS
    # siglip-base: google/siglip2-base-patch16-224's own sizes (its vocabulary aside), for speed.
    base = family == "siglip-base"
    if base:
        family = "siglip"
    if family == "siglip":
        h, inter, patch, size, heads, n = (768, 3072, 16, 224, 12, 12) if base else (64, 128, 16, 224, 4, 2)
        t_len = 64
        put("vision_model.embeddings.patch_embedding.weight", h, 3, patch, patch, scale=0.05)
        put("vision_model.embeddings.patch_embedding.bias", h, scale=0.02)
        put("vision_model.embeddings.position_embedding.weight", (size // patch) ** 2, h)
        layers("vision_model", n, h, inter, 1e-6)
        norm("vision_model.post_layernorm", h)
        put("vision_model.head.probe", 1, 1, h)
        put("vision_model.head.attention.in_proj_weight", 3 * h, h)
        put("vision_model.head.attention.in_proj_bias", 3 * h, scale=0.02)
        put("vision_model.head.attention.out_proj.weight", h, h)
        put("vision_model.head.attention.out_proj.bias", h, scale=0.02)
        norm("vision_model.head.layernorm", h)
        put("vision_model.head.mlp.fc1.weight", inter, h)
        put("vision_model.head.mlp.fc1.bias", inter, scale=0.02)
        put("vision_model.head.mlp.fc2.weight", h, inter)
        put("vision_model.head.mlp.fc2.bias", h, scale=0.02)
        put("text_model.embeddings.token_embedding.weight", len(vocab), h)
        put("text_model.embeddings.position_embedding.weight", t_len, h)
        layers("text_model", n, h, inter, 1e-6)
        norm("text_model.final_layer_norm", h)
        put("text_model.head.weight", h, h)
        put("text_model.head.bias", h, scale=0.02)
        put("logit_scale", 1)
        put("logit_bias", 1)
        # As google/siglip2-base-patch16-224's config.json, smaller.
        config = {
            "architectures": ["SiglipModel"],
            "model_type": "siglip",
            "initializer_factor": 1.0,
            "text_config": {
                "model_type": "siglip_text_model", "hidden_size": h, "intermediate_size": inter,
                "num_attention_heads": heads, "num_hidden_layers": n, "vocab_size": len(vocab),
                "max_position_embeddings": t_len, "hidden_act": "gelu_pytorch_tanh", "layer_norm_eps": 1e-6,
                "pad_token_id": 0, "eos_token_id": 1, "bos_token_id": 2, "projection_size": h,
            },
            "vision_config": {
                "model_type": "siglip_vision_model", "hidden_size": h, "intermediate_size": inter,
                "num_attention_heads": heads, "num_hidden_layers": n, "image_size": size, "patch_size": patch,
                "num_channels": 3, "hidden_act": "gelu_pytorch_tanh", "layer_norm_eps": 1e-6,
            },
            "torch_dtype": "float32",
        }
        preprocessor = {
            "do_normalize": True, "do_rescale": True, "do_resize": True, "image_mean": [0.5, 0.5, 0.5],
            "image_processor_type": "SiglipImageProcessor", "image_std": [0.5, 0.5, 0.5],
            "processor_class": "SiglipProcessor", "resample": 2, "rescale_factor": 1 / 255,
            "size": {"height": size, "width": size},
        }
        # SigLIP 2's tokenizer bakes its fixed 64-token padding with <pad> = 0 into tokenizer.json,
        # and ends a text with <eos>.
        padding = {"strategy": {"Fixed": t_len}, "direction": "Right", "pad_to_multiple_of": None,
                   "pad_id": 0, "pad_type_id": 0, "pad_token": "<pad>"}
        start, end, lower = None, "<eos>", False
    else:
        vocab = ["<unk>"] + WORDS + ["<|startoftext|>", "<|endoftext|>"]
        ht, hv, inter, patch, size, heads, n, proj = 48, 64, 96, 32, 224, 4, 2, 40
        t_len = 77
        put("text_model.embeddings.token_embedding.weight", len(vocab), ht)
        put("text_model.embeddings.position_embedding.weight", t_len, ht)
        layers("text_model", n, ht, inter, 1e-5)
        norm("text_model.final_layer_norm", ht)
        put("vision_model.embeddings.class_embedding", hv)
        put("vision_model.embeddings.patch_embedding.weight", hv, 3, patch, patch, scale=0.05)
        put("vision_model.embeddings.position_embedding.weight", (size // patch) ** 2 + 1, hv)
        norm("vision_model.pre_layrnorm", hv)
        layers("vision_model", n, hv, inter, 1e-5)
        norm("vision_model.post_layernorm", hv)
        put("visual_projection.weight", proj, hv)
        put("text_projection.weight", proj, ht)
        tensors["logit_scale"] = np.array(2.6592, dtype=np.float32)
        # As openai/clip-vit-base-patch32's config.json, smaller.
        config = {
            "architectures": ["CLIPModel"],
            "model_type": "clip",
            "projection_dim": proj,
            "logit_scale_init_value": 2.6592,
            "text_config": {
                "model_type": "clip_text_model", "hidden_size": ht, "intermediate_size": inter,
                "num_attention_heads": heads, "num_hidden_layers": n, "vocab_size": len(vocab),
                "max_position_embeddings": t_len, "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5,
                "bos_token_id": 0, "eos_token_id": 2, "pad_token_id": 1, "projection_dim": proj,
            },
            "vision_config": {
                "model_type": "clip_vision_model", "hidden_size": hv, "intermediate_size": inter,
                "num_attention_heads": heads, "num_hidden_layers": n, "image_size": size, "patch_size": patch,
                "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5, "projection_dim": proj,
            },
        }
        preprocessor = {
            "crop_size": size, "do_center_crop": True, "do_normalize": True, "do_resize": True,
            "feature_extractor_type": "CLIPFeatureExtractor",
            "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711],
            "resample": 3, "size": size,
        }
        padding = None
        start, end, lower = "<|startoftext|>", "<|endoftext|>", True
    save_file(tensors, f"{out}/model.safetensors", metadata={"format": "pt"})
    json.dump(config, open(f"{out}/config.json", "w"), indent=2)
    json.dump(preprocessor, open(f"{out}/preprocessor_config.json", "w"), indent=2)
    ids = {t: i for i, t in enumerate(vocab)}
    special = [t for t in vocab if t.startswith("<")]
    single = ([{"SpecialToken": {"id": start, "type_id": 0}}] if start else []) + [
        {"Sequence": {"id": "A", "type_id": 0}},
        {"SpecialToken": {"id": end, "type_id": 0}},
    ]
    tokenizer = {
        "version": "1.0",
        "truncation": None,
        "padding": padding,
        "added_tokens": [
            {"id": ids[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True}
            for t in special
        ],
        "normalizer": {"type": "Lowercase"} if lower else None,
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": single,
            "pair": single,
            "special_tokens": {t: {"id": t, "ids": [ids[t]], "tokens": [t]} for t in [start, end] if t},
        },
        "decoder": None,
        "model": {"type": "WordLevel", "vocab": ids, "unk_token": "<unk>"},
    }
    json.dump(tokenizer, open(f"{out}/tokenizer.json", "w"), indent=2)
    json.dump({"do_lower_case": lower, "model_max_length": t_len}, open(f"{out}/tokenizer_config.json", "w"))


def embed(model_dir, request):
    from PIL import Image
    from safetensors.numpy import load_file

    cfg = json.load(open(f"{model_dir}/config.json"))
    pre = json.load(open(f"{model_dir}/preprocessor_config.json"))
    w = {k: v.astype(np.float64) for k, v in load_file(f"{model_dir}/model.safetensors").items()}
    siglip = cfg["model_type"] == "siglip"

    def layer_norm(x, name, eps):
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + eps) * w[f"{name}.weight"] + w[f"{name}.bias"]

    def linear(x, name, bias=True):
        y = x @ w[f"{name}.weight"].T
        return y + w[f"{name}.bias"] if bias else y

    def act(x):
        if siglip:  # gelu_pytorch_tanh
            return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))
        return x / (1.0 + np.exp(-1.702 * x))  # quick_gelu

    def softmax(s):
        s = np.exp(s - s.max(-1, keepdims=True))
        return s / s.sum(-1, keepdims=True)

    def attention(q, k, v, heads, mask=None):
        n, h = q.shape
        d = h // heads
        split = lambda t: t.reshape(t.shape[0], heads, d).transpose(1, 0, 2)
        s = split(q) @ split(k).transpose(0, 2, 1) / math.sqrt(d)
        if mask is not None:
            s = s + mask
        return (softmax(s) @ split(v)).transpose(1, 0, 2).reshape(n, h)

    def encoder(x, prefix, sub, mask=None):
        eps, heads = sub["layer_norm_eps"], sub["num_attention_heads"]
        for i in range(sub["num_hidden_layers"]):
            p = f"{prefix}.encoder.layers.{i}"
            y = layer_norm(x, f"{p}.layer_norm1", eps)
            q, k, v = (linear(y, f"{p}.self_attn.{m}") for m in ("q_proj", "k_proj", "v_proj"))
            x = x + linear(attention(q, k, v, heads, mask), f"{p}.self_attn.out_proj")
            y = layer_norm(x, f"{p}.layer_norm2", eps)
            x = x + linear(act(linear(y, f"{p}.mlp.fc1")), f"{p}.mlp.fc2")
        return x

    def patches(pixels, prefix, patch, bias):
        c, h, wd = pixels.shape
        kernel = w[f"{prefix}.embeddings.patch_embedding.weight"]  # (hidden, 3, p, p)
        grid = pixels.reshape(c, h // patch, patch, wd // patch, patch).transpose(1, 3, 0, 2, 4)
        grid = grid.reshape((h // patch) * (wd // patch), c * patch * patch)
        out = grid @ kernel.reshape(kernel.shape[0], -1).T
        return out + w[f"{prefix}.embeddings.patch_embedding.bias"] if bias else out

    def image_features(pixels):
        vc = cfg["vision_config"]
        if siglip:
            x = patches(pixels, "vision_model", vc["patch_size"], True)
            x = x + w["vision_model.embeddings.position_embedding.weight"]
            x = encoder(x, "vision_model", vc)
            x = layer_norm(x, "vision_model.post_layernorm", vc["layer_norm_eps"])
            h = x.shape[1]
            wq, wk, wv = np.split(w["vision_model.head.attention.in_proj_weight"], 3)
            bq, bk, bv = np.split(w["vision_model.head.attention.in_proj_bias"], 3)
            probe = w["vision_model.head.probe"].reshape(1, h)
            pooled = attention(probe @ wq.T + bq, x @ wk.T + bk, x @ wv.T + bv, vc["num_attention_heads"])
            pooled = linear(pooled, "vision_model.head.attention.out_proj")
            y = layer_norm(pooled, "vision_model.head.layernorm", vc["layer_norm_eps"])
            return (pooled + linear(act(linear(y, "vision_model.head.mlp.fc1")), "vision_model.head.mlp.fc2"))[0]
        x = patches(pixels, "vision_model", vc["patch_size"], False)
        x = np.concatenate([w["vision_model.embeddings.class_embedding"][None, :], x])
        x = x + w["vision_model.embeddings.position_embedding.weight"]
        x = layer_norm(x, "vision_model.pre_layrnorm", vc["layer_norm_eps"])
        x = encoder(x, "vision_model", vc)
        pooled = layer_norm(x[0], "vision_model.post_layernorm", vc["layer_norm_eps"])
        return linear(pooled, "visual_projection", bias=False)

    def text_features(ids):
        tc = cfg["text_config"]
        n = len(ids)
        x = w["text_model.embeddings.token_embedding.weight"][ids] + w["text_model.embeddings.position_embedding.weight"][:n]
        if siglip:
            x = encoder(x, "text_model", tc)
            x = layer_norm(x, "text_model.final_layer_norm", tc["layer_norm_eps"])
            return linear(x[-1], "text_model.head")
        causal = np.triu(np.full((n, n), -np.inf), 1)
        x = encoder(x, "text_model", tc, causal)
        x = layer_norm(x, "text_model.final_layer_norm", tc["layer_norm_eps"])
        return linear(x[int(np.argmax(ids))], "text_projection", bias=False)

    def size_of(v, square):
        if isinstance(v, int):
            return ("to", v, v) if square else ("short", v)
        if "height" in v:
            return ("to", v["width"], v["height"])
        return ("short", v["shortest_edge"])

    def pixels_of(path):
        img = Image.open(path).convert("RGB")
        crop = pre.get("do_center_crop", False)
        if pre.get("do_resize", True):
            size = size_of(pre["size"], not crop)
            if size[0] == "to":
                target = (size[1], size[2])
            else:
                wd, ht = img.size
                short, long = min(wd, ht), max(wd, ht)
                new_long = int(size[1] * long / short)
                target = (size[1], new_long) if wd <= ht else (new_long, size[1])
            img = img.resize(target, resample=pre.get("resample", 3), reducing_gap=None)
        a = np.asarray(img)
        if crop:
            cs = size_of(pre["crop_size"], True)
            top, left = (a.shape[0] - cs[2]) // 2, (a.shape[1] - cs[1]) // 2
            a = a[top:top + cs[2], left:left + cs[1]]
        x = (a.astype(np.float64) * pre.get("rescale_factor", 1 / 255)).astype(np.float32).astype(np.float64)
        if pre.get("do_normalize", True):
            x = (x - np.array(pre["image_mean"])) / np.array(pre["image_std"])
        return x.transpose(2, 0, 1)

    unit = lambda v: (v / np.linalg.norm(v)).tolist()
    pixels = [pixels_of(p) for p in request.get("images", [])]
    return {
        "text": [unit(text_features(np.array(ids))) for ids in request.get("texts", [])],
        "image": [unit(image_features(p)) for p in pixels],
        "pixels": [p.reshape(-1).tolist() for p in pixels],
    }


if __name__ == "__main__":
    if sys.argv[1] == "--write":
        write(sys.argv[2], sys.argv[3])
    else:
        print(json.dumps(embed(sys.argv[1], json.load(sys.stdin))))
