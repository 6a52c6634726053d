"""Device resolution: the one home of "auto means CUDA when available, else the CPU".

    config / --device (auto | cpu | cuda) -> *resolve_device* -> torch.device

Used by the trainer, inference, evaluation, reports and activations alike.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

from colorclass.support.errors import ColorclassError

if TYPE_CHECKING:
    import torch

__all__ = ["DEVICE_CHOICES", "resolve_device", "DeviceError"]

DEVICE_CHOICES = ("auto", "cpu", "cuda")


class DeviceError(ColorclassError):
    """The requested device is unknown or not available on this machine."""


def resolve_device(name: str = "auto", *, local_rank: int | None = None) -> "torch.device":
    """"auto" -> CUDA when available, else CPU; "cuda" without a GPU is an error.

    Under torchrun the CUDA device is ``cuda:LOCAL_RANK`` (``local_rank`` overrides the
    environment variable)."""
    import torch

    if name not in DEVICE_CHOICES:
        raise DeviceError(f"device {name!r} is not one of {', '.join(DEVICE_CHOICES)}")
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceError("device 'cuda' requested but no CUDA GPU is available; use --device cpu or auto")
    if name == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    local = int(os.environ.get("LOCAL_RANK", "0")) if local_rank is None else local_rank
    return torch.device("cuda", local)
