"""Per-image colourfulness scores (pure numpy; the folder ranking is ``inspect.rank_folder``).

Pipeline position: photos -> [this: score / filter photos] -> quantize -> encode targets -> network
-> loss -> decode -> colour image -> metrics / reports. Layer: beside ``read`` at the bottom of
``colorclass.photos`` (imports nothing of colorclass), so that ``scan`` can score photos.

Two scores, both computed on 8-bit RGB in 0..255 units and both exactly 0 for a gray image:

* ``channel_variance``: the variance of the three channel values of each pixel, averaged over the
  image (``mean_p var(R_p, G_p, B_p)``). It is a saturation-like measure that ignores lightness.
* ``hasler_susstrunk``: the colourfulness metric of Hasler and Suesstrunk (2003),
  ``M = sqrt(std_rg^2 + std_yb^2) + 0.3 * sqrt(mean_rg^2 + mean_yb^2)`` with ``rg = R - G`` and
  ``yb = (R + G) / 2 - B``. Their perceptual scale: 0 not colourful, 15 slightly, 33 moderately,
  45 averagely, 59 quite, 82 highly, 109 extremely colourful.

``ImageFolderDataset(min_colorfulness=...)`` and ``scan_images`` filter on ``hasler_susstrunk``;
``rank_folder`` (in ``inspect.py``) ranks a folder by it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["channel_variance", "hasler_susstrunk", "colorfulness_scores"]


def _as_rgb_float(rgb_u8: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 -> (N, 3) float64 pixel list in 0..255."""
    rgb = np.asarray(rgb_u8)
    if rgb.ndim < 2 or rgb.shape[-1] != 3:
        raise ValueError(f"expected an RGB array of shape (..., 3), got shape {rgb.shape}; "
                         "load photos with colorclass.photos.load_rgb")
    if rgb.size == 0:
        raise ValueError(f"expected a non-empty RGB array, got shape {rgb.shape}")
    return rgb.reshape(-1, 3).astype(np.float64)


def channel_variance(rgb_u8: np.ndarray) -> float:
    """Mean over pixels of the variance of (R, G, B); ``rgb_u8``: (..., 3) uint8. Gray -> 0."""
    return float(_as_rgb_float(rgb_u8).var(axis=1).mean())


def hasler_susstrunk(rgb_u8: np.ndarray) -> float:
    """Hasler-Suesstrunk colourfulness M of ``rgb_u8`` ((..., 3) uint8, 0..255 units). Gray -> 0."""
    px = _as_rgb_float(rgb_u8)
    r, g, b = px[:, 0], px[:, 1], px[:, 2]
    rg = r - g
    yb = 0.5 * (r + g) - b
    std_term = np.sqrt(rg.var() + yb.var())
    mean_term = np.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    return float(std_term + 0.3 * mean_term)


def colorfulness_scores(rgb_u8: np.ndarray) -> dict[str, float]:
    """Both scores of one image: ``{"colorfulness": M, "channel_variance": v}``."""
    return {"colorfulness": hasler_susstrunk(rgb_u8), "channel_variance": channel_variance(rgb_u8)}

