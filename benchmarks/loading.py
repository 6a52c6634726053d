"""Figures 5, 7, 8 (group ``io``): the training data loader on large photos, ``fit-bins`` on the
10,000 Tiny ImageNet photos, and the start-up time of ``colorize --help``.

(Named ``loading`` rather than ``io`` so that it never shadows the standard library's ``io``.)
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from common import PYTHON, SHARED, Figure, run_child, seconds_figure, spread

_PHOTO_SIZE = (1600, 1200)


def large_photos(n: int) -> tuple[list[Path], str]:
    """``n`` JPEGs of 1600x1200 (quality 90) in a temp folder: Tiny ImageNet photos upscaled
    (bicubic) with a little noise so that they do not compress unrealistically well."""
    from PIL import Image
    folder = Path(tempfile.mkdtemp(prefix="colorclass-bench-large-"))
    rng = np.random.default_rng(0)
    src = sorted((SHARED / "tiny-imagenet-val").glob("*.JPEG"))[:n * 2]
    files = []
    for i in range(n):
        if src:
            im = Image.open(src[i]).convert("RGB").resize(_PHOTO_SIZE, Image.BICUBIC)
        else:
            small = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
            im = Image.fromarray(small).resize(_PHOTO_SIZE, Image.BICUBIC)
        a = np.asarray(im).astype(np.int16) + rng.integers(-6, 7, (*_PHOTO_SIZE[::-1], 3), dtype=np.int16)
        path = folder / f"photo_{i:03d}.jpg"
        Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).save(path, quality=90)
        files.append(path)
    return files, "Tiny ImageNet photos upscaled" if src else "synthetic photos"


def _full_decode_dataset():
    from colorclass.photos import ImageFolderDataset, load_rgb
    from colorclass.photos.augment import working_image

    class FullDecode(ImageFolderDataset):
        """Baseline: decode the whole photo, then resize (no reduced-size JPEG decoding)."""

        def _decode(self, i):
            return working_image(load_rgb(self.files[i]), resize=self.resize, crop_size=self.crop_size)
    return FullDecode


def loader_rate(dataset_cls, files, *, batch_size: int, task) -> float:
    """Images/s delivered by a 2-worker DataLoader, with the training targets made per batch."""
    import torch
    ds = dataset_cls(files, crop_size=256, resize=256, progress=False)
    loader = torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=True, num_workers=2,
                                         generator=torch.Generator().manual_seed(0))
    t, n = time.perf_counter(), 0
    for batch in loader:
        task.prepare(batch)
        n += len(batch["rgb"])
    return n / (time.perf_counter() - t)


def loader_rates(folder: str, reps: int) -> dict:
    """Interleaved repetitions of the fast loader and the full-decode baseline (in a child process)."""
    import quantize
    from colorclass.photos import ImageFolderDataset
    from colorclass.training.colorization_task import ColorizationTask

    files = sorted(Path(folder).glob("*.jpg"))
    px = np.random.default_rng(0).integers(0, 256, (20_000, 3), dtype=np.uint8)
    task = ColorizationTask(quantize.fit_bins(quantize.make_bins("kmeans", k=24), px, progress=False), loss="ce")
    fast, base = [], []
    loader_rate(ImageFolderDataset, files[:8], batch_size=8, task=task)   # warm-up: page cache, workers
    for _ in range(reps):   # interleaved, so both see the same background load
        fast.append(loader_rate(ImageFolderDataset, files, batch_size=8, task=task))
        base.append(loader_rate(_full_decode_dataset(), files, batch_size=8, task=task))
    return {"fast": fast, "base": base}


def loader_figure(quick: bool, step_rate: float | None) -> list[Figure]:
    files, source = large_photos(24 if quick else 64)
    _, rss, out = run_child([PYTHON, Path(__file__), "loader", files[0].parent, 2 if quick else 4])
    rates = json.loads(out.strip().splitlines()[-1])
    med, low, high = spread(rates["fast"])
    goal = f"; goal 2x the 256x256 train step ({2 * step_rate:.1f} img/s in this run)" if step_rate else ""
    fig = Figure("loader_256", med, "img/s", low, high, spread(rates["base"])[0],
                 "full-size decode, then resize", note=(
                     f"{len(files)} {source} 1600x1200 JPEGs, resize 256, crop 256, 2 workers, batch 8, "
                     f"targets (Lab + labels) made per batch in the main process{goal}; "
                     f"peak RSS {rss:.0f} MB (largest process of the loader run)"))
    fig.extra = {"peak_rss_mb": rss}
    return [fig]


def fit_bins_figure(quick: bool) -> list[Figure]:
    folder = SHARED / "tiny-imagenet-val"
    if not folder.is_dir():
        return []
    out = Path(tempfile.mkdtemp(prefix="colorclass-bench-bins-")) / "bins.npz"
    times, rss = [], []
    for _ in range(1 if quick else 3):
        seconds, peak, _ = run_child([PYTHON, "-m", "colorclass", "fit-bins", str(folder), "--k", "24",
                                      "-o", str(out)])
        times.append(seconds)
        rss.append(peak)
    fig = seconds_figure("fit_bins_10k", times, note=f"fit-bins --k 24 on 10,000 Tiny ImageNet photos, whole "
                         f"process; goal < 10 s; peak RSS {max(rss):.0f} MB")
    fig.extra = {"peak_rss_mb": max(rss)}
    return [fig]


def cli_figure(quick: bool) -> list[Figure]:
    times, bare = [], []
    for _ in range(3 if quick else 7):
        times.append(run_child([PYTHON, "-m", "colorclass", "colorize", "--help"])[0])
        bare.append(run_child([PYTHON, "-c", "pass"])[0])
    return [seconds_figure("cli_start", times, bare, "bare `python -c pass`",
                           note="`python -m colorclass colorize --help`, whole process; goal < 0.3 s")]


def run(quick: bool, only) -> list[Figure]:
    figures = []
    if only("cli_start"):
        figures += cli_figure(quick)
    if only("loader_256"):
        import train
        figures += loader_figure(quick, train.RATES.get("train_step_unet256"))
    if only("fit_bins_10k"):
        figures += fit_bins_figure(quick)
    return figures


if __name__ == "__main__":   # child mode: python benchmarks/loading.py loader FOLDER REPS
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    print(json.dumps(loader_rates(sys.argv[2], int(sys.argv[3]))))
