"""Decoders: per-pixel bin probabilities -> chroma -> full-resolution colour image.

Pipeline position: photos -> quantize (fit bins) -> encode targets -> network -> loss
-> **decode** -> colour image -> metrics / reports.

Shapes and ranges:

* ``logits``: ``(B, Q, h, w)`` float; ``centers_ab``: ``(Q, 2)`` Lab chroma of each bin;
  ``centers_hc``: ``(Q, 2)`` (hue in radians, chroma in [0, 1]) for Hue-Chroma bins.
* ``ab``: ``(B, 2, h, w)`` float32 Lab chroma; ``hc``: ``(B, 2, h, w)`` (hue radians in
  [0, 2*pi), chroma); ``lightness``: ``(B, 1, h, w)`` Lab L in [0, 100].

Rules: *mode* (colour of the most likely bin), *mean* (expected colour), *annealed mean*
(expected colour under ``softmax(logits / T)``, i.e. ``p ** (1/T)`` renormalised; ``T -> 0`` is
the mode, ``T = 1`` the mean; default ``T = 0.38`` as in Zhang et al. 2016). Hue-Chroma bins
average hue as an angle (``atan2`` of the probability-weighted sum of ``(sin, cos)``) and chroma
linearly, then find the colour with that hue and chroma whose Lab lightness equals the pixel's.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from colorclass.cie import F_BREAK, HIGH_LINEAR, KAPPA, RGB_FROM_XYZ, WHITE_D65
from colorclass.color import GamutWarning, hcl_to_rgb, rgb_to_lab
from colorclass.decoding.bins_protocol import ColourBins
from colorclass.decoding.rules import DEFAULT_TEMPERATURE

__all__ = [
    "ColourBins", "annealed_probabilities", "mode", "mean", "annealed_mean",
    "circular_hue_mean", "hue_chroma_mode", "hc_to_ab", "decode", "region_average",
    "recombine_full_resolution",
]

def _check_logits(logits: Tensor, centers: Tensor | np.ndarray, name: str) -> Tensor:
    if not isinstance(logits, Tensor) or logits.dim() != 4:
        shape = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
        raise ValueError(f"logits must be a (B, Q, h, w) tensor, got {shape}")
    if not bool(torch.isfinite(logits).all()):
        raise ValueError("logits contain NaN or infinite values; the network's weights or input are broken "
                         "(check the run folder's weights, or retrain)")
    centers = torch.as_tensor(np.asarray(centers) if not isinstance(centers, Tensor) else centers)
    if centers.dim() != 2 or centers.shape != (logits.shape[1], 2):
        raise ValueError(
            f"{name} must be (Q, 2) = ({logits.shape[1]}, 2) to match logits {tuple(logits.shape)}, "
            f"got {tuple(centers.shape)}; were the logits produced with these bins?"
        )
    return centers.to(device=logits.device, dtype=torch.float32)


def annealed_probabilities(logits: Tensor, temperature: float = 1.0) -> Tensor:
    """``softmax(logits / T)`` over dim 1: (B, Q, h, w) float32, sums to 1; T as checked by
    ``decoding.rules.check_temperature`` (the decoders trust what they are given)."""
    return torch.softmax(logits.float() / temperature, dim=1)


def _expectation(probs: Tensor, values: Tensor) -> Tensor:
    """sum_q probs[:, q] * values[q] -> (B, values.shape[1], h, w)."""
    return torch.einsum("bqhw,qc->bchw", probs, values)


def _argmax_lookup(logits: Tensor, values: Tensor) -> Tensor:
    top = logits.argmax(dim=1)  # (B, h, w)
    return values[top].permute(0, 3, 1, 2).contiguous()


def mode(logits: Tensor, centers_ab: Tensor | np.ndarray) -> Tensor:
    """Chroma of the most likely bin: logits (B, Q, h, w) -> ab (B, 2, h, w)."""
    return _argmax_lookup(logits, _check_logits(logits, centers_ab, "centers_ab"))


def mean(logits: Tensor, centers_ab: Tensor | np.ndarray) -> Tensor:
    """Expected chroma under softmax(logits): (B, Q, h, w) -> ab (B, 2, h, w)."""
    return annealed_mean(logits, centers_ab, 1.0)


def annealed_mean(logits: Tensor, centers_ab: Tensor | np.ndarray, temperature: float = DEFAULT_TEMPERATURE
                  ) -> Tensor:
    """Expected chroma under softmax(logits / T) -> ab (B, 2, h, w)."""
    centers = _check_logits(logits, centers_ab, "centers_ab")
    return _expectation(annealed_probabilities(logits, temperature), centers)


def hue_chroma_mode(logits: Tensor, centers_hc: Tensor | np.ndarray) -> Tensor:
    """(hue, chroma) of the most likely bin: (B, Q, h, w) -> hc (B, 2, h, w)."""
    return _argmax_lookup(logits, _check_logits(logits, centers_hc, "centers_hc"))


def circular_hue_mean(logits: Tensor, centers_hc: Tensor | np.ndarray, temperature: float = 1.0) -> Tensor:
    """Circular mean of hue and linear mean of chroma under softmax(logits / T) -> hc (B, 2, h, w).

    hue = atan2(sum p sin(h_q), sum p cos(h_q)) in [0, 2*pi); chroma = sum p c_q.
    Hue is undefined where the weighted vectors cancel (then 0).
    """
    centers = _check_logits(logits, centers_hc, "centers_hc")
    probs = annealed_probabilities(logits, temperature)
    hue, chroma = centers[:, 0], centers[:, 1]
    trig = _expectation(probs, torch.stack([torch.sin(hue), torch.cos(hue)], dim=1))
    mean_hue = torch.remainder(torch.atan2(trig[:, 0], trig[:, 1]), 2 * math.pi)
    mean_chroma = _expectation(probs, chroma[:, None])[:, 0]
    return torch.stack([mean_hue, mean_chroma], dim=1)


def hc_to_ab(hc: Tensor, lightness: Tensor, *, iterations: int = 20) -> Tensor:
    """(hue, chroma) + Lab lightness -> Lab ab (B, 2, h, w).

    hc: (B, 2, h, w); lightness: (B, 1, h, w) Lab L in [0, 100]. For a fixed hue and chroma,
    the HCL lightness ``l`` ranges over [c/2, 1 - c/2] and Lab L grows monotonically with it;
    ``l`` is found by bisection so that the colour's Lab L matches the pixel's (clamped to the
    reachable range), and that colour's ab is returned. The colour is always inside sRGB.
    """
    hue, chroma = hc[:, 0], hc[:, 1].clamp(0, 1)
    target_l = lightness[:, 0].float()
    low, high = chroma / 2, 1 - chroma / 2

    def lab_of(light: Tensor) -> Tensor:
        return rgb_to_lab(hcl_to_rgb(torch.stack([hue, chroma, light], dim=1)))

    for _ in range(iterations):
        middle = (low + high) / 2
        too_dark = lab_of(middle)[:, 0] < target_l
        low, high = torch.where(too_dark, middle, low), torch.where(too_dark, high, middle)
    return lab_of((low + high) / 2)[:, 1:]


def _resize_to(x: Tensor, size: tuple[int, int]) -> Tensor:
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    shrink = x.shape[-2] >= size[0] and x.shape[-1] >= size[1]
    if shrink:
        return F.interpolate(x, size=size, mode="area")
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def decode(logits: Tensor, bins: ColourBins, *, method: str = "annealed", temperature: float = DEFAULT_TEMPERATURE,
           lightness: Tensor | None = None) -> Tensor:
    """Logits (B, Q, h, w) -> ab (B, 2, h, w) using ``bins`` (a :class:`ColourBins`: ``centers_ab``,
    ``decode_space`` and, for ``"hc"``, ``centers_hc``; a missing ``decode_space`` means "ab").

    method: "mode" | "mean" | "annealed"; temperature: as checked by ``decoding.rules`` (settings
    are resolved and validated once, by ``inference.settings``; the decoder trusts them).
    lightness: (B, 1, H', W') Lab L, required when ``bins.decode_space == "hc"``; resampled to (h, w).
    """
    space = getattr(bins, "decode_space", "ab")
    if space == "ab":
        if method == "mode":
            return mode(logits, bins.centers_ab)
        return annealed_mean(logits, bins.centers_ab, 1.0 if method == "mean" else temperature)
    if space != "hc":
        raise ValueError(f"bins.decode_space must be 'ab' or 'hc', got {space!r}")
    centers_hc: np.ndarray | None = getattr(bins, "centers_hc", None)
    if centers_hc is None:
        raise ValueError("bins.decode_space is 'hc' but bins.centers_hc is None; re-fit or reload the bins")
    if lightness is None:
        raise ValueError("Hue-Chroma bins need the pixel lightness: pass lightness=(B, 1, h, w) Lab L")
    if method == "mode":
        hc = hue_chroma_mode(logits, centers_hc)
    else:
        hc = circular_hue_mean(logits, centers_hc, 1.0 if method == "mean" else temperature)
    return hc_to_ab(hc, _resize_to(lightness.to(hc), (int(logits.shape[-2]), int(logits.shape[-1]))))


def region_average(labels: Tensor, image: Tensor) -> Tensor:
    """Per-label, per-image average colour: every pixel takes the mean of ``image`` over all
    pixels of the same image that carry the same label (the "average region colour" pictures of
    FCN colourisation reports, which show what a classifier's labels mean for this photo).

    labels: (B, h, w) int64 >= 0 (predicted argmax or target labels); image: (B, C, h, w) float.
    Returns (B, C, h, w) float. Regions are label sets, not connected components.
    """
    if labels.dim() != 3 or image.dim() != 4 or (image.shape[0], *image.shape[2:]) != tuple(labels.shape):
        raise ValueError(
            f"labels must be (B, h, w) and image (B, C, h, w) with equal B, h, w; "
            f"got {tuple(labels.shape)} and {tuple(image.shape)}"
        )
    if labels.numel() and int(labels.min()) < 0:
        raise ValueError(f"labels must be >= 0, got minimum {int(labels.min())}")
    batch, channels = image.shape[:2]
    n_labels = int(labels.max()) + 1 if labels.numel() else 1
    group = (labels + n_labels * torch.arange(batch, device=labels.device).view(-1, 1, 1)).flatten()
    pixels = image.float().permute(0, 2, 3, 1).reshape(-1, channels)
    sums = torch.zeros(batch * n_labels, channels, device=image.device).index_add_(0, group, pixels)
    counts = torch.bincount(group, minlength=batch * n_labels).clamp(min=1).unsqueeze(1)
    averaged = (sums / counts)[group]
    return averaged.view(batch, *labels.shape[1:], channels).permute(0, 3, 1, 2).contiguous()


_STRIP_ROWS = 256           # recombine converts this many rows at a time (small temporaries, cache-friendly)
_WHITE_X, _WHITE_Z = WHITE_D65[0], WHITE_D65[2]


def _f_inverse(f: Tensor) -> Tensor:
    """CIE f^-1: f ** 3 above the breakpoint, linear below (``colorclass.cie``)."""
    return torch.where(f > F_BREAK, f * f * f, (f - 16 / 116) * (1 / KAPPA))


def _lab_strip_to_rgb_(lab: Tensor, out: Tensor) -> Tensor:
    """Lab strip (B, 3, h, W) float32 -> sRGB in [0, 1] written into ``out`` (B, 3, h, W);
    returns the out-of-gamut mask (B, h, W). Same maths as ``lab_to_rgb_with_gamut``, in place."""
    fy = (lab[:, 0] + 16) / 116
    xyz = (fy + lab[:, 1] / 500, fy, (fy - lab[:, 2] / 200).clamp_(min=0))
    x, y, z = (_f_inverse(f) for f in xyz)
    x.mul_(_WHITE_X)
    z.mul_(_WHITE_Z)
    for c, (mx, my, mz) in enumerate(RGB_FROM_XYZ):
        torch.mul(x, mx, out=out[:, c]).add_(y, alpha=my).add_(z, alpha=mz)
    mask = (out.amin(1) < -1e-4) | (out.amax(1) > HIGH_LINEAR)
    _srgb_gamma_(out.clamp_(0, 1))
    return mask


def _srgb_gamma_(lin: Tensor) -> None:
    """Linear light in [0, 1] -> sRGB in place (numpy's vectorised power on CPU: ~4x torch.pow)."""
    if lin.device.type != "cpu":
        torch.where(lin > 0.0031308, lin.pow(1 / 2.4).mul_(1.055).sub_(0.055), lin * 12.92, out=lin)
        return
    a = lin.numpy()
    small = a <= 0.0031308
    linear_part = a[small] * 12.92
    np.power(a, 1 / 2.4, out=a)
    a *= 1.055
    a -= 0.055
    a[small] = linear_part


def recombine_full_resolution(l_full: Tensor, ab: Tensor, *, warn_fraction: float = 0.01,
                              as_uint8: bool = False) -> tuple[Tensor, int]:
    """Original full-resolution lightness + predicted chroma -> sRGB image.

    l_full: (B, 1, H, W) Lab L in [0, 100]; ab: (B, 2, h, w) predicted chroma (any h, w).
    ab is upsampled bilinearly to (H, W), joined with L and converted to sRGB (strips of rows, in
    float32 and in place; equal to ``lab_to_rgb_with_gamut`` within float rounding). Returns
    (rgb (B, 3, H, W) float32 in [0, 1], n_clipped: number of out-of-gamut pixels that were clipped);
    with ``as_uint8=True`` rgb is (B, H, W, 3) uint8 (``round(255 * rgb)``, no float copy of the photo).
    A ``GamutWarning`` is issued when more than ``warn_fraction`` of the pixels were clipped.
    """
    if (l_full.dim() != 4 or l_full.shape[1] != 1 or ab.dim() != 4 or ab.shape[1] != 2
            or ab.shape[0] != l_full.shape[0]):
        raise ValueError(
            f"l_full must be (B, 1, H, W) and ab (B, 2, h, w) with the same B; "
            f"got {tuple(l_full.shape)} and {tuple(ab.shape)}"
        )
    l_full = l_full.float()
    if l_full.numel() and (float(l_full.min()) < -1e-3 or float(l_full.max()) > 100 + 1e-3):
        raise ValueError(
            "l_full must be Lab L in [0, 100], "
            f"got range [{float(l_full.min()):.3g}, {float(l_full.max()):.3g}]; "
            "convert a network input x with colorclass.color.l_input_to_lab_l(x)"
        )
    size = tuple(l_full.shape[-2:])
    ab_full = ab.float().to(l_full.device)
    if tuple(ab_full.shape[-2:]) != size:
        ab_full = F.interpolate(ab_full, size=size, mode="bilinear", align_corners=False)
    batch, n_clipped = l_full.shape[0], 0
    if as_uint8:
        rgb = torch.empty(batch, *size, 3, dtype=torch.uint8, device=l_full.device)
        strip = torch.empty(batch, 3, min(_STRIP_ROWS, size[0]), size[1], device=l_full.device)
    else:
        rgb = torch.empty(batch, 3, *size, device=l_full.device)
    for top in range(0, size[0], _STRIP_ROWS):
        rows = slice(top, top + _STRIP_ROWS)
        lab = torch.cat([l_full[:, :, rows], ab_full[:, :, rows]], dim=1)
        out = strip[:, :, :lab.shape[2]] if as_uint8 else rgb[:, :, rows]
        n_clipped += int(_lab_strip_to_rgb_(lab, out).sum())
        if as_uint8:
            rgb[:, rows].copy_(out.mul_(255).round_().permute(0, 2, 3, 1))
    n_pixels = l_full.shape[0] * size[0] * size[1]
    if n_pixels and n_clipped > warn_fraction * n_pixels:
        warnings.warn(
            f"{n_clipped} of {n_pixels} pixels ({100 * n_clipped / n_pixels:.1f}%) "
            "were outside the sRGB gamut and were clipped", GamutWarning, stacklevel=2,
        )
    return rgb, n_clipped
