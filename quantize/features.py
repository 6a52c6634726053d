"""Colour features shared by the bin families: input checks, RGB -> Lab / Hue-Chroma, Gaussian weights.

Pipeline: photos -> **quantize (fit bins) -> encode targets** -> network -> loss -> decode -> ...

Pure functions on numpy pixel lists; the colour conversions come from ``colorclass.color`` (the
only part of colorclass that quantize imports).
"""
from __future__ import annotations

import numpy as np
import torch

from colorclass.color import hcl_to_rgb, rgb_to_hcl, rgb_to_lab


def check_rgb01(rgb: np.ndarray, name: str = "rgb") -> np.ndarray:
    """Validate a pixel list ``(N, 3)`` float in [0, 1]; returns it as float32."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 2 or rgb.shape[1] != 3 or not np.issubdtype(rgb.dtype, np.floating):
        raise ValueError(f"{name} must be a float array (N, 3) in [0, 1], got {rgb.dtype} {rgb.shape}; "
                         "for uint8 pixels pass pixels / 255")
    if rgb.size and (rgb.min() < -1e-6 or rgb.max() > 1 + 1e-6):
        raise ValueError(f"{name} values must lie in [0, 1], got [{rgb.min():.3g}, {rgb.max():.3g}]")
    return np.ascontiguousarray(rgb, dtype=np.float32)


def check_pixels_u8(pixels: np.ndarray) -> np.ndarray:
    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8 or pixels.ndim != 2 or pixels.shape[1] != 3:
        raise ValueError(f"pixels must be a uint8 array (N, 3), got {pixels.dtype} {pixels.shape}")
    if len(pixels) == 0:
        raise ValueError("pixels is empty; sample some photos first (colorclass.photos.sample_pixels)")
    return pixels


def rgb01_to_lab(rgb: np.ndarray) -> np.ndarray:
    """(N, 3) sRGB in [0, 1] -> (N, 3) float32 Lab (colorclass.color.rgb_to_lab)."""
    return rgb_to_lab(torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32)), dim=-1).numpy()


def rgb01_to_hc_embedding(rgb: np.ndarray) -> np.ndarray:
    """(N, 3) sRGB in [0, 1] -> (N, 2) float32 wrap-safe Hue-Chroma plane (c cos h, c sin h)."""
    hcl = rgb_to_hcl(torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32)), dim=-1).numpy()
    return hc_to_embedding(hcl[:, :2])


def hc_to_embedding(hc: np.ndarray) -> np.ndarray:
    """(N, 2) (hue radians, chroma) -> (N, 2) (c cos h, c sin h)."""
    h, c = hc[:, 0], hc[:, 1]
    return np.stack([c * np.cos(h), c * np.sin(h)], 1).astype(np.float32)


def embedding_to_hc(xy: np.ndarray) -> np.ndarray:
    """Inverse of :func:`hc_to_embedding`; hue in [0, 2 pi)."""
    hue = np.mod(np.arctan2(xy[:, 1], xy[:, 0]), 2 * np.pi)
    return np.stack([hue, np.hypot(xy[:, 0], xy[:, 1])], 1).astype(np.float32)


def hc_display_ab(hc: np.ndarray, lightness: float = 0.5) -> np.ndarray:
    """Display ab of Hue-Chroma centres, rendered at HCL lightness ``lightness``: (Q, 2) float32."""
    hcl = np.concatenate([hc, np.full((len(hc), 1), lightness)], 1).astype(np.float32)
    rgb = hcl_to_rgb(torch.from_numpy(hcl), dim=-1).numpy()
    return rgb01_to_lab(rgb)[:, 1:].astype(np.float32)


def gaussian_weights(dist: np.ndarray, sigma: float) -> np.ndarray:
    """(N, n) distances -> (N, n) float32 Gaussian weights summing to 1 per row."""
    logw = -(dist.astype(np.float64) ** 2) / (2.0 * sigma ** 2)
    w = np.exp(logw - logw.max(1, keepdims=True))
    return (w / w.sum(1, keepdims=True)).astype(np.float32)
