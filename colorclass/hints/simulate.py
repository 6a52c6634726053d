"""Simulated users: hint points drawn from the true colours, for training and for evaluation.

    true ab (B, 2, H, W) -> *draw_counts* -> *draw_patches* -> *patch_means*
        -> *simulate_hint_planes* (B, 3, H, W) [a/110, b/110, mask]   (training input, points.hint_planes)
    true ab (2, H, W) + n_points + seed -> *simulate_points* -> list[Hint]  (evaluation: the same
        hints for every method; also writable with points.hints_to_json)

As in Zhang et al., "Real-Time User-Guided Image Colorization with Learned Deep Priors" (SIGGRAPH
2017): a sample gets no hint at all with probability ``zero_fraction`` (default 0.5, so the network
still learns to colourise alone); otherwise its number of points is Geometric(p) on {1, 2, ...}
(default p = 1/8, mean 1/p = 8), capped at ``max_points``. Each point is a p x p patch, p uniform
in 1..max_patch (default 9, lowered to the photo's shorter side), at a uniformly random position
inside the photo, and reveals the MEAN true ab of that patch over the whole patch (mask 1 there).
Later patches overwrite earlier ones where they overlap. (Zhang et al. draw positions from a
Gaussian around the centre; they report uniform works as well, and it is what is used here.)

Shapes, dtypes and ranges:
    ab: (B, 2, H, W) float tensor, Lab chroma in about [-110, 110] (any device)
    counts: (B,) int64 (CPU); Patches fields: (P,) int64 (CPU), P = counts.sum()
    planes: (B, 3, H, W) float32 on ab's device: [a / 110, b / 110, mask in {0, 1}]

Deterministic given a ``torch.Generator`` (or ``seed``); all random draws are made on the CPU,
so a seed gives the same hints on every device.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from colorclass.hints.points import MAX_HINTS, Hint, hint_planes
from colorclass.support.errors import ColorclassError

__all__ = ["Patches", "DEFAULT_P", "DEFAULT_ZERO_FRACTION", "DEFAULT_MAX_PATCH", "MAX_POINTS",
           "make_generator", "draw_counts", "draw_patches", "patch_means", "simulate_hint_planes",
           "simulate_points"]

DEFAULT_P = 1 / 8
DEFAULT_ZERO_FRACTION = 0.5
DEFAULT_MAX_PATCH = 9
MAX_POINTS = 200  # cap on a geometric draw; P(N > 200) = (7/8)^200 ~ 2.5e-12 at p = 1/8


@dataclass(frozen=True)
class Patches:
    """Square patches of a batch: patch i lies in sample ``batch[i]`` at rows y0..y0+size-1 and
    columns x0..x0+size-1. ``counts[b]`` is the number of patches of sample b (order: by sample)."""

    batch: Tensor
    y0: Tensor
    x0: Tensor
    size: Tensor
    counts: Tensor


def make_generator(generator: torch.Generator | None = None, seed: int | None = None) -> torch.Generator | None:
    """The generator to draw with: ``generator`` if given, else a CPU one seeded with ``seed``, else None
    (torch's global generator)."""
    if generator is not None:
        return generator
    return None if seed is None else torch.Generator().manual_seed(int(seed))


def _check_probability(name: str, value: float, low_open: bool) -> float:
    v = float(value)
    ok = (0 < v <= 1) if low_open else (0 <= v <= 1)
    if not ok:
        raise ColorclassError(f"{name}={value!r} is not a probability; give a number in "
                              f"{'(0, 1]' if low_open else '[0, 1]'}")
    return v


def draw_counts(batch: int, *, generator: torch.Generator | None = None, p: float = DEFAULT_P,
                zero_fraction: float = DEFAULT_ZERO_FRACTION, max_points: int = MAX_POINTS) -> Tensor:
    """Number of points per sample: (batch,) int64 on the CPU; 0 with probability ``zero_fraction``,
    else Geometric(p) on {1, 2, ...} capped at ``max_points``."""
    p = _check_probability("p", p, low_open=True)
    zero_fraction = _check_probability("zero_fraction", zero_fraction, low_open=False)
    none = torch.rand(batch, generator=generator, dtype=torch.float64) < zero_fraction
    u = 1.0 - torch.rand(batch, generator=generator, dtype=torch.float64)   # in (0, 1]
    failures = torch.zeros_like(u) if p == 1 else torch.floor(torch.log(u) / math.log1p(-p))
    counts = (1 + failures).clamp(max=max_points).to(torch.int64)   # inverse CDF of Geometric(p)
    return torch.where(none, torch.zeros_like(counts), counts)


def draw_patches(counts: Tensor, height: int, width: int, *, generator: torch.Generator | None = None,
                 max_patch: int = DEFAULT_MAX_PATCH) -> Patches:
    """Uniform patch sizes in 1..min(max_patch, height, width) and uniform positions inside the photo
    for ``counts[b]`` patches of each sample b."""
    if not 1 <= int(max_patch) <= 64:
        raise ColorclassError(f"max_patch={max_patch!r} must be a whole number in 1..64 (Zhang et al. use 9)")
    counts = torch.as_tensor(counts, dtype=torch.int64).cpu()
    n = int(counts.sum())
    batch = torch.repeat_interleave(torch.arange(len(counts)), counts)
    largest = min(int(max_patch), height, width)
    size = torch.randint(1, largest + 1, (n,), generator=generator)
    u = torch.rand(2, n, generator=generator, dtype=torch.float64)
    y0 = (u[0] * (height - size + 1)).to(torch.int64).clamp(max=height - size)
    x0 = (u[1] * (width - size + 1)).to(torch.int64).clamp(max=width - size)
    return Patches(batch=batch, y0=y0, x0=x0, size=size, counts=counts)


def patch_means(ab: Tensor, patches: Patches) -> Tensor:
    """Mean true ab of every patch: ab (B, 2, H, W) -> (P, 2) float32 on ab's device (one box filter
    per distinct patch size, then a gather)."""
    means = torch.zeros(len(patches.size), 2, dtype=torch.float32, device=ab.device)
    for s in torch.unique(patches.size).tolist():
        sel = (patches.size == s).nonzero().squeeze(1)
        pooled = F.avg_pool2d(ab.float(), int(s), stride=1)  # (B, 2, H - s + 1, W - s + 1)
        idx = [t[sel].to(ab.device) for t in (patches.batch, patches.y0, patches.x0)]
        means[sel.to(ab.device)] = pooled[idx[0], :, idx[1], idx[2]]
    return means


def _check_ab(ab: Tensor) -> None:
    if not isinstance(ab, Tensor) or ab.dim() != 4 or ab.shape[1] != 2 or not ab.is_floating_point():
        shape = tuple(ab.shape) if isinstance(ab, Tensor) else type(ab).__name__
        raise ValueError(f"ab must be a float tensor (B, 2, H, W) of true Lab chroma, got {shape}")


def simulate_hint_planes(ab: Tensor, *, generator: torch.Generator | None = None, seed: int | None = None,
                         p: float = DEFAULT_P, zero_fraction: float = DEFAULT_ZERO_FRACTION,
                         max_patch: int = DEFAULT_MAX_PATCH) -> Tensor:
    """Simulated user hints for a batch of true ab: (B, 2, H, W) -> planes (B, 3, H, W) float32 on
    ab's device, normalised by ``points.hint_planes``. Same ``generator`` state / ``seed``, same hints."""
    _check_ab(ab)
    g = make_generator(generator, seed)
    b, _, h, w = ab.shape
    patches = draw_patches(draw_counts(b, generator=g, p=p, zero_fraction=zero_fraction), h, w,
                           generator=g, max_patch=max_patch)
    means = patch_means(ab, patches)
    ab_map = torch.zeros(b, 2, h, w, dtype=torch.float32, device=ab.device)
    mask = torch.zeros(b, 1, h, w, dtype=torch.float32, device=ab.device)
    rows = zip(patches.batch.tolist(), patches.y0.tolist(), patches.x0.tolist(), patches.size.tolist())
    for i, (k, y0, x0, s) in enumerate(rows):
        ab_map[k, :, y0:y0 + s, x0:x0 + s] = means[i].view(2, 1, 1)
        mask[k, :, y0:y0 + s, x0:x0 + s] = 1.0
    return hint_planes(ab_map, mask)


def simulate_points(ab: np.ndarray, n_points: int, seed: int, *, max_patch: int = DEFAULT_MAX_PATCH) -> list[Hint]:
    """``n_points`` simulated hints for one photo's true ab (2, H, W) (numpy, Lab chroma), drawn with a
    fixed ``seed``: positions and sizes depend only on (seed, H, W, n_points), so every method under
    evaluation gets the same hints. Hint (x, y) is the patch's centre pixel (for even sizes the one
    above-left of centre) so that ``points.hint_maps`` paints back exactly the patch."""
    if isinstance(n_points, bool) or not isinstance(n_points, (int, np.integer)) or not 0 <= n_points <= MAX_HINTS:
        raise ColorclassError(f"n_points={n_points!r} must be a whole number in 0..{MAX_HINTS}")
    ab = np.asarray(ab)
    if ab.ndim != 3 or ab.shape[0] != 2 or not np.issubdtype(ab.dtype, np.floating):
        raise ValueError(f"ab must be a float array (2, H, W) of true Lab chroma, got {ab.dtype} {ab.shape}")
    g = torch.Generator().manual_seed(int(seed))
    patches = draw_patches(torch.tensor([int(n_points)]), ab.shape[1], ab.shape[2], generator=g, max_patch=max_patch)
    means = patch_means(torch.from_numpy(np.ascontiguousarray(ab, dtype=np.float32))[None], patches).tolist()
    return [Hint(x=x0 + (s - 1) // 2, y=y0 + (s - 1) // 2, ab=(float(m[0]), float(m[1])), size=s)
            for y0, x0, s, m in zip(patches.y0.tolist(), patches.x0.tolist(), patches.size.tolist(), means)]
