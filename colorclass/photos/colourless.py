"""The one definition of a colourless photo, for numpy images and for torch batches.

Pipeline position: [this: photos (which photos carry colour)] -> quantize (fit bins) -> encode
targets -> network -> loss -> decode -> colour image -> metrics / reports. Used by the folder scan
(``scan.check_file`` skips such photos as "no colour") and by ``colorclass.training.colorization_task`` (such images are
masked out of the loss and the metrics). Imports nothing of colorclass.

Rule: a pixel is *coloured* when ``max(R, G, B) - min(R, G, B) > COLOURLESS_TOL`` (8-bit levels);
an image is *colourless* when at most ``COLOURLESS_FRACTION`` of its pixels are coloured. The
defaults (10 levels, 1 %) ignore JPEG chroma noise and slight tints; tuned on Tiny ImageNet val
and CIFAR-10 test.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["COLOURLESS_TOL", "COLOURLESS_FRACTION", "is_colourless", "is_colourless_batch"]

COLOURLESS_TOL = 10         # 8-bit levels of max-min channel difference still counted as gray
COLOURLESS_FRACTION = 0.01  # at most this fraction of pixels may exceed the tolerance


def is_colourless(rgb_u8: np.ndarray, *, tol: float = COLOURLESS_TOL,
                  fraction: float = COLOURLESS_FRACTION) -> bool:
    """True when ``rgb_u8`` ((..., 3) uint8, channels last) carries no colour (see module rule)."""
    rgb = np.asarray(rgb_u8)
    if rgb.ndim < 2 or rgb.shape[-1] != 3 or rgb.size == 0:
        raise ValueError(f"expected a non-empty RGB array of shape (..., 3), got shape {rgb.shape}")
    r, g, b = (rgb[..., c] for c in range(3))   # channel by channel: ~10x a reduce over axis -1
    spread = np.maximum(np.maximum(r, g), b) - np.minimum(np.minimum(r, g), b)   # >= 0, no overflow
    return bool(np.count_nonzero(spread > tol) <= fraction * spread.size)


def is_colourless_batch(rgb_u8: Tensor, *, tol: float = COLOURLESS_TOL,
                        fraction: float = COLOURLESS_FRACTION) -> Tensor:
    """(B, 3, H, W) uint8 tensor -> (B,) bool: ``is_colourless`` of each image, on its device."""
    if rgb_u8.dim() != 4 or rgb_u8.shape[1] != 3:
        raise ValueError(f"expected a (B, 3, H, W) RGB batch, got shape {tuple(rgb_u8.shape)}")
    spread = rgb_u8.amax(dim=1).int() - rgb_u8.amin(dim=1).int()   # (B, H, W)
    coloured = (spread > tol).flatten(1).sum(dim=1)                 # (B,) int64
    return coloured <= fraction * (spread.shape[1] * spread.shape[2])
