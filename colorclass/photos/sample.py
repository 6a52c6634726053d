"""Pixel samples drawn evenly across a folder (or file list) of photos.

Pipeline position: photos -> [this: pixel sample] -> quantize (fit bins) -> encode targets ->
network -> loss -> decode -> colour image -> metrics / reports. Layer: above ``scan``; used by
``colorclass.binning`` (fit-bins) and the benchmarks.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import zlib
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from tqdm import tqdm

from colorclass.photos.scan import FileCheck, MemoKey, decode_and_check, list_images, remember_check, scan_images
from colorclass.support.errors import ColorclassError

__all__ = ["sample_pixels"]

# Checking and sampling a photo is mostly Python and numpy work on small arrays (threads gave
# nothing on 2 cores: the GIL), so large folders are spread over processes.
_WORKERS = min(8, os.cpu_count() or 1)
_FILES_PER_WORKER = 200   # below this a worker costs more to start than it saves


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
    jobs = [(path, pixels_per_image, seed) for path in candidates]
    with _pool(len(candidates)) as pool:   # decode + check + draw: CPU-bound Python, so processes
        results = pool.map(_check_and_draw, jobs, chunksize=64) if pool else map(_check_and_draw, jobs)
        for path, (key, check, px) in tqdm(zip(candidates, results), total=len(candidates),
                                           desc="sampling pixels", unit="img",
                                           disable=not progress or len(candidates) < 2):
            if key is not None:
                remember_check(key, check)   # the scan below reads the memo instead of decoding
            if px is not None:              # up to pixels_per_image, in random order: any prefix is a sample
                drawn[path] = px
    files, report = scan_images(candidates, min_colorfulness=min_colorfulness, progress=False)
    for f in (f for f in files if f not in drawn):   # changed between the decode and the scan
        report.add(f, "changed while reading")
    files = [f for f in files if f in drawn]
    if not files:
        raise ColorclassError(f"no usable photos in {root_or_files!s:.200}; skipped: {report.summary()}")
    per_image = min(pixels_per_image, max(1, max_pixels // len(files)))
    if len(files) > max_pixels:
        pick = np.random.default_rng(seed).choice(len(files), size=max_pixels, replace=False)
        files = [files[i] for i in sorted(pick.tolist())]
    chunks = [drawn[f][:per_image] for f in files]
    pixels = np.concatenate(chunks)
    info = {"n_images": len(chunks), "n_pixels": int(len(pixels)), "pixels_per_image": per_image,
            "seed": seed, "n_skipped": report.total, "skipped": report.summary()}
    return pixels, info


def _check_and_draw(job: tuple[Path, int, int]) -> tuple[MemoKey | None, FileCheck, np.ndarray | None]:
    """Worker: (memo key, check, pixels or None) of one photo, decoded once."""
    path, n, seed = job
    key, check, rgb = decode_and_check(path)   # rgb is None only for an unusable file
    return key, check, (_draw(path, rgb, n, seed=seed) if check.reason is None and rgb is not None else None)


@contextlib.contextmanager
def _pool(n_files: int):
    """A process pool for folders worth it (fork: the children share the loaded modules), else None."""
    workers = min(_WORKERS, n_files // _FILES_PER_WORKER)
    if workers < 2 or "fork" not in mp.get_all_start_methods():
        yield None
        return
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
        yield pool


def _draw(path: Path, rgb: np.ndarray, n: int, *, seed: int) -> np.ndarray:
    """``n`` pixels of one photo (all if it has fewer), without replacement and in random
    order (so that any prefix is itself a uniform sample): (n, 3) uint8."""
    px = rgb.reshape(-1, 3)
    rng = np.random.default_rng([seed, zlib.crc32(os.fsencode(path))])
    return px[rng.choice(len(px), size=min(n, len(px)), replace=False)]
