"""The one prediction path: photo -> network output -> chroma -> full-resolution colour image.

    rgb (B, 3, H, W) uint8 -> Lab L at full resolution (l_full)
        -> *predict_logits*: L resized to the network scale (bilinear, antialiased),
           padded to the model's input multiple -> network -> output cropped back
        -> *decode_output*: mode / mean / annealed mean over the bins (or ab for regression)
        -> *recombine*: ab upsampled to (H, W) + l_full -> sRGB

Used by colorize, evaluate, calibrate, the training-time sample grids and validation, and the
activation pictures, so every consumer sees exactly the same colours for the same photo.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from colorclass.color import lab_to_l_input, rgb_u8_to_lightness, tensor_of
from colorclass.support.limits import MAX_LONG_SIDE, MAX_NETWORK_PIXELS, capped_size
from colorclass.decoding.decoders import decode, recombine_full_resolution

__all__ = ["Prediction", "network_size", "capped_size", "MAX_LONG_SIDE", "MAX_NETWORK_PIXELS", "lightness_of", "forward_padded", "predict_logits",
           "decode_output", "colorize_batch", "output_stride", "colorize_array", "to_uint8", "photo_tensor"]


@dataclass
class Prediction:
    """l_full: (B, 1, H, W) Lab L in [0, 100]; l_input: (B, 1, h', w') network input in [-1, 1]
    (padded); l_net: (B, 1, ceil(h / s), ceil(w / s)) Lab L at the output resolution;
    output: (B, Q or 2, ceil(h / s), ceil(w / s)) float32 logits (ab for regression)."""

    l_full: Tensor
    l_input: Tensor
    l_net: Tensor
    output: Tensor


def network_size(height: int, width: int, size: int | None) -> tuple[int, int]:
    """Shorter side -> ``size`` (keeping the aspect ratio); None or 0 keeps the photo's size.
    Either way the result is capped by ``capped_size`` (long side and area), so no photo or
    option can make the network run on an unbounded grid."""
    size = capped_size(height, width, size or None)
    if not size:
        return height, width
    scale = size / min(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def photo_tensor(rgb_u8: np.ndarray, device: torch.device | str = "cpu") -> Tensor:
    """(H, W, 3) uint8 array -> (1, 3, H, W) uint8 tensor on ``device``."""
    if rgb_u8.ndim != 3 or rgb_u8.shape[2] != 3 or rgb_u8.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 photo, got {rgb_u8.dtype} {rgb_u8.shape}")
    return tensor_of(rgb_u8).to(device).permute(2, 0, 1)[None]


def lightness_of(rgb_u8: Tensor) -> Tensor:
    """(B, 3, H, W) uint8 -> (B, 1, H, W) float32 Lab L in [0, 100] (table lookups, a and b skipped;
    gray photos take one lookup per pixel)."""
    return rgb_u8_to_lightness(rgb_u8)


def output_stride(model: torch.nn.Module, stride: int | None = None) -> int:
    """``stride`` when given, else the model's ``output_stride`` (1 when it has none)."""
    return int(stride if stride is not None else getattr(model, "output_stride", 1))


def forward_padded(model: torch.nn.Module, l_input: Tensor, *, stride: int | None = None) -> Tensor:
    """Run ``model`` on ``l_input: (B, 1, H, W)`` padded to its ``input_multiple``; the output is
    cropped to (ceil(H / s), ceil(W / s)), s = ``output_stride(model, stride)``, and cast to float32."""
    from colorclass.models import crop_to, pad_to_multiple

    height, width = l_input.shape[-2:]
    padded, _ = pad_to_multiple(l_input, int(getattr(model, "input_multiple", 1)))
    s = output_stride(model, stride)
    return crop_to(model(padded), -(-height // s), -(-width // s)).float()


@torch.no_grad()
def predict_logits(model: torch.nn.Module, l_full: Tensor, *, size: int | None = None,
                   stride: int | None = None) -> Prediction:
    """Network output for Lab lightness ``l_full: (B, 1, H, W)`` run at shorter side ``size``."""
    h, w = network_size(l_full.shape[2], l_full.shape[3], size)
    l_small = F.interpolate(l_full, size=(h, w), mode="bilinear", align_corners=False,
                            antialias=True) if (h, w) != tuple(l_full.shape[2:]) else l_full
    l_input = lab_to_l_input(l_small)
    s = output_stride(model, stride)
    output = forward_padded(model, l_input, stride=s)
    l_net = F.avg_pool2d(l_small, s, ceil_mode=True) if s > 1 else l_small
    return Prediction(l_full, l_input, l_net, output)


def decode_output(output: Tensor, bins, *, regression: bool, method: str, temperature: float,
                  lightness: Tensor | None) -> Tensor:
    """Network output -> ab (B, 2, h, w): the output itself for regression, else ``decode``."""
    if regression:
        return output
    return decode(output, bins, method=method, temperature=temperature, lightness=lightness)


def to_uint8(rgb: Tensor) -> np.ndarray:
    """(B, 3, H, W) float in [0, 1] -> (B, H, W, 3) uint8 numpy (C-contiguous)."""
    out = torch.empty(rgb.shape[0], *rgb.shape[2:], 3, dtype=torch.uint8, device=rgb.device)
    for top in range(0, rgb.shape[2], 256):   # strips: no full-size float temporaries
        rows = slice(top, top + 256)
        out[:, rows].copy_(rgb[:, :, rows].clamp(0, 1).mul_(255).round_().permute(0, 2, 3, 1))
    return out.cpu().numpy()


@torch.no_grad()
def colorize_batch(model: torch.nn.Module, rgb_u8: Tensor, bins, *, regression: bool, method: str,
                   temperature: float, size: int | None = None, stride: int | None = None,
                   as_uint8: bool = False) -> tuple[Tensor, int, Prediction]:
    """rgb_u8 (B, 3, H, W) uint8 (only its lightness is used) -> (colour (B, 3, H, W) float32
    in [0, 1] at full resolution, number of clipped pixels, the Prediction). With ``as_uint8``
    the colour is (B, H, W, 3) uint8, made strip by strip without a full-size float copy."""
    pred = predict_logits(model, lightness_of(rgb_u8), size=size, stride=stride)
    ab = decode_output(pred.output, bins, regression=regression, method=method,
                       temperature=temperature, lightness=pred.l_net)
    rgb, n_clipped = recombine_full_resolution(pred.l_full, ab, as_uint8=as_uint8)
    return rgb, int(n_clipped), pred


@torch.no_grad()
def colorize_array(rgb_u8: np.ndarray, run, *, method: str | None = None, temperature: float | None = None,
                   size: int | None = None) -> tuple[np.ndarray, int]:
    """Colourise one photo with a loaded ``runs.Run``.

    rgb_u8: (H, W, 3) uint8 (a grayscale photo replicated to 3 channels is fine). Returns
    (colour photo (H, W, 3) uint8, number of clipped pixels). ``method`` / ``temperature``
    default to the run's decoding rule.
    """
    rgb, n_clipped, _ = colorize_batch(
        run.model, photo_tensor(rgb_u8, run.device), run.bins, regression=run.regression,
        method=method or run.method, temperature=run.temperature if temperature is None else temperature,
        size=size, as_uint8=True)
    return rgb[0].cpu().numpy(), n_clipped
