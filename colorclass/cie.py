"""CIE Lab <-> sRGB: the one home of the constants, the 8-bit tables and the NumPy conversions.

    sRGB (gamma) <-> linear light <-> XYZ (D65, 2-degree observer) <-> Lab

Every Lab conversion of colorclass uses these numbers: ``colorclass.color`` (torch, CPU and
CUDA), the recombination of ``decoding.decoders``, the torch-free engine
(``inference.numpy_steps``) and the hint colours (``hints.srgb``). Conventions match
scikit-image's ``rgb2lab`` / ``lab2rgb``. NumPy only: importing this never imports torch.

Shapes: pixel lists ``(..., 3)`` with channels last. Ranges: rgb in [0, 1]; L in [0, 100],
a and b in about [-110, 110].
"""
from __future__ import annotations

import numpy as np

__all__ = ["WHITE_D65", "XYZ_FROM_RGB", "RGB_FROM_XYZ", "EPSILON", "KAPPA", "F_BREAK", "HIGH_LINEAR",
           "LINEAR_U8", "XYZ_TABLES", "GRAY_L_U8", "f_lab", "f_lab_inverse", "srgb_to_linear",
           "linear_to_srgb", "rgb_to_lab", "lab_to_linear", "lab_to_rgb"]

WHITE_D65 = (0.95047, 1.0, 1.08883)
XYZ_FROM_RGB = (
    (0.412453, 0.357580, 0.180423),
    (0.212671, 0.715160, 0.072169),
    (0.019334, 0.119193, 0.950227),
)
RGB_FROM_XYZ: tuple[tuple[float, ...], ...] = tuple(
    tuple(row) for row in np.linalg.inv(np.array(XYZ_FROM_RGB, dtype=np.float64)).tolist())
EPSILON = 0.008856   # (6/29)^3, the CIE threshold of f
KAPPA = 7.787        # (29/6)^2 / 3, the slope of f's linear part
F_BREAK = 0.2068966  # 6/29: f above it is a cube root, below it linear
HIGH_LINEAR = ((1 + 1e-4 + 0.055) / 1.055) ** 2.4   # linear light whose sRGB value is 1 + 1e-4 (gamut test)


def f_lab(t: np.ndarray) -> np.ndarray:
    """CIE f(t): cube root above EPSILON, linear below (float64 NumPy)."""
    t = np.asarray(t, dtype=np.float64)
    return np.where(t > EPSILON, np.cbrt(np.maximum(t, EPSILON)), KAPPA * t + 16 / 116)


def f_lab_inverse(f: np.ndarray) -> np.ndarray:
    """CIE f^-1: f ** 3 above F_BREAK, linear below (as scikit-image)."""
    f = np.asarray(f, dtype=np.float64)
    return np.where(f > F_BREAK, np.maximum(f, 0) ** 3, (f - 16 / 116) / KAPPA)


def srgb_to_linear(rgb: np.ndarray) -> np.ndarray:
    """sRGB in [0, 1] -> linear light (float64)."""
    rgb = np.asarray(rgb, dtype=np.float64)
    return np.where(rgb > 0.04045, ((np.maximum(rgb, 0.04045) + 0.055) / 1.055) ** 2.4, rgb / 12.92)


def linear_to_srgb(lin: np.ndarray) -> np.ndarray:
    """Linear light -> sRGB (float64), not clipped."""
    lin = np.asarray(lin, dtype=np.float64)
    return np.where(lin > 0.0031308, 1.055 * np.maximum(lin, 0.0031308) ** (1 / 2.4) - 0.055, lin * 12.92)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB (..., 3) in [0, 1] -> Lab (..., 3) float64."""
    t = srgb_to_linear(rgb) @ np.array(XYZ_FROM_RGB).T / np.array(WHITE_D65)
    f = f_lab(t)
    fx, fy, fz = f[..., 0], f[..., 1], f[..., 2]
    return np.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], -1)


def lab_to_linear(lab: np.ndarray) -> np.ndarray:
    """Lab (..., 3) -> linear-light sRGB (..., 3) float64, not clipped (negative fz set to 0
    before the inverse transfer, as scikit-image does)."""
    lab = np.asarray(lab, dtype=np.float64)
    fy = (lab[..., 0] + 16) / 116
    f = np.stack([fy + lab[..., 1] / 500, fy, np.maximum(fy - lab[..., 2] / 200, 0)], -1)
    return (f_lab_inverse(f) * np.array(WHITE_D65)) @ np.array(RGB_FROM_XYZ).T


def lab_to_rgb(lab: np.ndarray, *, clip: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Lab (..., 3) -> (sRGB (..., 3) float64, clipped to [0, 1] unless ``clip`` is False;
    out-of-gamut mask (...,): True where a channel left [0, 1] by more than 1e-4)."""
    lin = lab_to_linear(lab)
    out_of_gamut = ((lin < -1e-4) | (lin > HIGH_LINEAR)).any(-1)
    rgb = linear_to_srgb(np.maximum(lin, 0) if clip else lin)
    return np.asarray(np.clip(rgb, 0, 1) if clip else rgb), np.asarray(out_of_gamut)


# ----------------------------------------------------------------------------- 8-bit tables
# 8-bit inputs take only 256 values per channel: the sRGB linearisation (the costly ``** 2.4``) is a
# 256-entry table, computed once in float64. Luminance Y is a weighted sum of three such tables, and
# for gray pixels (R = G = B) Lab L depends on the gray level alone (one more table).
_LEVELS = np.arange(256, dtype=np.float64) / 255
LINEAR_U8 = srgb_to_linear(_LEVELS)
# XYZ_TABLES[i][c][v]: contribution of channel c at level v to X / Xn, Y / Yn, Z / Zn (float32)
XYZ_TABLES = [[(row[c] / white * LINEAR_U8).astype(np.float32) for c in range(3)]
              for row, white in zip(XYZ_FROM_RGB, WHITE_D65)]
GRAY_L_U8 = (116 * f_lab(LINEAR_U8 * sum(XYZ_FROM_RGB[1])) - 16).astype(np.float32)
