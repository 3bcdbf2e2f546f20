"""Hugging Face transformers' own BertModel on the given model directory, pooled as reelmatch's
default (masked mean, L2-normalised): the same interface as bert.py, for running
tests/parity.rs against PyTorch itself (REELMATCH_REFERENCE=torch; needs torch and
transformers, so it is not part of CI).

usage: python3 bert_torch.py MODEL_DIR < {"ids": [[101, ..., 102], ...]}
prints: [[...vector...], ...]
"""
import json
import sys

import torch
from transformers import BertModel

model = BertModel.from_pretrained(sys.argv[1]).eval()
out = []
with torch.inference_mode():
    for ids in json.load(sys.stdin)["ids"]:
        hidden = model(input_ids=torch.tensor([ids])).last_hidden_state[0]
        pooled = hidden.mean(0)
        out.append((pooled / pooled.norm()).tolist())
print(json.dumps(out))
