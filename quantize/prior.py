"""Empirical bin prior and class-rebalancing weights.

Pipeline: photos -> **quantize (fit bins, prior)** -> encode targets -> network -> **loss (weights)** -> ...

prior: counts of soft targets over a pixel sample, for the ab grid smoothed by a Gaussian of
``smooth_sigma`` Lab units across neighbouring bins (as in Zhang et al. 2016), normalised to 1.
rebalance_weights: w_q proportional to ((1 - lam) p_q + lam / Q) ** -1 with sum_q p_q w_q = 1.
"""
from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from quantize.bins import Bins
from quantize.features import check_pixels_u8

_CHUNK = 1 << 18


def bin_counts(bins: Bins, pixels_rgb_u8: np.ndarray, *, n: int = 5, sigma: float = 5.0,
               progress: bool = False) -> np.ndarray:
    """Sum of soft-target weights per bin: (Q,) float64 summing to the number of pixels."""
    pixels = check_pixels_u8(pixels_rgb_u8)
    counts = np.zeros(bins.n_bins, np.float64)
    starts = range(0, len(pixels), _CHUNK)
    for s in tqdm(starts, desc="bin prior", unit="chunk", disable=not progress or len(starts) < 2):
        idx, w = bins.encode_soft_exact(pixels[s:s + _CHUNK].astype(np.float32) / 255.0, n=n, sigma=sigma)
        counts += np.bincount(idx.ravel(), weights=w.ravel().astype(np.float64), minlength=bins.n_bins)
    return counts


def prior_from_counts(bins: Bins, counts: np.ndarray, *, smooth_sigma: float | None = None) -> np.ndarray:
    """Normalise ``counts (Q,)`` to a prior (Q,) float64 summing to 1.

    ``smooth_sigma`` (Lab units in ab; default 5 for the grid family, 0 otherwise) spreads each bin's
    mass over its neighbours with a Gaussian, column-normalised so no mass is lost at the gamut edge.
    """
    counts = np.asarray(counts, np.float64)
    if counts.shape != (bins.n_bins,) or (counts < 0).any() or counts.sum() <= 0:
        raise ValueError(f"counts must be non-negative with shape ({bins.n_bins},) and a positive sum, "
                         f"got shape {counts.shape}, sum {counts.sum():.3g}")
    if smooth_sigma is None:
        smooth_sigma = 5.0 if bins.family == "grid" else 0.0
    p = counts / counts.sum()
    if smooth_sigma > 0:
        c = bins.centers_ab.astype(np.float64)
        kernel = np.exp(-((c[:, None] - c[None]) ** 2).sum(-1) / (2 * smooth_sigma ** 2))
        p = (kernel / kernel.sum(0, keepdims=True)) @ p
    return p / p.sum()


def compute_prior(bins: Bins, pixels_rgb_u8: np.ndarray, *, n: int = 5, sigma: float = 5.0,
                  smooth_sigma: float | None = None, progress: bool = False) -> np.ndarray:
    """Empirical prior of a pixel sample ``(N, 3) uint8``: (Q,) float64, sums to 1."""
    counts = bin_counts(bins, pixels_rgb_u8, n=n, sigma=sigma, progress=progress)
    return prior_from_counts(bins, counts, smooth_sigma=smooth_sigma)


def rebalance_weights(prior: np.ndarray, *, lam: float = 0.5) -> np.ndarray:
    """Class weights (Q,) float64: w ∝ ((1 - lam) p + lam / Q) ** -1, normalised so sum(p * w) = 1."""
    p = np.asarray(prior, np.float64)
    if p.ndim != 1 or len(p) < 2 or not np.isfinite(p).all() or (p < 0).any() or abs(p.sum() - 1) > 1e-4:
        raise ValueError(f"prior must be a 1-D non-negative array summing to 1 (Q >= 2), got shape {p.shape}, "
                         f"sum {p.sum() if p.size else 0:.6g}; use bins.prior from fit-bins")
    if not 0 <= lam <= 1 or (lam == 0 and (p == 0).any()):
        raise ValueError(f"lam must be in (0, 1] (or 0 when no bin has zero prior), got lam={lam!r}; "
                         "the usual value is 0.5")
    w = 1.0 / ((1 - lam) * p + lam / len(p))
    return w / (p @ w)
