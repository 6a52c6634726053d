"""Fit bins on a pixel sample (and their prior), and the text summary that ``fit-bins`` prints.

Pipeline: photos -> **quantize (fit bins, prior, palette)** -> encode targets -> network -> ...

Works on arrays of pixels only; sampling a photos folder and writing the bins file is
``colorclass.binning`` (quantize knows nothing about folders).
"""
from __future__ import annotations

import time
from typing import Callable

import numpy as np

from quantize.bins import FAMILIES, Bins
from quantize.grid import PRESETS
from quantize.prior import bin_counts, prior_from_counts

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
    cls: Callable[..., Bins] = FAMILIES[family]   # each family's __init__ takes its own options
    if family == "grid":
        return cls(space=space, seed=seed, step=grid_step, preset=preset)
    return cls(space=space, seed=seed, k=k)


def fit_bins(bins: Bins, pixels: np.ndarray, *, with_prior: bool = True, data_info: dict | None = None,
             progress: bool = True, max_fit_seconds: float | None = None) -> Bins:
    """Fit the unfitted ``bins`` (from :func:`make_bins`) on ``pixels (N, 3) uint8``, then the prior.

    ``bins.meta`` then holds ``data`` (``data_info``: where the pixels came from, when given),
    ``prior`` (empty / rare bins), ``seconds`` (``fit``, ``prior``) and, for iterative fits (GMM),
    ``fit`` (iterations, converged, stopped_by). ``max_fit_seconds``: the time budget of an
    iterative fit (GMM: the best fit so far is kept when it runs out; progress bar with
    ``progress``). Nothing is written; the caller saves (``colorclass.binning`` does photos
    folder -> sample -> here -> bins file).
    """
    if hasattr(bins, "max_fit_seconds"):   # iterative families (GMM)
        setattr(bins, "max_fit_seconds", max_fit_seconds)
        setattr(bins, "progress", progress)
    t0 = time.perf_counter()
    bins.fit(pixels)
    t1 = time.perf_counter()
    report = getattr(bins, "fit_report", None)
    if report:
        bins.meta["fit"] = dict(report)
    if data_info is not None:
        bins.meta["data"] = dict(data_info)
    if with_prior:
        _add_prior(bins, pixels, progress=progress)
    bins.meta["seconds"] = {"fit": round(t1 - t0, 2), "prior": round(time.perf_counter() - t1, 2)}
    return bins


def _add_prior(bins: Bins, pixels: np.ndarray, *, progress: bool) -> None:
    """Set ``bins.prior`` from ``pixels`` and record empty and rarely used bins in ``bins.meta``."""
    counts = bin_counts(bins, pixels, progress=progress)
    bins.prior = prior_from_counts(bins, counts)
    share = counts / counts.sum()
    bins.meta["prior"] = {"pixels": int(len(pixels)), "n": 5, "sigma": 5.0,
                          "empty_bins": np.flatnonzero(counts == 0).tolist(),
                          "rare_bins": np.flatnonzero((counts > 0) & (share < RARE_FRACTION / len(counts))).tolist()}


def format_summary(bins: Bins, info: dict) -> str:
    """Short text for the CLI: bins, pixels used, empty or rarely used bins. ``info``: ``bins.meta``
    (or the sampling info dict of ``colorclass.photos.sample_pixels``)."""
    data = info.get("data", info)
    preset = getattr(bins, "preset", None)   # grid family only
    lines = [f"bins: {bins.family} in {bins.space}, Q={bins.n_bins}"
             + (f", preset {preset}" if preset else "") + f", seed {bins.seed}"]
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
