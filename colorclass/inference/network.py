"""The network step of the prediction path, as pure tensor functions (the Predictor calls them).

    rgb (B, 3, H, W) uint8 -> *lightness_of* -> Lab L at full resolution (l_full)
        -> *predict_logits*: L resized to the network grid (bilinear, antialiased; support.limits.network_grid
           caps it), padded to the model's input multiple -> network -> output cropped back

Decoding and recombination follow in ``inference.predictor``; nothing else calls the network.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from colorclass.color import lab_to_l_input, rgb_u8_to_lightness, tensor_of
from colorclass.support.limits import network_grid

__all__ = ["Prediction", "network_grid", "lightness_of", "forward_padded", "predict_logits",
           "output_stride", "to_uint8", "photo_tensor"]


@dataclass
class Prediction:
    """l_full: (B, 1, H, W) Lab L in [0, 100]; l_input: (B, 1, h', w') network input in [-1, 1]
    (padded); l_net: (B, 1, ceil(h / s), ceil(w / s)) Lab L at the output resolution;
    output: (B, Q or 2, ceil(h / s), ceil(w / s)) float32 logits (ab for regression)."""

    l_full: Tensor
    l_input: Tensor
    l_net: Tensor
    output: Tensor


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
                   stride: int | None = None, planes: Callable[[int, int], Tensor] | None = None) -> Prediction:
    """Network output for Lab lightness ``l_full: (B, 1, H, W)`` run at shorter side ``size``.

    ``planes(h, w)``, when given, returns extra input planes (B, C, h, w) at the network grid
    (the hint map and mask of a hint-aware model), joined to the lightness input."""
    h, w = network_grid(l_full.shape[2], l_full.shape[3], size)
    l_small = F.interpolate(l_full, size=(h, w), mode="bilinear", align_corners=False,
                            antialias=True) if (h, w) != tuple(l_full.shape[2:]) else l_full
    l_input = lab_to_l_input(l_small)
    net_input = l_input if planes is None else torch.cat([l_input, planes(h, w).to(l_input)], dim=1)
    s = output_stride(model, stride)
    output = forward_padded(model, net_input, stride=s)
    l_net = F.avg_pool2d(l_small, s, ceil_mode=True) if s > 1 else l_small
    return Prediction(l_full, l_input, l_net, output)


def to_uint8(rgb: Tensor) -> np.ndarray:
    """(B, 3, H, W) float in [0, 1] -> (B, H, W, 3) uint8 numpy (C-contiguous)."""
    out = torch.empty(rgb.shape[0], *rgb.shape[2:], 3, dtype=torch.uint8, device=rgb.device)
    for top in range(0, rgb.shape[2], 256):   # strips: no full-size float temporaries
        rows = slice(top, top + 256)
        out[:, rows].copy_(rgb[:, :, rows].clamp(0, 1).mul_(255).round_().permute(0, 2, 3, 1))
    return out.cpu().numpy()
