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

from .read import UnreadableImage, load_rgb
from .scan import check_file, list_images, scan_images

__all__ = ["sample_pixels"]

# Pillow decodes with the GIL released, so a few threads overlap decoding with the Python work of
# the others (about 1.5-2x on 2 cores for folders of small photos).
_THREADS = min(8, os.cpu_count() or 1)


def _files_of(root_or_files: str | Path | Iterable[str | Path]) -> list[Path]:
    if isinstance(root_or_files, (str, Path)):
        return list_images(root_or_files)
    return [Path(p) for p in root_or_files]


def sample_pixels(root_or_files: str | Path | Iterable[str | Path], *, pixels_per_image: int = 1000,
                  max_pixels: int = 1_000_000, seed: int = 0, draft_size: int | None = None,
                  min_colorfulness: float = 0.0, progress: bool = True) -> tuple[np.ndarray, dict]:
    """Colour sample drawn evenly across a folder (or file list) of photos.

    Each usable photo (see ``scan_images``) gives ``pixels_per_image`` pixels drawn without
    replacement (all of them if it has fewer); if the total would exceed ``max_pixels``, every photo
    gives ``max_pixels // n_photos`` (and with more photos than ``max_pixels``, a random subset
    of photos gives one pixel each). Deterministic for ``seed``, independent of file order.
    ``draft_size`` decodes large JPEGs at reduced size (see ``load_rgb``).
    Returns ``pixels: (N, 3) uint8`` and a JSON-ready ``info`` dict
    (``n_images``, ``n_pixels``, ``pixels_per_image``, ``n_skipped``, ``skipped``).
    """
    if pixels_per_image < 1 or max_pixels < 1:
        raise ValueError(f"pixels_per_image and max_pixels must be >= 1, got {pixels_per_image} "
                         f"and {max_pixels}")
    candidates = sorted(_files_of(root_or_files))
    with ThreadPoolExecutor(_THREADS) as pool:   # fills scan's memo in parallel; the scan then reads it
        for _ in tqdm(pool.map(check_file, candidates), total=len(candidates), desc="checking photos",
                      unit="img", disable=not progress or len(candidates) < 2):
            pass
    files, report = scan_images(candidates, min_colorfulness=min_colorfulness, progress=False)
    if not files:
        raise ValueError(f"no usable photos in {root_or_files!s:.200}; skipped: {report.summary()}")
    per_image = min(pixels_per_image, max(1, max_pixels // len(files)))
    if len(files) > max_pixels:
        pick = np.random.default_rng(seed).choice(len(files), size=max_pixels, replace=False)
        files = [files[i] for i in sorted(pick.tolist())]
    chunks = []

    def draw(path: Path) -> np.ndarray | UnreadableImage:
        try:
            return _draw(path, per_image, seed=seed, draft_size=draft_size)
        except UnreadableImage as e:   # changed since the scan
            return e

    with ThreadPoolExecutor(_THREADS) as pool:   # map keeps the file order: same sample as serially
        for path, got in tqdm(zip(files, pool.map(draw, files)), total=len(files), desc="sampling pixels",
                              unit="img", disable=not progress or len(files) < 2):
            if isinstance(got, UnreadableImage):
                report.add(path, got.reason)
            else:
                chunks.append(got)
    pixels = np.concatenate(chunks) if chunks else np.zeros((0, 3), np.uint8)
    info = {"n_images": len(chunks), "n_pixels": int(len(pixels)), "pixels_per_image": per_image,
            "seed": seed, "n_skipped": report.total, "skipped": report.summary()}
    return pixels, info


def _draw(path: Path, n: int, *, seed: int, draft_size: int | None) -> np.ndarray:
    """``n`` pixels of one photo (all if it has fewer), without replacement: (n, 3) uint8."""
    px = load_rgb(path, draft_size=draft_size).reshape(-1, 3)
    rng = np.random.default_rng([seed, zlib.crc32(os.fsencode(path))])
    take = rng.choice(len(px), size=min(n, len(px)), replace=False)
    return px[np.sort(take)]
