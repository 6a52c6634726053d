"""Encoding benchmark: lookup-table encoders vs exact encoders vs the original nearest-neighbour baseline.

Pipeline: photos -> quantize (fit bins) -> **encode targets** -> network -> ...

    python benchmarks/run.py --quick          # ~1 minute; prints a Markdown table
    python benchmarks/run.py                  # more repetitions and a larger baseline sample

Bins: the ab grid (preset zhang313, Q=313) and k-means (k=24, RGB) fitted on CIFAR-10 horse pixels.
Images: Tiny ImageNet validation photos upsampled to 256x256 (from ../shared/data; synthetic smooth
images when that folder is absent). Throughput counts input pixels per second, end to end from a
uint8 (B, 3, H, W) tensor to the encoder's outputs, including allocating them.
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))

import quantize  # noqa: E402
from colorclass.color import rgb_to_lab  # noqa: E402


def test_images(batch: int, size: int) -> tuple[torch.Tensor, str]:
    folder = SHARED / "tiny-imagenet-val"
    if folder.is_dir():
        from colorclass.photos import list_images, load_rgb
        imgs = [load_rgb(f) for f in list_images(folder)[: batch * 3]]
        imgs = np.stack([im for im in imgs if np.ptp(im.astype(int), axis=2).mean() > 8][:batch])
        x = torch.from_numpy(imgs).permute(0, 3, 1, 2).float()
        source = f"{batch} Tiny ImageNet val photos upsampled to {size}x{size}"
    else:
        x = torch.rand(batch, 3, size // 16, size // 16, generator=torch.Generator().manual_seed(0)) * 255
        source = f"{batch} synthetic smooth {size}x{size} images (../shared/data absent)"
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return x.round().clamp(0, 255).to(torch.uint8).contiguous(), source


def sample_for_kmeans() -> np.ndarray:
    horse = SHARED / "cifar10" / "train" / "horse"
    if horse.is_dir():
        from colorclass.photos import sample_pixels
        return sample_pixels(horse, pixels_per_image=200, max_pixels=200_000, seed=0, progress=False)[0]
    return np.random.default_rng(0).integers(0, 256, (100_000, 3), dtype=np.uint8)


def mpix_per_s(fn, n_pixels: int, repeats: int) -> float:
    fn()  # warm-up (and table build)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return n_pixels / best / 1e6


def baseline_nearest_neighbors(bins, pixels_u8: np.ndarray, n: int = 5, sigma: float = 5.0):
    """The original work's encoder: sklearn NearestNeighbors on ab, 5 neighbours, Gaussian weights."""
    from sklearn.neighbors import NearestNeighbors
    nn = NearestNeighbors(n_neighbors=n, algorithm="ball_tree").fit(bins.centers_ab)

    def run():
        lab = rgb_to_lab(torch.from_numpy(pixels_u8.astype(np.float32) / 255), dim=-1).numpy()
        dist, idx = nn.kneighbors(lab[:, 1:])
        w = np.exp(-dist ** 2 / (2 * sigma ** 2))
        return idx, w / w.sum(1, keepdims=True)
    return run


def machine() -> str:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{cpu}, {torch.get_num_threads()} torch threads, Python {platform.python_version()}, "
            f"torch {torch.__version__}, numpy {np.__version__}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions, smaller baseline sample")
    a = ap.parse_args(argv)
    repeats, baseline_pixels = (3, 100_000) if a.quick else (10, 1_000_000)
    images, source = test_images(8, 256)
    n_pixels = images.shape[0] * images.shape[2] * images.shape[3]
    flat_u8 = images.permute(0, 2, 3, 1).reshape(-1, 3).numpy()
    sub = flat_u8[np.random.default_rng(0).choice(len(flat_u8), baseline_pixels, replace=baseline_pixels > len(flat_u8))]
    all_bins = {"grid zhang313 (Q=313)": quantize.make_bins("grid", preset="zhang313").build(),
                "kmeans rgb (Q=24)": quantize.make_bins("kmeans", k=24).fit(sample_for_kmeans())}
    rows = []
    for name, bins in all_bins.items():
        enc = bins.encoder()
        t = time.perf_counter(); enc.hard_table(); t_hard = time.perf_counter() - t
        t = time.perf_counter(); enc.soft_tables(); t_soft = time.perf_counter() - t
        out = (torch.empty(images.shape[0], enc.n, *images.shape[2:], dtype=torch.int64),
               torch.empty(images.shape[0], enc.n, *images.shape[2:]))
        rgb01 = sub.astype(np.float32) / 255
        rows += [
            (name, f"LUT hard ({enc.hard_bits} bits/channel, table built in {t_hard:.1f} s)",
             mpix_per_s(lambda: enc.hard(images), n_pixels, repeats)),
            (name, f"LUT soft n=5 ({enc.soft_bits} bits/channel, table built in {t_soft:.1f} s)",
             mpix_per_s(lambda: enc.soft(images), n_pixels, repeats)),
            (name, "LUT soft n=5, reused output buffers (out=)",
             mpix_per_s(lambda: enc.soft(images, out=out), n_pixels, repeats)),
            (name, "exact hard (numpy, cKDTree)", mpix_per_s(lambda: bins.encode_hard_exact(rgb01), len(sub), 1)),
            (name, "exact soft n=5 (numpy, cKDTree)", mpix_per_s(lambda: bins.encode_soft_exact(rgb01), len(sub), 1)),
        ]
        if bins.family == "grid":
            rows.append((name, "baseline: sklearn NearestNeighbors, 5 nn, Gaussian weights",
                         mpix_per_s(baseline_nearest_neighbors(bins, sub), len(sub), 1)))
    print(f"command: python benchmarks/run.py{' --quick' if a.quick else ''}")
    print(f"machine: {machine()}")
    print(f"images: {source}; exact/baseline on {len(sub):,} of their pixels\n")
    print("| bins | encoder | Mpix/s |\n|---|---|---:|")
    for name, what, speed in rows:
        print(f"| {name} | {what} | {speed:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
