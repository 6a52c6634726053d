"""Colour suggestions at one pixel: the few most likely DISTINCT colours of the network's predicted
distribution there, as swatches a user can pick from (``suggest --hints``, the web page).

    probs (Q,) at a pixel + bin centres (Q, 2) + the pixel's L -> *neighbourhoods* (bin graph)
        -> *find_modes* (local maxima of the smoothed distribution, basins) -> gamut check at L
        -> *suggest_colours* list[Suggestion] -> *swatch_png* (a small labelled PNG)

Rules:
* Bins q and r are neighbours when their centres lie within ``radius`` of each other (default
  1.5 x the median nearest-neighbour distance of the centres: 15 ab units on the step-10 grid of
  313 bins, i.e. the 8 surrounding cells; k-means or any other centres work the same way).
* The smoothed mass of a bin is its probability plus its neighbours'. A bin is a *mode* when no
  neighbour's smoothed mass is higher (ties go to the lower bin index).
* Every bin climbs to its highest neighbour until it reaches a mode; a mode's ``probability`` is
  the mass of its BASIN (the bins that climb to it), so the probabilities partition the mass and
  sum to <= 1. Its ``ab`` is the probability-weighted mean of the mode and its neighbours.
* Modes closer than ``min_separation`` (default: the radius) to a more probable one are merged into
  it (mass added); modes left with less than ``min_probability`` (default 0.01) of the mass, or
  none at all, are not suggested. Colours that do not exist in sRGB at the pixel's lightness (a channel outside
  [0, 1] by more than 1/255) are dropped (or flagged with ``keep_out_of_gamut=True``); the rest
  are sorted by probability, at most ``k``.

Shapes, dtypes and ranges:
    probs: (Q,) float >= 0 (normalised here to sum 1); centers_ab: (Q, 2) Lab chroma;
    lightness: Lab L in [0, 100]; Suggestion.ab: (a, b) floats, .probability in [0, 1],
    .rgb_u8: (r, g, b) ints in [0, 255], .hex: "#rrggbb"

Torch-free (numpy, scipy, PIL).
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from colorclass.hints.srgb import in_gamut, lab_to_rgb01_unclipped, rgb01_to_u8, rgb_u8_to_hex
from colorclass.support.errors import ColorclassError
from colorclass.support.files import atomic_write_bytes

__all__ = ["Suggestion", "neighbourhoods", "find_modes", "suggest_colours", "swatch_png"]


@dataclass(frozen=True)
class Suggestion:
    """A distinct likely colour at a pixel, rendered at that pixel's lightness."""

    ab: tuple[float, float]
    probability: float
    rgb_u8: tuple[int, int, int]
    hex: str
    in_gamut: bool


def _check(probs, centers_ab) -> tuple[np.ndarray, np.ndarray]:
    probs = np.asarray(probs, dtype=np.float64)
    centers = np.asarray(centers_ab, dtype=np.float64)
    if probs.ndim != 1 or centers.shape != (len(probs), 2):
        raise ColorclassError(f"probs must be (Q,) and centers_ab (Q, 2), got {probs.shape} and {centers.shape}; "
                              "were the probabilities made with these bins?")
    if not (np.isfinite(probs).all() and np.isfinite(centers).all()):
        raise ColorclassError("probs or centers_ab contain NaN or infinite values; check the network's output")
    lowest = float(probs.min()) if probs.size else 0.0
    if lowest < 0 or probs.sum() <= 0:
        raise ColorclassError(f"probs must be >= 0 with a positive sum (got min {lowest:.3g}, "
                              f"sum {probs.sum():.3g}); pass softmax(logits), not the logits")
    return probs / probs.sum(), centers


def neighbourhoods(centers_ab, radius: float | None = None) -> tuple[list[np.ndarray], float]:
    """For each bin the indices of the OTHER bins within ``radius`` (default 1.5 x the median
    nearest-neighbour distance): (list of Q int arrays, the radius used)."""
    centers = np.asarray(centers_ab, dtype=np.float64)
    tree = cKDTree(centers)
    if radius is None:
        if len(centers) < 2:
            radius = 1.0
        else:
            gaps = tree.query(centers, k=2)[0][:, 1]
            radius = 1.5 * float(np.median(gaps)) or 1e-6
    radius = float(radius)
    if not (math.isfinite(radius) and radius > 0):
        raise ColorclassError(f"radius={radius!r} must be a positive number of ab units (about 1.5 bin widths)")
    near = tree.query_ball_point(centers, r=radius * (1 + 1e-9))
    return [np.array(sorted(set(n) - {q}), dtype=np.int64) for q, n in enumerate(near)], radius


def find_modes(probs: np.ndarray, neighbours: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(modes (M,) int64 bin indices, basin (Q,) int64: the mode each bin climbs to) of a
    normalised distribution ``probs`` (Q,) on the bin graph ``neighbours``."""
    q = len(probs)
    smooth = probs + np.array([probs[n].sum() for n in neighbours])
    up = np.arange(q)
    for i, n in enumerate(neighbours):
        if len(n):
            j = n[np.lexsort((n, -smooth[n]))[0]]  # highest neighbour, lowest index on ties
            if smooth[j] > smooth[i] or (smooth[j] == smooth[i] and j < i):
                up[i] = j
    basin = up.copy()
    for _ in range(q):  # pointer jumping: at most log2(Q) rounds are needed
        nxt = up[basin]
        if np.array_equal(nxt, basin):
            break
        basin = nxt
    return np.nonzero(up == np.arange(q))[0], basin


def _suggestion(ab: np.ndarray, probability: float, lightness: float) -> Suggestion:
    rgb = lab_to_rgb01_unclipped(np.array([[lightness, ab[0], ab[1]]]))
    r, g, b = (int(v) for v in rgb01_to_u8(rgb)[0])
    u8 = (r, g, b)
    return Suggestion(ab=(float(ab[0]), float(ab[1])), probability=float(probability), rgb_u8=u8,
                      hex=rgb_u8_to_hex(u8), in_gamut=bool(in_gamut(rgb)[0]))


def suggest_colours(probs, centers_ab, lightness: float, *, k: int = 6, min_separation: float | None = None,
                    radius: float | None = None, min_probability: float = 0.01,
                    keep_out_of_gamut: bool = False) -> list[Suggestion]:
    """The at most ``k`` most likely distinct colours of ``probs`` (Q,) over bins ``centers_ab``
    (Q, 2) at a pixel of Lab lightness ``lightness``, most probable first (rules: module docstring)."""
    probs, centers = _check(probs, centers_ab)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ColorclassError(f"k={k!r} must be a whole number >= 1 (how many colours to suggest)")
    if not (isinstance(lightness, (int, float, np.number)) and 0 <= float(lightness) <= 100):
        raise ColorclassError(f"lightness={lightness!r} must be Lab L in [0, 100]")
    neighbours, radius = neighbourhoods(centers, radius)
    separation = radius if min_separation is None else float(min_separation)
    if not (math.isfinite(separation) and separation >= 0):
        raise ColorclassError(f"min_separation={min_separation!r} must be a number >= 0 (ab units)")
    modes, basin = find_modes(probs, neighbours)
    mass = np.bincount(basin, probs, minlength=len(probs))
    kept: list[list] = []  # [ab, mass], most massive first
    for m in sorted(modes.tolist(), key=lambda m: (-mass[m], m)):
        if mass[m] <= 0:
            break
        hood = np.append(neighbours[m], m)
        w = probs[hood]
        ab = (w @ centers[hood]) / w.sum() if w.sum() > 0 else centers[m]
        close = [c for c in kept if np.hypot(*(c[0] - ab)) < separation]
        if close:
            close[0][1] += mass[m]
        else:
            kept.append([ab, float(mass[m])])
    found = [_suggestion(ab, p, float(lightness)) for ab, p in kept if p >= min_probability]
    found = [s for s in found if s.in_gamut or keep_out_of_gamut]
    return sorted(found, key=lambda s: -s.probability)[:int(k)]


def swatch_png(suggestions, path: str | Path, *, swatch: int = 64) -> Path:
    """Write the suggestions as a row of ``swatch`` x ``swatch`` colour squares labelled with their
    hex and percentage (out-of-gamut ones marked "~"), atomically; returns the path."""
    from PIL import Image, ImageDraw  # on demand: PIL is only needed for the picture

    suggestions = list(suggestions)
    label = 28
    width = max(1, len(suggestions)) * swatch
    image = Image.new("RGB", (width, swatch + label), "white")
    draw = ImageDraw.Draw(image)
    if not suggestions:
        draw.text((4, swatch // 2), "none", fill="black")
    for i, s in enumerate(suggestions):
        x = i * swatch
        draw.rectangle([x, 0, x + swatch - 1, swatch - 1], fill=tuple(s.rgb_u8))
        mark = "" if s.in_gamut else "~"
        draw.text((x + 3, swatch + 2), s.hex, fill="black")
        draw.text((x + 3, swatch + 14), f"{mark}{100 * s.probability:.0f}%", fill="black")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return atomic_write_bytes(path, buffer.getvalue())
