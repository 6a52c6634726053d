"""Pixel samples drawn evenly across a folder (or file list) of photos.

Pipeline position: photos -> [this: pixel sample] -> quantize (fit bins) -> encode targets ->
network -> loss -> decode -> colour image -> metrics / reports. Layer: above ``scan``; used by
``colorclass.binning`` (fit-bins) and the benchmarks.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .scan import check_and_decode, list_images, scan_images

__all__ = ["sample_pixels"]

# Pillow decodes with the GIL released, so a few threads overlap decoding with the Python work of
# the others (about 1.5-2x on 2 cores for folders of small photos).
_THREADS = min(8, os.cpu_count() or 1)


def _files_of(root_or_files: str | Path | Iterable[str | Path]) -> list[Path]:
    if isinstance(root_or_files, (str, Path)):
        return list_images(root_or_files)
    return [Path(p) for p in root_or_files]


def sample_pixels(root_or_files: str | Path | Iterable[str | Path], *, pixels_per_image: int = 1000,
                  max_pixels: int = 1_000_000, seed: int = 0, min_colorfulness: float = 0.0,
                  progress: bool = True) -> tuple[np.ndarray, dict]:
    """Colour sample drawn evenly across a folder (or file list) of photos.

    Each usable photo (see ``scan_images``) gives ``pixels_per_image`` pixels drawn without
    replacement (all of them if it has fewer); if the total would exceed ``max_pixels``, every photo
    gives ``max_pixels // n_photos`` (and with more photos than ``max_pixels``, a random subset
    of photos gives one pixel each). Deterministic for ``seed``, independent of file order.
    Each file is decoded once, at the scan's reduced size for large JPEGs (shorter side about
    ``STATS_SIZE``: thousands of pixels per photo need no more, and it is ~20x faster on a
    12-megapixel JPEG); the scan's verdict comes from the same decode.
    Returns ``pixels: (N, 3) uint8`` and a JSON-ready ``info`` dict
    (``n_images``, ``n_pixels``, ``pixels_per_image``, ``n_skipped``, ``skipped``).
    """
    if pixels_per_image < 1 or max_pixels < 1:
        raise ValueError(f"pixels_per_image and max_pixels must be >= 1, got {pixels_per_image} "
                         f"and {max_pixels}")
    candidates = sorted(_files_of(root_or_files))
    drawn: dict[Path, np.ndarray] = {}

    def check_and_draw(path: Path) -> None:
        check, rgb = check_and_decode(path)
        if check.reason is None:   # up to pixels_per_image, in random order: any prefix is a sample
            drawn[path] = _draw(path, rgb, pixels_per_image, seed=seed)

    with ThreadPoolExecutor(_THREADS) as pool:   # fills scan's memo; the scan then reads it
        for _ in tqdm(pool.map(check_and_draw, candidates), total=len(candidates), desc="sampling pixels",
                      unit="img", disable=not progress or len(candidates) < 2):
            pass
    files, report = scan_images(candidates, min_colorfulness=min_colorfulness, progress=False)
    for f in (f for f in files if f not in drawn):   # changed between the decode and the scan
        report.add(f, "changed while reading")
    files = [f for f in files if f in drawn]
    if not files:
        raise ValueError(f"no usable photos in {root_or_files!s:.200}; skipped: {report.summary()}")
    per_image = min(pixels_per_image, max(1, max_pixels // len(files)))
    if len(files) > max_pixels:
        pick = np.random.default_rng(seed).choice(len(files), size=max_pixels, replace=False)
        files = [files[i] for i in sorted(pick.tolist())]
    chunks = [drawn[f][:per_image] for f in files]
    pixels = np.concatenate(chunks)
    info = {"n_images": len(chunks), "n_pixels": int(len(pixels)), "pixels_per_image": per_image,
            "seed": seed, "n_skipped": report.total, "skipped": report.summary()}
    return pixels, info


def _draw(path: Path, rgb: np.ndarray, n: int, *, seed: int) -> np.ndarray:
    """``n`` pixels of one photo (all if it has fewer), without replacement and in random
    order (so that any prefix is itself a uniform sample): (n, 3) uint8."""
    px = rgb.reshape(-1, 3)
    rng = np.random.default_rng([seed, zlib.crc32(os.fsencode(path))])
    return px[rng.choice(len(px), size=min(n, len(px)), replace=False)]
