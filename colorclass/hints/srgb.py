"""Torch-free sRGB <-> CIE Lab for the few colours hints deal in (a hex colour, a suggestion swatch).

    "#rrggbb" -> *hex_to_rgb_u8* -> *rgb01_to_lab* -> hint ab      (points.parse_hints)
    mode ab + pixel L -> *lab_to_rgb01_unclipped* -> gamut check, swatch colour   (suggest)

A NumPy twin of ``colorclass.color`` (same constants: sRGB primaries, D65 white, 2-degree observer,
scikit-image conventions), because that module imports torch and the hints file format, the Levin
solver and the suggestions must work in a torch-free process (a web page's server, the CLI's checks).
tests/test_hints_points.py checks the two agree within 1e-4.

Shapes and ranges:
    rgb01: (N, 3) float64 sRGB, gamma-encoded, in [0, 1] (unclipped output may leave it)
    lab:   (N, 3) float64, L in [0, 100], a and b in about [-128, 127]
    rgb_u8: tuple of three ints in [0, 255]; hex: "#rrggbb" (lower case on output)
"""
from __future__ import annotations

import re

import numpy as np

__all__ = [
    "hex_to_rgb_u8", "rgb_u8_to_hex", "rgb01_to_lab", "lab_to_rgb01_unclipped", "in_gamut", "rgb01_to_u8",
    "GAMUT_TOLERANCE",
]

_WHITE_D65 = np.array([0.95047, 1.0, 1.08883])
_XYZ_FROM_RGB = np.array([
    [0.412453, 0.357580, 0.180423],
    [0.212671, 0.715160, 0.072169],
    [0.019334, 0.119193, 0.950227],
])
_RGB_FROM_XYZ = np.linalg.inv(_XYZ_FROM_RGB)
_EPSILON = 0.008856  # (6/29)^3, CIE threshold
_KAPPA = 7.787       # (29/6)^2 / 3
_HEX = re.compile(r"#[0-9a-fA-F]{6}")
GAMUT_TOLERANCE = 1.0 / 255.0  # an sRGB channel may leave [0, 1] by this much and still count as in gamut


def hex_to_rgb_u8(text: str) -> tuple[int, int, int] | None:
    """``"#rrggbb"`` (either case) -> (r, g, b) ints in [0, 255]; None when ``text`` is not that form."""
    if not isinstance(text, str) or not _HEX.fullmatch(text):
        return None
    return int(text[1:3], 16), int(text[3:5], 16), int(text[5:7], 16)


def rgb_u8_to_hex(rgb_u8) -> str:
    """(r, g, b) ints in [0, 255] -> ``"#rrggbb"``."""
    r, g, b = (int(v) for v in rgb_u8)
    return f"#{r:02x}{g:02x}{b:02x}"


def rgb01_to_lab(rgb01) -> np.ndarray:
    """sRGB (N, 3) in [0, 1] -> Lab (N, 3) float64 (as ``colorclass.color.rgb_to_lab``)."""
    rgb = np.asarray(rgb01, dtype=np.float64).reshape(-1, 3)
    lin = np.where(rgb > 0.04045, ((np.maximum(rgb, 0.04045) + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    t = lin @ _XYZ_FROM_RGB.T / _WHITE_D65
    f = np.where(t > _EPSILON, np.cbrt(np.maximum(t, _EPSILON)), _KAPPA * t + 16 / 116)
    fx, fy, fz = f[:, 0], f[:, 1], f[:, 2]
    return np.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], 1)


def lab_to_rgb01_unclipped(lab) -> np.ndarray:
    """Lab (N, 3) -> sRGB (N, 3) float64, NOT clipped: a colour exists in sRGB at that lightness when
    every channel lies in [0, 1] (give or take GAMUT_TOLERANCE). Negative linear light stays linear
    (as ``colorclass.color.lab_to_rgb(..., clip=False)``)."""
    lab = np.asarray(lab, dtype=np.float64).reshape(-1, 3)
    fy = (lab[:, 0] + 16) / 116
    f = np.stack([fy + lab[:, 1] / 500, fy, np.maximum(fy - lab[:, 2] / 200, 0)], 1)
    t = np.where(f > 0.2068966, np.maximum(f, 0) ** 3, (f - 16 / 116) / _KAPPA)
    lin = (t * _WHITE_D65) @ _RGB_FROM_XYZ.T
    pos = np.maximum(lin, 0.0031308)
    return np.where(lin > 0.0031308, 1.055 * pos ** (1 / 2.4) - 0.055, lin * 12.92)


def in_gamut(rgb01_unclipped) -> np.ndarray:
    """(N, 3) unclipped sRGB -> (N,) bool: every channel within [0, 1] +- GAMUT_TOLERANCE."""
    rgb = np.asarray(rgb01_unclipped, dtype=np.float64).reshape(-1, 3)
    return ((rgb >= -GAMUT_TOLERANCE) & (rgb <= 1 + GAMUT_TOLERANCE)).all(1)


def rgb01_to_u8(rgb01) -> np.ndarray:
    """(N, 3) sRGB, clipped to [0, 1] and rounded -> (N, 3) uint8."""
    return np.round(np.clip(np.asarray(rgb01, dtype=np.float64), 0, 1) * 255).astype(np.uint8).reshape(-1, 3)
