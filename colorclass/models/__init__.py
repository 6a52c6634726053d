"""Network registry: every per-pixel colour classifier of colorclass, built by name.

Pipeline position: photos -> quantize -> encode targets -> **network** -> loss -> decode -> ...
``build_model(name, out_channels=Q)`` returns an ``nn.Module`` mapping the normalised lightness
``x: (B, 1, H, W)`` float in [-1, 1] to logits ``(B, Q, H/s, W/s)`` with ``s =
model.output_stride`` (1, or 4 for ``vgg_dilated``); H and W must be multiples of
``model.input_multiple`` (see :func:`pad_to_multiple`). ``out_channels=2`` gives the regression
baseline (raw ab, trained with MSE) on the same body.

``kernel_size`` is the kernel of the stride-1 convolutions (odd). ``deep_unet`` has none and
accepts only the default 3; its stride-2 kernel is the ``down_kernel`` option.
"""
from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable

import torch
from torch import nn

from colorclass.models.cnn import ClassicCNN, build_cnn, build_unet
from colorclass.models.common import (
    InputSizeError,
    average_state_dicts,
    check_in_channels,
    crop_to,
    nearest_valid_size,
    pad_to_multiple,
    state_dict_differences,
    unwrap_state_dict,
)
from colorclass.models.deep_unet import DeepUNet, build_deep_unet
from colorclass.models.fcn import FCN, build_fcn8s, build_fcn16s, build_fcn32s, init_from_previous_stage
from colorclass.models.fold import count_batchnorm, fold_batchnorm
from colorclass.models.summary import LayerStats, ModelProfile, measure_step_peak_memory, profile_model, summarize
from colorclass.models.vgg_dilated import VGGDilated, build_vgg_dilated
from colorclass.support.errors import ColorclassError

MODELS: dict[str, Callable[..., nn.Module]] = {
    "cnn": build_cnn,
    "unet": build_unet,
    "fcn32s": build_fcn32s,
    "fcn16s": build_fcn16s,
    "fcn8s": build_fcn8s,
    "deep_unet": build_deep_unet,
    "vgg_dilated": build_vgg_dilated,
}


def _check_options(name: str, kw: dict) -> None:
    allowed = [p for p in inspect.signature(MODELS[name]).parameters
               if p not in ("out_channels", "width", "kernel_size", "in_channels")]
    for key in kw:
        if key not in allowed:
            raise ColorclassError(f"model '{name}' has no option '{key}'; its options are: "
                             f"{', '.join(allowed) or 'none'}")


def build_model(name: str, *, out_channels: int, width: int = 32, kernel_size: int = 3,
                seed: int | None = None, in_channels: int = 1, **kw) -> nn.Module:
    """Build network ``name`` (a key of :data:`MODELS`) with ``out_channels`` output maps.

    ``width`` scales every layer's channel count, ``kernel_size`` (odd) the stride-1 convs;
    family-specific options go in ``**kw`` (e.g. ``depth`` for deep_unet, ``classic_head`` for
    cnn/unet, ``fc_channels`` for the FCNs). ``in_channels`` is the number of input planes: 1
    (the lightness, every existing weight file) or more (lightness first, then e.g. hint planes).
    With ``seed`` the initial weights are drawn from ``torch.manual_seed(seed)`` without disturbing
    the global RNG.
    """
    if name not in MODELS:
        close = difflib.get_close_matches(str(name), MODELS, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ColorclassError(f"unknown model '{name}'{hint}; choose one of: {', '.join(MODELS)}")
    if not isinstance(out_channels, int) or out_channels < 1:
        raise ColorclassError(f"out_channels must be a positive int (Q bins, or 2 for regression); "
                         f"got {out_channels!r}")
    if not isinstance(width, int) or width < 1:
        raise ColorclassError(f"width must be a positive int; got {width!r}")
    if not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
        raise ColorclassError(f"kernel_size must be a positive odd int ('same' padding); "
                         f"got {kernel_size!r}")
    check_in_channels(in_channels)
    _check_options(name, kw)
    kw = {"out_channels": out_channels, "width": width, "kernel_size": kernel_size, "in_channels": in_channels, **kw}
    if seed is None:
        return MODELS[name](**kw)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = MODELS[name](**kw)
    return model


def init_from_weights(model: nn.Module, state_dict: dict[str, torch.Tensor]) -> str:
    """Start ``model`` from earlier weights; returns how: ``"fine-tune"`` or ``"fcn stage"``.

    Weights of the same architecture (same names and shapes; a ``module.`` / ``_orig_mod.``
    prefix is ignored) are copied as they are: fine-tuning, e.g. from a built-in model. A finer
    FCN stage is initialised from a coarser one (:func:`init_from_previous_stage`). Anything
    else raises ValueError naming the first mismatches.
    """
    source = unwrap_state_dict(state_dict)
    missing, unexpected, wrong = state_dict_differences(source, model.state_dict())
    if not (missing or unexpected or wrong):
        model.load_state_dict(source)
        return "fine-tune"
    if isinstance(model, FCN) and model.stage != 32:
        init_from_previous_stage(model, source)
        return "fcn stage"
    shapes = [f"{k} {got} vs {want}" for k, want, got in wrong][:2]
    raise ColorclassError(f"model.init_from weights do not fit this model (missing {missing[:3]}, shapes "
                     f"{shapes}); use weights of the same model, width and bins")


__all__ = [
    "MODELS", "build_model", "init_from_weights", "init_from_previous_stage", "summarize", "profile_model",
    "measure_step_peak_memory", "LayerStats", "ModelProfile", "pad_to_multiple", "crop_to",
    "nearest_valid_size", "unwrap_state_dict", "state_dict_differences", "average_state_dicts", "InputSizeError",
    "ClassicCNN", "FCN", "DeepUNet", "VGGDilated", "fold_batchnorm", "count_batchnorm",
]
