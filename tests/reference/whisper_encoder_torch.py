"""Hugging Face transformers' own WhisperEncoder on the given model directory: the same interface
as whisper_encoder.py, for running tests/parity.rs against PyTorch itself
(REELMATCH_REFERENCE=torch; needs torch and transformers, so it is not part of CI).

The test feeds a window shorter than Whisper's 30 s (3000 mel frames); transformers refuses any
other length, so the encoder is told the window's length and given the first rows of its
position table, which is what the 30 s encoder computes for a window of that many frames
without padding (the same as whisper_encoder.py does).

usage: python3 whisper_encoder_torch.py MODEL_DIR < {"mel": [[...frames...] per mel bin]}
prints: {"shape": [frames, state], "values": [...row-major...]}
"""
import json
import sys

import torch
from transformers import WhisperModel

encoder = WhisperModel.from_pretrained(sys.argv[1], torch_dtype=torch.float32).get_encoder().eval()
mel = torch.tensor(json.load(sys.stdin)["mel"], dtype=torch.float32)
states = mel.shape[1] // (encoder.conv1.stride[0] * encoder.conv2.stride[0])
encoder.config.max_source_positions = states
table = encoder.embed_positions.weight.detach()[:states].clone()
encoder.embed_positions = torch.nn.Embedding.from_pretrained(table, freeze=True)
with torch.inference_mode():
    x = encoder(mel[None]).last_hidden_state[0]
print(json.dumps({"shape": list(x.shape), "values": x.reshape(-1).tolist()}))
