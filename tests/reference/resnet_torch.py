"""PyTorch's own torchvision resnet50 (eval mode, fc removed) on the given weights: the same
interface as resnet.py, for running tests/parity.rs against PyTorch itself
(REELMATCH_REFERENCE=torch; needs torch and torchvision, so it is not part of CI).

usage: python3 resnet_torch.py WEIGHTS.safetensors < {"input": [[[...]]]}
prints: [...2048 numbers...]
"""
import json
import sys

import torch
import torchvision
from safetensors.torch import load_file

model = torchvision.models.resnet50()
model.fc = torch.nn.Identity()
missing, unexpected = model.load_state_dict(load_file(sys.argv[1]), strict=False)
missing = [k for k in missing if not k.endswith("num_batches_tracked")]
assert not missing and not unexpected, f"missing {missing}, unexpected {unexpected}"
model.eval()
x = torch.tensor(json.load(sys.stdin)["input"], dtype=torch.float32)
with torch.inference_mode():
    print(json.dumps(model(x[None])[0].tolist()))
