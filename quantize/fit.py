"""Fit bins on a folder of photos: the function behind ``fit-bins``.

Pipeline: photos -> **quantize (fit bins, prior, palette)** -> encode targets -> network -> ...
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from .bins import FAMILIES, Bins
from .grid import PRESETS
from .prior import bin_counts, prior_from_counts

DEFAULT_SPACE = {"kmeans": "rgb", "gmm": "hc", "hcgrid": "hc", "grid": "ab"}
RARE_FRACTION = 0.1   # a bin is "rarely used" when its share is below 10% of the uniform share 1/Q


def make_bins(family: str = "kmeans", *, space: str | None = None, k: int = 24, seed: int = 0,
              preset: str | None = None, grid_step: float = 10) -> Bins:
    """An unfitted :class:`Bins` of ``family``; invalid combinations raise a one-line ValueError."""
    if family not in FAMILIES:
        raise ValueError(f"unknown bins family {family!r}; choose one of {', '.join(sorted(FAMILIES))}")
    space = DEFAULT_SPACE[family] if space is None else space
    if preset is not None and family != "grid":
        raise ValueError(f"preset {preset!r} is for family 'grid', got family={family!r}; "
                         "pass --family grid or drop --preset")
    if preset is not None and preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; available: {', '.join(PRESETS)}")
    if family == "grid":
        return FAMILIES[family](space=space, seed=seed, step=grid_step, preset=preset)
    return FAMILIES[family](space=space, seed=seed, k=k)


def _sample(input_dir, pixels_per_image: int, max_pixels: int, seed: int, progress: bool):
    from colorclass.data import sample_pixels
    return sample_pixels(input_dir, pixels_per_image=pixels_per_image, max_pixels=max_pixels, seed=seed,
                         progress=progress)


def fit_bins_from_folder(input_dir: str | os.PathLike, out_path: str | os.PathLike, *, family: str = "kmeans",
                         space: str | None = None, k: int = 24, seed: int = 0, pixels_per_image: int = 1000,
                         max_pixels: int = 1_000_000, preset: str | None = None, grid_step: float = 10,
                         with_prior: bool = True, progress: bool = True) -> Bins:
    """Sample pixels evenly across ``input_dir``, fit bins, compute the prior, save
    ``out_path`` (.npz) + ``<stem>.json`` + ``<stem>.png``; returns the fitted bins.

    ``bins.meta`` then holds ``data`` (sampling info), ``prior`` (empty / rare bins) and ``seconds``.
    """
    bins = make_bins(family, space=space, k=k, seed=seed, preset=preset, grid_step=grid_step)
    t0 = time.perf_counter()
    pixels, info = _sample(input_dir, pixels_per_image, max_pixels, seed, progress)
    t1 = time.perf_counter()
    bins.fit(pixels)
    t2 = time.perf_counter()
    bins.meta["data"] = {"input_dir": str(Path(input_dir).resolve()), **info}
    if with_prior:
        counts = bin_counts(bins, pixels, progress=progress)
        bins.prior = prior_from_counts(bins, counts)
        share = counts / counts.sum()
        bins.meta["prior"] = {"pixels": int(len(pixels)), "n": 5, "sigma": 5.0,
                              "empty_bins": np.flatnonzero(counts == 0).tolist(),
                              "rare_bins": np.flatnonzero((counts > 0) & (share < RARE_FRACTION / len(counts))).tolist()}
    t3 = time.perf_counter()
    bins.meta["seconds"] = {"sample": round(t1 - t0, 2), "fit": round(t2 - t1, 2), "prior": round(t3 - t2, 2)}
    bins.save(out_path)
    return bins


def format_summary(bins: Bins, info: dict) -> str:
    """Short text for the CLI: bins, pixels used, empty or rarely used bins. ``info``: ``bins.meta``
    (or the sampling info dict of ``colorclass.data.sample_pixels``)."""
    data = info.get("data", info)
    lines = [f"bins: {bins.family} in {bins.space}, Q={bins.n_bins}"
             + (f", preset {bins.preset}" if getattr(bins, "preset", None) else "") + f", seed {bins.seed}"]
    if "n_pixels" in data:
        lines.append(f"pixels: {data['n_pixels']:,} from {data.get('n_images', '?')} images"
                     + (f" ({data['n_skipped']} skipped)" if data.get("n_skipped") else ""))
    prior = info.get("prior")
    if prior:
        empty, rare = prior["empty_bins"], prior["rare_bins"]
        lines.append(f"empty bins: {len(empty)}" + (f" {_short(empty)}" if empty else ""))
        lines.append(f"rarely used bins (< {100 * RARE_FRACTION:g}% of a uniform share): {len(rare)}"
                     + (f" {_short(rare)}" if rare else ""))
    elif bins.prior is None:
        lines.append("prior: not computed")
    if "seconds" in info:
        s = info["seconds"]
        lines.append(f"time: sample {s['sample']:.1f} s, fit {s['fit']:.1f} s, prior {s['prior']:.1f} s")
    return "\n".join(lines)


def _short(items: list[int], limit: int = 12) -> str:
    return "[" + ", ".join(map(str, items[:limit])) + (", ...]" if len(items) > limit else "]")
