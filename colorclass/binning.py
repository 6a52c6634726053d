"""Fit colour bins on a folder of photos: the function behind ``fit-bins`` and auto-fitted runs.

Pipeline: photos folder -> pixel sample -> quantize.fit -> bins file
(then: encode targets -> network -> loss -> decode -> colour image -> metrics / reports).

``quantize`` fits from arrays of pixels and knows nothing about folders or how files are
written; this module joins it to ``colorclass.photos`` (the pixel sample) and to
``colorclass.support.files`` (every bins file, its JSON sidecar and palette PNG are written
atomically). Every colorclass caller that writes bins uses ``save_bins``.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import quantize
from colorclass.photos.sample import sample_pixels
from colorclass.support import limits
from colorclass.support.files import atomic_write_bytes
from quantize import Bins

__all__ = ["fit_bins_from_folder", "save_bins"]


def save_bins(bins: Bins, path: str | os.PathLike, *, palette: bool = True) -> Path:
    """Write ``path`` (.npz) + ``<stem>.json`` + ``<stem>.png`` (palette), each one atomically."""
    return bins.save(path, palette=palette, write_bytes=atomic_write_bytes)


def fit_bins_from_folder(input_dir: str | os.PathLike, out_path: str | os.PathLike, *, family: str = "kmeans",
                         space: str | None = None, k: int = 24, seed: int = 0, pixels_per_image: int = 1000,
                         max_pixels: int = 1_000_000, preset: str | None = None, grid_step: float = 10,
                         with_prior: bool = True, progress: bool = True) -> Bins:
    """Sample pixels evenly across ``input_dir``, fit bins, compute the prior, save
    ``out_path`` (.npz) + ``<stem>.json`` + ``<stem>.png``; returns the fitted bins.

    ``bins.meta`` then holds ``data`` (sampling info), ``prior`` (empty / rare bins) and ``seconds``.
    Invalid options raise a one-line ValueError before any photo is read.
    """
    bins = quantize.make_bins(family, space=space, k=k, seed=seed, preset=preset, grid_step=grid_step)
    t0 = time.perf_counter()
    pixels, info = sample_pixels(Path(input_dir), pixels_per_image=pixels_per_image, max_pixels=max_pixels,
                                 seed=seed, progress=progress)
    sample_seconds = round(time.perf_counter() - t0, 2)
    data_info = {"input_dir": str(Path(input_dir).resolve()), **info}
    quantize.fit_bins(bins, pixels, with_prior=with_prior, data_info=data_info, progress=progress,
                      max_fit_seconds=limits.GMM_FIT_SECONDS)
    bins.meta["seconds"] = {"sample": sample_seconds} | bins.meta["seconds"]
    save_bins(bins, out_path)
    return bins
