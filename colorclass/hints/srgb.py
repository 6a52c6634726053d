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

from colorclass import cie

__all__ = [
    "hex_to_rgb_u8", "rgb_u8_to_hex", "rgb01_to_lab", "lab_to_rgb01_unclipped", "in_gamut", "rgb01_to_u8",
    "GAMUT_TOLERANCE",
]

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
    """sRGB (N, 3) in [0, 1] -> Lab (N, 3) float64 (``colorclass.cie``, as ``colorclass.color``)."""
    return cie.rgb_to_lab(np.asarray(rgb01, dtype=np.float64).reshape(-1, 3))


def lab_to_rgb01_unclipped(lab) -> np.ndarray:
    """Lab (N, 3) -> sRGB (N, 3) float64, NOT clipped: a colour exists in sRGB at that lightness when
    every channel lies in [0, 1] (give or take GAMUT_TOLERANCE). Negative linear light stays linear
    (as ``colorclass.color.lab_to_rgb(..., clip=False)``)."""
    return cie.lab_to_rgb(np.asarray(lab, dtype=np.float64).reshape(-1, 3), clip=False)[0]


def in_gamut(rgb01_unclipped) -> np.ndarray:
    """(N, 3) unclipped sRGB -> (N,) bool: every channel within [0, 1] +- GAMUT_TOLERANCE."""
    rgb = np.asarray(rgb01_unclipped, dtype=np.float64).reshape(-1, 3)
    return np.asarray(((rgb >= -GAMUT_TOLERANCE) & (rgb <= 1 + GAMUT_TOLERANCE)).all(1))


def rgb01_to_u8(rgb01) -> np.ndarray:
    """(N, 3) sRGB, clipped to [0, 1] and rounded -> (N, 3) uint8."""
    return np.round(np.clip(np.asarray(rgb01, dtype=np.float64), 0, 1) * 255).astype(np.uint8).reshape(-1, 3)
