"""The ResNet-50 yardstick: ONNX Runtime on the same weights as reelmatch's bench. The network is
torchvision's resnet50 (v1.5: the stride on each bottleneck's 3×3 convolution) without its final
layer, built as an ONNX graph (opset 17) straight from the safetensors file (torchvision tensor
names), so no PyTorch is needed; ONNX Runtime fuses batch norm and ReLU into the convolutions
itself (graph optimisation level "all"). `cargo bench --bench models -- resnet` runs it beside
reelmatch's in the same run.

The same network is also quantised to 8 bits the way ONNX Runtime recommends for CNNs (static
quantisation, QDQ format, weights per output channel, activations calibrated on 8 inputs), so
reelmatch's `precision = "int8"` has an 8-bit yardstick too.

usage: python3 benches/onnx_resnet50.py WEIGHTS.safetensors THREADS BATCH [BATCH ...]
       (pip install onnx onnxruntime numpy safetensors)
prints: {"onnxruntime": version, "batches": {"8": images_per_second, ...},
         "batches_int8": {"8": images_per_second, ...}} (median of 5 runs)

       python3 benches/onnx_resnet50.py WEIGHTS.safetensors THREADS --features INPUTS N
reads N channels-last normalised 224×224 images (raw little-endian f32) from INPUTS and prints
{"f32": [[...]], "int8": [[...]], "int8_calibrated_on_inputs": [[...]]}: each session's features,
the 8-bit one quantised as for the speed rounds and once more calibrated on the N images
themselves (the best its static scales can do on them), for `cargo bench --bench models --
resnet-fidelity` to compare with f32 as it compares reelmatch's.

       python3 benches/onnx_resnet50.py WEIGHTS.safetensors THREADS --serve
builds both sessions, prints {"onnxruntime": version}, then answers each line read ("f32 8 32" or
"int8 32 32": a precision, a batch and the images a round covers) with one timed round after an
untimed batch, {"images_per_second": x}: so a bench can take turns with ONNX Runtime round by
round on a machine whose speed drifts.
"""
import os
import tempfile
import json
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import load_file

w = load_file(sys.argv[1])
threads = int(sys.argv[2])
serve = sys.argv[3:] == ["--serve"]
features = sys.argv[3] == "--features"
batches = [] if serve or features else [int(b) for b in sys.argv[3:]]
nodes, inits = [], []
count = [0]


def name(prefix):
    count[0] += 1
    return f"{prefix}_{count[0]}"


def init(key):
    inits.append(numpy_helper.from_array(w[key].astype(np.float32), key))
    return key


def conv(x, key, stride=1, padding=0):
    k = w[f"{key}.weight"].shape[-1]
    out = name("conv")
    nodes.append(helper.make_node("Conv", [x, init(f"{key}.weight")], [out], kernel_shape=[k, k],
                                  strides=[stride, stride], pads=[padding] * 4))
    return out


def bn(x, key):
    out = name("bn")
    ins = [x] + [init(f"{key}.{p}") for p in ("weight", "bias", "running_mean", "running_var")]
    nodes.append(helper.make_node("BatchNormalization", ins, [out], epsilon=1e-5))
    return out


def relu(x):
    out = name("relu")
    nodes.append(helper.make_node("Relu", [x], [out]))
    return out


def add(a, b):
    out = name("add")
    nodes.append(helper.make_node("Add", [a, b], [out]))
    return out


def bottleneck(x, key, stride):
    out = relu(bn(conv(x, f"{key}.conv1"), f"{key}.bn1"))
    out = relu(bn(conv(out, f"{key}.conv2", stride, 1), f"{key}.bn2"))
    out = bn(conv(out, f"{key}.conv3"), f"{key}.bn3")
    if f"{key}.downsample.0.weight" in w:
        x = bn(conv(x, f"{key}.downsample.0", stride), f"{key}.downsample.1")
    return relu(add(out, x))


x = relu(bn(conv("input", "conv1", 2, 3), "bn1"))
pooled = name("maxpool")
nodes.append(helper.make_node("MaxPool", [x], [pooled], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]))
x = pooled
for layer, blocks, stride in [(1, 3, 1), (2, 4, 2), (3, 6, 2), (4, 3, 2)]:
    for b in range(blocks):
        x = bottleneck(x, f"layer{layer}.{b}", stride if b == 0 else 1)
nodes.append(helper.make_node("GlobalAveragePool", [x], ["pooled"]))
nodes.append(helper.make_node("Flatten", ["pooled"], ["features"]))
graph = helper.make_graph(
    nodes, "resnet50", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 224, 224])],
    [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", 2048])], inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def session_of(model_bytes):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])


def round_of(session, batch, x):
    """Images per second over all of x, a batch at a time."""
    n = len(x)
    t = time.perf_counter()
    for start in range(0, n, batch):
        session.run(None, {"input": x[start:start + batch]})
    return n / (time.perf_counter() - t)


def inputs(batch, images=8):
    return np.random.default_rng(0).standard_normal((max(batch, images), 3, 224, 224)).astype(np.float32)


def rates_of(session):
    rates = {}
    for batch in batches:
        x = inputs(batch)
        session.run(None, {"input": x[:batch]})  # warm-up
        runs = sorted(round_of(session, batch, x) for _ in range(5))
        rates[str(batch)] = runs[len(runs) // 2]
    return rates


def quantised(model, calibration=None):
    """The model quantised to 8 bits, its activations calibrated on `calibration` (NCHW images)
    or, by default, on 8 random normal inputs."""
    import logging

    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    logging.getLogger().setLevel(logging.ERROR)

    class Inputs(CalibrationDataReader):
        def __init__(self):
            rng = np.random.default_rng(1)
            self.left = [rng.standard_normal((1, 3, 224, 224)).astype(np.float32) for _ in range(8)]
            if calibration is not None:
                self.left = [calibration[i:i + 1] for i in range(len(calibration))]

        def get_next(self):
            return {"input": self.left.pop()} if self.left else None

    with tempfile.TemporaryDirectory() as tmp:
        src, pre, dst = (os.path.join(tmp, f) for f in ("f32.onnx", "pre.onnx", "int8.onnx"))
        onnx.save(model, src)
        # The recommended pre-processing: shape inference and graph optimisation (batch norm folded
        # into the convolutions) before the quantisation.
        quant_pre_process(src, pre)
        quantize_static(pre, dst, Inputs(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        with open(dst, "rb") as f:
            return f.read()


if features:
    n = int(sys.argv[5])
    x = np.fromfile(sys.argv[4], dtype="<f4").reshape(n, 224, 224, 3).transpose(0, 3, 1, 2).copy()
    runs = {"f32": model.SerializeToString(), "int8": quantised(model),
            "int8_calibrated_on_inputs": quantised(model, x)}

    def features_of(session):
        return np.concatenate([session.run(None, {"input": x[i:i + 32]})[0] for i in range(0, n, 32)]).tolist()

    print(json.dumps({name: features_of(session_of(m)) for name, m in runs.items()}))
elif serve:
    sessions = {"f32": session_of(model.SerializeToString()), "int8": session_of(quantised(model))}
    print(json.dumps({"onnxruntime": ort.__version__}), flush=True)
    for line in sys.stdin:
        precision, batch, images = line.split()
        batch = int(batch)
        session, x = sessions[precision], inputs(batch, int(images))
        # Every round starts warm, as reelmatch's rounds do: a batch untimed right before it.
        session.run(None, {"input": x[:batch]})
        print(json.dumps({"images_per_second": round_of(session, batch, x)}), flush=True)
else:
    result = {"onnxruntime": ort.__version__, "batches": rates_of(session_of(model.SerializeToString()))}
    result["batches_int8"] = rates_of(session_of(quantised(model)))
    print(json.dumps(result))
