"""Colour-space conversions: the first and last step of the pipeline.

    photos (sRGB) -> *Lab / HCL* -> quantize -> ... -> decode -> *Lab -> sRGB* colour image

Pure, batched torch functions (CPU and CUDA, any float dtype) first, thin ``nn.Module``
wrappers last; the constants and 8-bit tables are those of ``colorclass.cie`` (one home).
Conventions match scikit-image's ``rgb2lab`` / ``lab2rgb``: sRGB primaries, D65 white point,
2-degree observer.

Shapes: every function takes the channel axis as ``dim`` (default ``-3``, i.e. images
``(B, 3, H, W)`` or ``(3, H, W)``); pass ``dim=-1`` for pixel lists ``(N, 3)``.

Ranges:
    rgb: [0, 1] (sRGB, gamma-encoded)
    lab: L in [0, 100], a in about [-86, 98], b in about [-108, 95] for in-gamut colours
    hcl: hue in radians [0, 2*pi), chroma C = V*S = max - min in [0, 1],
         lightness L = V - C/2 = (max + min) / 2 in [0, 1]
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import torch
from torch import Tensor, nn

from colorclass.cie import EPSILON as _EPSILON
from colorclass.cie import F_BREAK as _F_BREAK
from colorclass.cie import GRAY_L_U8 as _GRAY_L_U8
from colorclass.cie import KAPPA as _KAPPA
from colorclass.cie import RGB_FROM_XYZ as _RGB_FROM_XYZ
from colorclass.cie import WHITE_D65 as _WHITE_D65
from colorclass.cie import XYZ_FROM_RGB as _XYZ_FROM_RGB
from colorclass.cie import XYZ_TABLES as _XYZ_TABLES
from colorclass.support.errors import GamutWarning  # re-exported: the torch-free home

__all__ = [
    "rgb_to_lab", "lab_to_rgb", "lab_to_rgb_with_gamut", "rgb_to_hcl", "hcl_to_rgb",
    "lab_to_l_input", "l_input_to_lab_l", "rgb_u8_to_lab_np", "tensor_of", "rgb_u8_to_lab", "rgb_u8_to_lightness",
    "RgbToLab", "LabToRgb", "GamutWarning",
]



def _matrix(values, like: Tensor) -> Tensor:
    return torch.tensor(values, dtype=torch.float64, device=like.device).to(like.dtype)


def _apply_matrix(m: Tensor, x: Tensor, dim: int) -> Tensor:
    """Multiply the 3-vector along ``dim`` of ``x`` by the (3, 3) matrix ``m``."""
    x = x.movedim(dim, -1)
    return (x @ m.T).movedim(-1, dim)


def _check_channels(x: Tensor, dim: int, name: str) -> None:
    if not torch.is_tensor(x):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim == 0 or x.shape[dim] != 3:
        raise ValueError(
            f"{name} must have 3 channels on dim {dim}, got shape {tuple(x.shape)}; "
            "pass dim=-1 for (N, 3) pixel lists")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a float tensor in [0, 1], got dtype {x.dtype}; "
                        "divide uint8 images by 255")


def _srgb_to_linear(rgb: Tensor) -> Tensor:
    return torch.where(rgb > 0.04045, ((rgb.clamp(min=0.04045) + 0.055) / 1.055) ** 2.4, rgb / 12.92)


def _linear_to_srgb(lin: Tensor) -> Tensor:
    return torch.where(lin > 0.0031308, 1.055 * lin.clamp(min=0.0031308) ** (1 / 2.4) - 0.055, lin * 12.92)


def rgb_to_lab(rgb: Tensor, dim: int = -3) -> Tensor:
    """sRGB -> CIE Lab (D65).

    rgb: (..., 3, ...) float in [0, 1] with channels on ``dim``.
    Returns lab of the same shape: L in [0, 100], a and b in about [-110, 110].
    """
    _check_channels(rgb, dim, "rgb")
    xyz = _apply_matrix(_matrix(_XYZ_FROM_RGB, rgb), _srgb_to_linear(rgb), dim)
    white = _matrix(_WHITE_D65, rgb).view([3] + [1] * (rgb.ndim - 1 - (dim % rgb.ndim)))
    t = xyz / white
    if t.device.type == "cpu" and not t.requires_grad and t.dtype in (torch.float32, torch.float64):
        f = _f_lab_(t)
    else:
        f = torch.where(t > _EPSILON, t.clamp(min=_EPSILON) ** (1 / 3), _KAPPA * t + 16 / 116)
    fx, fy, fz = f.unbind(dim)
    return torch.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], dim)


def _lab_to_linear(lab: Tensor, dim: int) -> Tensor:
    L, a, b = lab.unbind(dim)
    fy = (L + 16) / 116
    # Negative fz is set to 0 before the inverse transfer, as scikit-image does.
    f = torch.stack([fy + a / 500, fy, (fy - b / 200).clamp(min=0)], dim)
    # f ** 3 where f is above the CIE breakpoint, linear part below (as scikit-image).
    t = torch.where(f > _F_BREAK, f.clamp(min=0) ** 3, (f - 16 / 116) / _KAPPA)
    white = _matrix(_WHITE_D65, lab).view([3] + [1] * (lab.ndim - 1 - (dim % lab.ndim)))
    return _apply_matrix(_matrix(_RGB_FROM_XYZ, lab), t * white, dim)


def lab_to_rgb_with_gamut(lab: Tensor, dim: int = -3) -> tuple[Tensor, Tensor]:
    """CIE Lab (D65) -> sRGB, clipped to [0, 1], with the out-of-gamut mask.

    lab: (..., 3, ...) float, channels on ``dim``.
    Returns (rgb of the same shape in [0, 1], mask of shape lab.shape without ``dim``,
    True where any channel had to be clipped by more than 1e-4).
    """
    _check_channels(lab, dim, "lab")
    lin = _lab_to_linear(lab, dim)
    srgb = _linear_to_srgb(lin.clamp(min=0))
    out_of_gamut = ((lin < -1e-4) | (srgb > 1 + 1e-4)).any(dim)
    return srgb.clamp(0, 1), out_of_gamut


def lab_to_rgb(lab: Tensor, dim: int = -3, clip: bool = True) -> Tensor:
    """CIE Lab (D65) -> sRGB in [0, 1].

    With ``clip=True`` out-of-gamut values are clipped and a ``GamutWarning`` says how many
    pixels were affected; with ``clip=False`` the unclipped values are returned (negative
    linear light is kept linear so that the function stays invertible).
    """
    if clip:
        rgb, mask = lab_to_rgb_with_gamut(lab, dim)
        n = int(mask.sum())
        if n:
            warnings.warn(f"{n} of {mask.numel()} pixels were outside the sRGB gamut and "
                          "were clipped", GamutWarning, stacklevel=2)
        return rgb
    _check_channels(lab, dim, "lab")
    lin = _lab_to_linear(lab, dim)
    return torch.where(lin > 0, _linear_to_srgb(lin.clamp(min=0)), lin * 12.92)


def rgb_to_hcl(rgb: Tensor, dim: int = -3) -> Tensor:
    """sRGB -> hue, chroma, lightness (the HSV/HSL family; used by Hue-Chroma bins).

    rgb: (..., 3, ...) in [0, 1]. Returns channels (hue radians in [0, 2*pi),
    chroma C = max - min = V*S in [0, 1], lightness L = V - C/2 = (max + min)/2 in [0, 1]).
    Hue of gray pixels (C = 0) is defined as 0.
    """
    _check_channels(rgb, dim, "rgb")
    r, g, b = rgb.unbind(dim)
    vmax, _ = rgb.max(dim)
    vmin, _ = rgb.min(dim)
    c = vmax - vmin
    safe = torch.where(c > 0, c, torch.ones_like(c))
    h = torch.where(vmax == r, ((g - b) / safe) % 6,
                    torch.where(vmax == g, (b - r) / safe + 2, (r - g) / safe + 4))
    h = torch.where(c > 0, h, torch.zeros_like(h)) * (math.pi / 3)
    h = torch.remainder(h, 2 * math.pi)
    return torch.stack([h, c, vmax - c / 2], dim)


def hcl_to_rgb(hcl: Tensor, dim: int = -3) -> Tensor:
    """Inverse of :func:`rgb_to_hcl`. Hue in radians (any value, taken modulo 2*pi).

    Chroma larger than a lightness allows (C > 2 * min(L, 1 - L)) gives values outside
    [0, 1]; they are clipped.
    """
    _check_channels(hcl, dim, "hcl")
    h, c, light = hcl.unbind(dim)
    hp = torch.remainder(h, 2 * math.pi) / (math.pi / 3)
    x = c * (1 - (hp % 2 - 1).abs())
    zero = torch.zeros_like(c)
    sector = hp.floor().clamp(0, 5)
    table = [(c, x, zero), (x, c, zero), (zero, c, x), (zero, x, c), (x, zero, c), (c, zero, x)]
    r = g = b = zero
    for k, (rr, gg, bb) in enumerate(table):
        sel = sector == k
        r, g, b = torch.where(sel, rr, r), torch.where(sel, gg, g), torch.where(sel, bb, b)
    m = light - c / 2
    return (torch.stack([r, g, b], dim) + m.unsqueeze(dim)).clamp(0, 1)


def lab_to_l_input(lab_l: Tensor) -> Tensor:
    """Lab lightness L in [0, 100] -> network input in [-1, 1] (same shape)."""
    return lab_l / 50.0 - 1.0


def l_input_to_lab_l(x: Tensor) -> Tensor:
    """Network input in [-1, 1] -> Lab lightness L in [0, 100] (same shape)."""
    return (x + 1.0) * 50.0


# ----------------------------------------------------------------------------- uint8 fast paths
# table lookups (colorclass.cie's 8-bit tables: linearisation, XYZ contributions, gray L)

def _f_lab_(t: Tensor) -> Tensor:
    """CIE f(t) in place on a float32 tensor. On CPU numpy's vectorised ``cbrt`` is used (several
    times faster than ``torch.pow(t, 1/3)``); the linear part is patched in where t <= epsilon."""
    if t.device.type != "cpu" or t.dtype not in (torch.float32, torch.float64):
        return torch.where(t > _EPSILON, t.clamp(min=_EPSILON).pow(1 / 3), t * _KAPPA + 16 / 116)
    a = t.numpy()
    small = a <= _EPSILON
    linear = a[small] * _KAPPA + 16 / 116
    np.cbrt(a, out=a)
    a[small] = linear
    return t


def _lookup(table: np.ndarray, x_u8: Tensor) -> Tensor:
    """table[x] for a uint8 tensor x (any shape) -> float32 tensor of x's shape and device."""
    if x_u8.device.type == "cpu":   # numpy's take indexes with uint8 directly: no int64 copy
        return torch.from_numpy(np.take(table, x_u8.numpy()))
    return torch.from_numpy(table).to(x_u8.device)[x_u8.long()]


def _check_u8(rgb_u8: Tensor, dim: int) -> None:
    if not torch.is_tensor(rgb_u8) or rgb_u8.dtype != torch.uint8 or rgb_u8.ndim == 0 or rgb_u8.shape[dim] != 3:
        shape = tuple(rgb_u8.shape) if torch.is_tensor(rgb_u8) else type(rgb_u8).__name__
        raise ValueError(f"expected a uint8 tensor with 3 channels on dim {dim}, got "
                         f"{getattr(rgb_u8, 'dtype', '?')} {shape}")


def _f_xyz(channels: tuple[Tensor, Tensor, Tensor], row: int) -> Tensor:
    """f(X / Xn), f(Y / Yn) or f(Z / Zn) (row 0, 1, 2) of uint8 channel planes: three lookups, f."""
    tables = _XYZ_TABLES[row]
    t = _lookup(tables[0], channels[0]).add_(_lookup(tables[1], channels[1]))
    return _f_lab_(t.add_(_lookup(tables[2], channels[2])))


def rgb_u8_to_lab(rgb_u8: Tensor, dim: int = -3) -> Tensor:
    """uint8 sRGB -> float32 CIE Lab, same as ``rgb_to_lab(rgb_u8 / 255)`` (within 1e-4) but faster.

    rgb_u8: (..., 3, ...) uint8 with channels on ``dim`` (CPU or CUDA). Returns float32 Lab.
    """
    _check_u8(rgb_u8, dim)
    r, g, b = rgb_u8.unbind(dim)   # 3 planes: _check_u8 checked the size of dim
    channels = (r, g, b)
    fx, fy, fz = (_f_xyz(channels, row) for row in range(3))
    return torch.stack([fy * 116 - 16, fx.sub_(fy).mul_(500), fz.neg_().add_(fy).mul_(200)], dim)


def rgb_u8_to_lightness(rgb_u8: Tensor, dim: int = -3) -> Tensor:
    """uint8 sRGB -> float32 Lab L in [0, 100], keeping ``dim`` with size 1: (B, 3, H, W) -> (B, 1, H, W).

    Skips a and b. Gray photos (R = G = B everywhere) take one table lookup per pixel.
    """
    _check_u8(rgb_u8, dim)
    r, g, b = rgb_u8.unbind(dim)
    channels = (r, g, b)
    if bool(torch.equal(r, g) and torch.equal(g, b)):
        return _lookup(_GRAY_L_U8, r).unsqueeze(dim)
    return _f_xyz(channels, 1).mul_(116).sub_(16).unsqueeze(dim)


def tensor_of(array: np.ndarray) -> torch.Tensor:
    """A CPU tensor sharing ``array``'s memory when it is contiguous and writable, else of a copy
    (photos decoded by Pillow are read-only views; torch must not alias them)."""
    if not (array.flags.c_contiguous and array.flags.writeable):
        array = np.array(array, order="C")
    return torch.from_numpy(array)


def rgb_u8_to_lab_np(rgb_u8: np.ndarray) -> np.ndarray:
    """NumPy convenience: uint8 sRGB (..., 3) -> float32 Lab (..., 3)."""
    rgb_u8 = np.asarray(rgb_u8)
    if rgb_u8.dtype != np.uint8 or rgb_u8.shape[-1:] != (3,):
        raise ValueError(f"expected a uint8 array (..., 3), got {rgb_u8.dtype} {rgb_u8.shape}")
    return rgb_u8_to_lab(tensor_of(rgb_u8), dim=-1).numpy()


class RgbToLab(nn.Module):
    """Module form of :func:`rgb_to_lab`; (B, 3, H, W) in [0, 1] -> Lab."""

    def forward(self, rgb: Tensor) -> Tensor:
        return rgb_to_lab(rgb)


class LabToRgb(nn.Module):
    """Module form of :func:`lab_to_rgb`; Lab (B, 3, H, W) -> sRGB in [0, 1], clipped."""

    def forward(self, lab: Tensor) -> Tensor:
        return lab_to_rgb_with_gamut(lab)[0]
