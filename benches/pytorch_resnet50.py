"""PyTorch's CPU ResNet-50 images/s at batch 1, 8 and 32: the yardstick for `cargo bench --bench
models`. Same protocol as the Rust bench: 2048-d features (fc removed), random weights, five
rounds of at least 8 images per batch size, median and range; threads from RAYON_NUM_THREADS or
the machine's cores. Needs torch and torchvision (pip install torch torchvision); not run in CI.

    python3 benches/pytorch_resnet50.py
"""

import os
import statistics
import time

import torch
import torchvision


def main():
    threads = int(os.environ.get("RAYON_NUM_THREADS", os.cpu_count()))
    torch.set_num_threads(threads)
    print(f"torch {torch.__version__}, threads: {threads}")
    model = torchvision.models.resnet50()
    model.fc = torch.nn.Identity()
    model.eval()
    for batch in (1, 8, 32):
        n = max(batch, 8)
        x = torch.randn(n, 3, 224, 224)
        with torch.inference_mode():
            model(x[:batch])  # warm-up
            rates = []
            for _ in range(5):
                start = time.perf_counter()
                for chunk in x.split(batch):
                    model(chunk)
                rates.append(n / (time.perf_counter() - start))
        rates.sort()
        print(f"pytorch resnet50 batch {batch:>2}: {statistics.median(rates):.1f} "
              f"({rates[0]:.1f}–{rates[-1]:.1f}) images/s")


if __name__ == "__main__":
    main()
