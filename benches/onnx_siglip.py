"""The vision-text yardstick: ONNX Runtime on the same SigLIP weights as reelmatch's bench. Both
towers of a SigLIP checkpoint (transformers' SiglipModel: the patch convolution, position
embeddings, pre-norm encoder layers with tanh GELU, the post layer norm and the attention-pooling
head; the text side's last position through its head) are built as ONNX graphs (opset 17) straight
from the safetensors file, with its tensor names, so no PyTorch is needed; ONNX Runtime fuses what
it can itself (graph optimisation level "all"). `cargo bench --bench models -- vision-text` runs it
beside reelmatch's in the same run.

usage: python3 benches/onnx_siglip.py MODEL_DIR THREADS BATCH [BATCH ...] [--image PNG]
       (pip install onnx onnxruntime numpy safetensors pillow)
prints: {"onnxruntime": version, "batches": {"8": images_per_second, ...}, "text_ms": one
         description's milliseconds, "text": {"ids", "vector"}, "image": [the PNG's unit vector]} (median of 5 runs; the PNG,
         224×224, is only rescaled and normalised, so its vector checks the graph against reelmatch's)
"""
import json
import math
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import load_file

args = sys.argv[1:]
image_png = None
if "--image" in args:
    i = args.index("--image")
    image_png = args[i + 1]
    del args[i : i + 2]
model_dir, threads, batches = args[0], int(args[1]), [int(b) for b in args[2:]]
cfg = json.load(open(f"{model_dir}/config.json"))
w = load_file(f"{model_dir}/model.safetensors")


class Graph:
    """ONNX nodes and initialisers, named as they are added."""

    def __init__(self):
        self.nodes, self.inits, self.count = [], [], 0

    def name(self, prefix):
        self.count += 1
        return f"{prefix}_{self.count}"

    def const(self, array, prefix="c"):
        n = self.name(prefix)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), n))
        return n

    def op(self, kind, inputs, **attrs):
        out = self.name(kind.lower())
        self.nodes.append(helper.make_node(kind, inputs, [out], **attrs))
        return out

    def linear(self, x, prefix, weight=None, bias=None):
        wt = w[f"{prefix}.weight"] if weight is None else weight
        b = w[f"{prefix}.bias"] if bias is None else bias
        return self.op("Add", [self.op("MatMul", [x, self.const(wt.T.copy())]), self.const(b)])

    def layer_norm(self, x, prefix, eps):
        return self.op(
            "LayerNormalization", [x, self.const(w[f"{prefix}.weight"]), self.const(w[f"{prefix}.bias"])], epsilon=eps, axis=-1
        )

    def gelu_tanh(self, x):
        # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), the pattern ONNX Runtime fuses.
        cube = self.op("Mul", [self.op("Mul", [x, x]), x])
        inner = self.op("Add", [x, self.op("Mul", [cube, self.const(np.array(0.044715, np.float32))])])
        t = self.op("Tanh", [self.op("Mul", [inner, self.const(np.array(math.sqrt(2 / math.pi), np.float32))])])
        return self.op("Mul", [self.op("Mul", [x, self.const(np.array(0.5, np.float32))]), self.op("Add", [t, self.const(np.array(1.0, np.float32))])])

    def heads(self, x, n_heads, d):
        # (B, T, H) -> (B, heads, T, d)
        r = self.op("Reshape", [x, self.const(np.array([0, -1, n_heads, d], np.int64))])
        return self.op("Transpose", [r], perm=[0, 2, 1, 3])

    def attention(self, q, k, v, n_heads, h):
        d = h // n_heads
        qh, kh, vh = self.heads(q, n_heads, d), self.heads(k, n_heads, d), self.heads(v, n_heads, d)
        kt = self.op("Transpose", [kh], perm=[0, 1, 3, 2])
        s = self.op("Mul", [self.op("MatMul", [qh, kt]), self.const(np.array(1 / math.sqrt(d), np.float32))])
        o = self.op("MatMul", [self.op("Softmax", [s], axis=-1), vh])
        o = self.op("Transpose", [o], perm=[0, 2, 1, 3])
        return self.op("Reshape", [o, self.const(np.array([0, -1, h], np.int64))])

    def encoder(self, x, prefix, sub):
        eps, n_heads, h = sub["layer_norm_eps"], sub["num_attention_heads"], sub["hidden_size"]
        for i in range(sub["num_hidden_layers"]):
            p = f"{prefix}.encoder.layers.{i}"
            y = self.layer_norm(x, f"{p}.layer_norm1", eps)
            q, k, v = (self.linear(y, f"{p}.self_attn.{m}") for m in ("q_proj", "k_proj", "v_proj"))
            x = self.op("Add", [x, self.linear(self.attention(q, k, v, n_heads, h), f"{p}.self_attn.out_proj")])
            y = self.layer_norm(x, f"{p}.layer_norm2", eps)
            x = self.op("Add", [x, self.linear(self.gelu_tanh(self.linear(y, f"{p}.mlp.fc1")), f"{p}.mlp.fc2")])
        return x

    def model(self, inputs, output):
        graph = helper.make_graph(self.nodes, "siglip", inputs, [helper.make_tensor_value_info(output, TensorProto.FLOAT, None)], self.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        m.ir_version = 8
        return m


def vision_graph():
    vc = cfg["vision_config"]
    h, patch, eps = vc["hidden_size"], vc["patch_size"], vc["layer_norm_eps"]
    g = Graph()
    x = g.op(
        "Conv",
        ["pixels", g.const(w["vision_model.embeddings.patch_embedding.weight"]), g.const(w["vision_model.embeddings.patch_embedding.bias"])],
        kernel_shape=[patch, patch],
        strides=[patch, patch],
    )
    x = g.op("Transpose", [g.op("Reshape", [x, g.const(np.array([0, h, -1], np.int64))])], perm=[0, 2, 1])
    x = g.op("Add", [x, g.const(w["vision_model.embeddings.position_embedding.weight"])])
    x = g.encoder(x, "vision_model", vc)
    x = g.layer_norm(x, "vision_model.post_layernorm", eps)
    # The head: a learned probe attends over the patches (packed projections), then MLP, residual.
    wq, wk, wv = np.split(w["vision_model.head.attention.in_proj_weight"], 3)
    bq, bk, bv = np.split(w["vision_model.head.attention.in_proj_bias"], 3)
    probe = w["vision_model.head.probe"].reshape(1, 1, h)
    q = g.const((probe @ wq.T + bq).astype(np.float32))
    k, v = g.linear(x, "", wk, bk), g.linear(x, "", wv, bv)
    pooled = g.linear(g.attention(q, k, v, vc["num_attention_heads"], h), "vision_model.head.attention.out_proj")
    y = g.layer_norm(pooled, "vision_model.head.layernorm", eps)
    out = g.op("Add", [pooled, g.linear(g.gelu_tanh(g.linear(y, "vision_model.head.mlp.fc1")), "vision_model.head.mlp.fc2")])
    out = g.op("Reshape", [out, g.const(np.array([-1, h], np.int64))])
    size = vc["image_size"]
    return g.model([helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["batch", 3, size, size])], out)


def text_graph():
    tc = cfg["text_config"]
    g = Graph()
    tokens = g.op("Gather", [g.const(w["text_model.embeddings.token_embedding.weight"]), "ids"])
    x = g.op("Add", [tokens, g.const(w["text_model.embeddings.position_embedding.weight"])])
    x = g.encoder(x, "text_model", tc)
    x = g.layer_norm(x, "text_model.final_layer_norm", tc["layer_norm_eps"])
    last = g.op("Gather", [x, g.const(np.array(-1, np.int64))], axis=1)
    out = g.linear(last, "text_model.head")
    return g.model([helper.make_tensor_value_info("ids", TensorProto.INT64, [1, tc["max_position_embeddings"]])], out)


def session(model):
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def median_rate(run, n):
    run()  # warm-up
    times = []
    for _ in range(5):
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    return n / sorted(times)[2]


vision = session(vision_graph())
size = cfg["vision_config"]["image_size"]
rng = np.random.default_rng(3)
result = {"onnxruntime": ort.__version__, "batches": {}}
for b in batches:
    pixels = rng.uniform(-1, 1, (b, 3, size, size)).astype(np.float32)
    result["batches"][str(b)] = median_rate(lambda: vision.run(None, {"pixels": pixels}), b)
text = session(text_graph())
ids = np.zeros((1, cfg["text_config"]["max_position_embeddings"]), np.int64)
ids[0, :4] = [5, 6, 7, 1]
result["text_ms"] = 1000.0 / median_rate(lambda: text.run(None, {"ids": ids}), 1)
t = text.run(None, {"ids": ids})[0].reshape(-1).astype(np.float64)
result["text"] = {"ids": ids[0].tolist(), "vector": (t / np.linalg.norm(t)).tolist()}
if image_png:
    from PIL import Image

    a = np.asarray(Image.open(image_png).convert("RGB"), np.float32) / 255.0
    pixels = ((a - 0.5) / 0.5).transpose(2, 0, 1)[None].astype(np.float32)
    v = vision.run(None, {"pixels": pixels})[0][0].astype(np.float64)
    result["image"] = (v / np.linalg.norm(v)).tolist()
print(json.dumps(result))
