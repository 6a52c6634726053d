"""Levin, Lischinski and Weiss, "Colorization using Optimization" (SIGGRAPH 2004): the classic
hint-propagation baseline (no network).

    Lab L (H, W) + hints (ab, mask) -> [shrink to long side <= max_side] -> *affinity_matrix*
        -> one sparse solve for a and b together -> [bilinear upsample, hints re-imposed] -> ab (2, H, W)

Neighbouring pixels with similar lightness should get similar chroma: for every pixel r that is
not hinted, U(r) = sum_s w_rs U(s) over its 3x3 neighbours s, with
w_rs ∝ exp(-(Y(r) - Y(s))^2 / (2 sigma_r^2)), normalised to sum 1 per row, and hinted pixels
fixed to their hint. Y = L / 100 in [0, 1]. The bandwidth follows the authors' reference code
(getColorExact.m): 2 sigma_r^2 = 0.6 x the variance of Y in the 3x3 window around r (r included),
floored so that r's most similar neighbour keeps a weight >= 0.01 (relative), and at 2e-6.
The system is reduced to the unhinted pixels, ordered by nested dissection and factorised once
(SuperLU); a and b share the factors.
With no hint at all the answer is gray (zeros).

Photos whose long side exceeds ``max_side`` (default 512) are solved at that bounded size: L is
shrunk with anti-aliasing, each hint lands on the cell its pixel falls in (the mean of the hints
there), ab is upsampled bilinearly and the hinted pixels are set back to their hint exactly.

Shapes, dtypes and ranges:
    lightness: (H, W) float, Lab L in [0, 100]
    hint_ab: (2, H, W) float, Lab chroma (read only where hint_mask is set); hint_mask: (H, W) or
    (1, H, W), nonzero = hinted
    returns ab: (2, H, W) float32 Lab chroma (within the range of the hints' values)

Torch-free (numpy, scipy, scikit-image).
"""
from __future__ import annotations

import functools
import math

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from colorclass.hints.points import hint_maps, hint_square

__all__ = ["DEFAULT_MAX_SIDE", "affinity_matrix", "dissection_order", "solve_levin", "solve_size",
           "levin_colorize", "levin_colorize_points"]

DEFAULT_MAX_SIDE = 512
_OFFSETS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]


def _shifted(a: np.ndarray, dy: int, dx: int, fill: float) -> np.ndarray:
    """out[y, x] = a[y + dy, x + dx], ``fill`` where that falls outside."""
    h, w = a.shape
    out = np.full_like(a, fill)
    out[max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)] = \
        a[max(dy, 0):h - max(-dy, 0), max(dx, 0):w - max(-dx, 0)]
    return out


def _neighbour_weights(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-normalised weights (8, H, W) float64 of each pixel's 8 neighbours (``_OFFSETS`` order)
    and the neighbours' flat indices (8, H, W) int64, -1 (weight 0) outside the photo."""
    h, w = y.shape
    index = np.arange(h * w).reshape(h, w)
    cols = np.stack([_shifted(index, dy, dx, -1) for dy, dx in _OFFSETS])
    valid = cols >= 0
    values = np.stack([_shifted(y, dy, dx, 0.0) for dy, dx in _OFFSETS])
    count = 1 + valid.sum(0)
    mean = (y + values.sum(0)) / count
    var = np.maximum((y * y + (values * values).sum(0)) / count - mean * mean, 0.0)
    diff2 = np.where(valid, (values - y) ** 2, np.inf)
    nearest = diff2.min(0)
    nearest[~np.isfinite(nearest)] = 0.0          # a 1 x 1 photo has no neighbour
    csig = np.maximum(np.maximum(0.6 * var, nearest / math.log(100.0)), 2e-6)
    weights = np.exp(-diff2 / csig)
    total = weights.sum(0)
    return weights / np.where(total > 0, total, 1.0), cols


def affinity_matrix(y: np.ndarray) -> sp.csr_matrix:
    """The row-normalised neighbour weights W (N, N), N = H * W (row-major pixels), of a lightness
    image ``y`` (H, W) in [0, 1]: W[r, s] = w_rs for the 3x3 neighbours s != r, rows sum to 1."""
    y = np.asarray(y, dtype=np.float64)
    weights, cols = _neighbour_weights(y)
    valid = cols >= 0
    rows = np.broadcast_to(np.arange(y.size).reshape(y.shape), cols.shape)
    return sp.csr_matrix((weights[valid], (rows[valid], cols[valid])), shape=(y.size, y.size))


@functools.lru_cache(maxsize=8)
def dissection_order(height: int, width: int, leaf: int = 8) -> np.ndarray:
    """Nested-dissection order of a (height, width) grid's pixels (flat indices): each half before
    the row / column separating them, recursively. A 3x3 stencil never links the two halves, so
    eliminating in this order keeps the LU factors small (SuperLU's own orderings fill ~2x more)."""
    parts: list[np.ndarray] = []

    def split(block: np.ndarray) -> None:
        bh, bw = block.shape
        if bh * bw <= leaf * leaf or min(bh, bw) < 3:
            parts.append(block.ravel())
        elif bh >= bw:
            split(block[:bh // 2])
            split(block[bh // 2 + 1:])
            parts.append(block[bh // 2])
        else:
            split(block[:, :bw // 2])
            split(block[:, bw // 2 + 1:])
            parts.append(block[:, bw // 2])

    split(np.arange(height * width).reshape(height, width))
    order = np.concatenate(parts)
    order.flags.writeable = False
    return order


def solve_levin(lightness: np.ndarray, hint_ab: np.ndarray, hint_mask: np.ndarray) -> np.ndarray:
    """Levin's solve at the given resolution (no resizing): (H, W) L, (2, H, W) ab, (H, W) mask
    -> (2, H, W) float32. Hinted pixels keep their hint exactly; no hint gives zeros.

    The unknowns are the unhinted pixels in ``dissection_order``; (I - W_ff) x = W_fh hints is an
    M-matrix (rows diagonally dominant, graph connected), so it is factorised without pivoting."""
    lightness = np.asarray(lightness, dtype=np.float64)
    h, w = lightness.shape
    hinted = np.asarray(hint_mask).reshape(h * w) != 0
    values = np.asarray(hint_ab, dtype=np.float64).reshape(2, h * w)
    out = np.zeros((2, h * w), np.float64)
    if not hinted.any():
        return out.reshape(2, h, w).astype(np.float32)
    out[:, hinted] = values[:, hinted]
    order = dissection_order(h, w)
    unknowns = order[~hinted[order]]
    n = len(unknowns)
    if n:
        number = np.full(h * w, -1, np.int64)
        number[unknowns] = np.arange(n)
        weights, cols = _neighbour_weights(np.clip(lightness, 0, 100) / 100.0)
        weights, cols = weights.reshape(8, -1), cols.reshape(8, -1)
        rows = np.broadcast_to(number, cols.shape)
        link = (rows >= 0) & (cols >= 0)
        to_free = link & (number[np.maximum(cols, 0)] >= 0)
        to_hint = link & hinted[np.maximum(cols, 0)]
        a = sp.csc_matrix((np.concatenate([np.ones(n), -weights[to_free]]),
                           (np.concatenate([np.arange(n), rows[to_free]]),
                            np.concatenate([np.arange(n), number[cols[to_free]]]))), shape=(n, n))
        rhs = np.stack([np.bincount(rows[to_hint], weights[to_hint] * v[cols[to_hint]], minlength=n)
                        for v in values], 1)
        lu = splu(a, permc_spec="NATURAL", diag_pivot_thresh=0.0, options={"SymmetricMode": True})
        out[:, unknowns] = lu.solve(rhs).T
    return out.reshape(2, h, w).astype(np.float32)


def solve_size(height: int, width: int, max_side: int = DEFAULT_MAX_SIDE) -> tuple[int, int]:
    """The (h, w) Levin solves at for a (height, width) photo: the photo's own, or shrunk (aspect
    kept) so that the long side is ``max_side``."""
    if not isinstance(max_side, (int, np.integer)) or isinstance(max_side, bool) or max_side < 1:
        raise ValueError(f"max_side must be a positive integer, got {max_side!r}")
    f = min(1.0, max_side / max(height, width))
    return max(1, round(height * f)), max(1, round(width * f))


def _check_lightness(lightness) -> np.ndarray:
    lightness = np.asarray(lightness, dtype=np.float64)
    if lightness.ndim != 2 or lightness.size == 0 or not np.isfinite(lightness).all():
        raise ValueError(f"lightness must be a finite (H, W) array of Lab L in [0, 100], got shape "
                         f"{lightness.shape}")
    return lightness


def _shrink(lightness: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    from skimage.transform import resize  # imported on demand: skimage is slow to import

    return resize(lightness, size, order=1, anti_aliasing=True, preserve_range=True)


def _upsample(ab: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    from skimage.transform import resize

    return np.stack([resize(c, size, order=1, anti_aliasing=False, preserve_range=True) for c in ab]).astype(
        np.float32)


def _cells(mask: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Row and column, on a grid of ``size``, of every set pixel of ``mask`` (H, W)."""
    ys, xs = np.nonzero(mask)
    h, w = mask.shape
    return (np.minimum((ys + 0.5) * size[0] / h, size[0] - 1).astype(np.int64),
            np.minimum((xs + 0.5) * size[1] / w, size[1] - 1).astype(np.int64))


def levin_colorize(lightness, hint_ab, hint_mask, *, max_side: int = DEFAULT_MAX_SIDE) -> np.ndarray:
    """Colourise a photo's lightness (H, W) from hints given as planes (ab (2, H, W) and mask (H, W)):
    -> ab (2, H, W) float32; solved at long side <= ``max_side`` (see the module docstring)."""
    lightness = _check_lightness(lightness)
    h, w = lightness.shape
    mask = np.asarray(hint_mask).reshape(h, w) != 0
    hint_ab = np.asarray(hint_ab, dtype=np.float64).reshape(2, h, w)
    size = solve_size(h, w, max_side)
    if size == (h, w):
        return solve_levin(lightness, hint_ab, mask)
    if not mask.any():
        return np.zeros((2, h, w), np.float32)
    rows, cols = _cells(mask, size)
    flat = rows * size[1] + cols
    count = np.bincount(flat, minlength=size[0] * size[1])
    sums = np.stack([np.bincount(flat, c[mask], minlength=count.size) for c in hint_ab])
    small_ab = (sums / np.maximum(count, 1)).reshape(2, *size)
    ab = _upsample(solve_levin(_shrink(lightness, size), small_ab, count.reshape(size)), (h, w))
    ab[:, mask] = hint_ab[:, mask]
    return ab


def levin_colorize_points(lightness, hints, *, max_side: int = DEFAULT_MAX_SIDE) -> np.ndarray:
    """``levin_colorize`` from a list of ``points.Hint`` (photo pixel coordinates): -> ab (2, H, W)
    float32. The hints are painted straight onto the solve grid, never on a full-size plane."""
    lightness = _check_lightness(lightness)
    h, w = lightness.shape
    hints = list(hints)
    size = solve_size(h, w, max_side)
    if not hints:
        return np.zeros((2, h, w), np.float32)
    small_ab, small_mask = hint_maps(hints, *size, scale=(size[0] / h, size[1] / w))
    small_l = lightness if size == (h, w) else _shrink(lightness, size)
    ab = solve_levin(small_l, small_ab, small_mask[0])
    if size == (h, w):
        return ab
    ab = _upsample(ab, (h, w))
    for hint in hints:
        rows, cols = hint_square(hint, h, w)
        ab[0, rows, cols], ab[1, rows, cols] = hint.ab
    return ab
