"""Shared pieces of the networks: input checks, padding helpers, the base class, bilinear 2x.

Pipeline position: photos -> quantize -> encode targets -> **network** -> loss -> decode -> ...
Every network takes the normalised lightness ``x: (B, 1, H, W) float32`` in [-1, 1] (plus extra
planes when built with ``in_channels > 1``) and returns
logits ``(B, out_channels, H / output_stride, W / output_stride)``. Sizes a network cannot handle
are refused with :class:`InputSizeError`; :func:`pad_to_multiple` and :func:`crop_to` let callers
(``colorize``) pad any photo to a valid size and crop the prediction back.
"""
from __future__ import annotations

from abc import abstractmethod

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from colorclass.support.errors import ColorclassError


class InputSizeError(ValueError):
    """The input's spatial size is not one the network can process."""


def unwrap_state_dict(state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
    """The tensors under the names of the bare model: drops the ``module.`` prefix of DDP and the
    ``_orig_mod.`` prefix of ``torch.compile`` (checkpoints may carry either)."""
    return {k.removeprefix("module.").removeprefix("_orig_mod."): v for k, v in state_dict.items()}


def state_dict_differences(source: dict[str, Tensor], target: dict[str, Tensor]
                           ) -> tuple[list[str], list[str], list[tuple[str, tuple, tuple]]]:
    """How ``source`` weights fail to fit ``target`` (DDP / compile prefixes of ``source`` ignored):
    (names missing from source, names source has in excess, both sorted; [(name, target shape,
    source shape)] in target's order); three empty lists mean they fit."""
    source = unwrap_state_dict(source)
    missing = sorted(set(target) - set(source))
    unexpected = sorted(set(source) - set(target))
    wrong = [(k, tuple(target[k].shape), tuple(source[k].shape)) for k in target
             if k in source and target[k].shape != source[k].shape]
    return missing, unexpected, wrong


def average_state_dicts(first: dict[str, Tensor], second: dict[str, Tensor], *,
                        weight: float = 0.5) -> dict[str, Tensor]:
    """``weight * first + (1 - weight) * second``, tensor by tensor (a "model soup" of two runs of
    one architecture, e.g. a model and a fine-tuned copy of it). Floating tensors (weights,
    batch-norm statistics) are averaged in float64 and keep their dtype; integer tensors (the
    batch counter) are taken from ``first``. Raises ValueError unless both hold the same names
    and shapes (DDP / compile prefixes ignored) and ``0 <= weight <= 1``."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must be in [0, 1], got {weight!r}")
    a, b = unwrap_state_dict(first), unwrap_state_dict(second)
    missing, unexpected, wrong = state_dict_differences(b, a)
    if missing or unexpected or wrong:
        differ = (missing + unexpected)[:3] + [k for k, _, _ in wrong][:3]
        raise ValueError(f"the two sets of weights differ in names or shapes (e.g. {differ}); "
                         "average weights of the same model, width and bins")
    return {k: (weight * a[k].double() + (1 - weight) * b[k].double()).to(a[k].dtype)
            if a[k].is_floating_point() else a[k].clone() for k in a}


def nearest_valid_size(size: int, multiple: int, minimum: int | None = None) -> int:
    """The multiple of ``multiple`` closest to ``size`` (ties round up), at least ``minimum``."""
    minimum = multiple if minimum is None else minimum
    nearest = (2 * size + multiple) // (2 * multiple) * multiple
    return max(nearest, -(-minimum // multiple) * multiple)


def check_input(x: Tensor, *, multiple: int, minimum: int, name: str, in_channels: int = 1) -> None:
    """Raise a clear ValueError unless ``x`` is (B, in_channels, H, W) float with H, W valid for
    the net."""
    if not isinstance(x, Tensor) or x.ndim != 4 or x.shape[1] != in_channels:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        if in_channels == 1:
            raise ValueError(f"{name} expects the normalised L channel as a (B, 1, H, W) tensor; "
                             f"got {shape}. Pass rgb_to_lab(...)[:, :1] / 50 - 1.")
        raise ValueError(f"{name} expects a (B, {in_channels}, H, W) tensor (the normalised L "
                         f"channel first, then the extra input planes); got {shape}")
    if not x.is_floating_point():
        raise ValueError(f"{name} expects a floating-point input in [-1, 1]; got dtype {x.dtype}")
    h, w = x.shape[-2:]
    if h % multiple or w % multiple or h < minimum or w < minimum:
        good_h = nearest_valid_size(h, multiple, minimum)
        good_w = nearest_valid_size(w, multiple, minimum)
        raise InputSizeError(
            f"{name} cannot process a {h}x{w} input: height and width must be multiples of "
            f"{multiple} and at least {minimum}. Nearest valid size: {good_h}x{good_w}. "
            f"Resize or crop to it, or pad with colorclass.models.pad_to_multiple(x, {multiple}) "
            f"and crop the output with crop_to.")


def pad_to_multiple(x: Tensor, multiple: int) -> tuple[Tensor, tuple[int, int]]:
    """Pad ``x: (..., H, W)`` at the bottom/right so H and W become multiples of ``multiple``.

    Uses reflection padding (replicate when the image is too small to reflect), so borders
    stay image-like. Returns ``(padded (..., H + pad_h, W + pad_w), (pad_h, pad_w))``;
    undo with ``crop_to(y, H, W)`` (for a net with output_stride s, crop its logits to
    ``ceil(H / s), ceil(W / s)``).
    """
    if multiple < 1:
        raise ValueError(f"multiple must be >= 1; got {multiple}")
    h, w = x.shape[-2:]
    pad_h, pad_w = (-h) % multiple, (-w) % multiple
    if pad_h == 0 and pad_w == 0:
        return x, (0, 0)
    mode = "reflect" if pad_h < h and pad_w < w else "replicate"
    flat = x.reshape(-1, 1, h, w) if x.ndim != 4 else x
    padded = F.pad(flat, (0, pad_w, 0, pad_h), mode=mode)
    return padded.reshape(*x.shape[:-2], h + pad_h, w + pad_w), (pad_h, pad_w)


def crop_to(x: Tensor, h: int, w: int) -> Tensor:
    """Keep the top-left ``h x w`` window of ``x: (..., H, W)`` (undoes :func:`pad_to_multiple`)."""
    if h < 1 or w < 1 or h > x.shape[-2] or w > x.shape[-1]:
        raise ValueError(f"cannot crop a {x.shape[-2]}x{x.shape[-1]} tensor to {h}x{w}: "
                         f"the target must be between 1x1 and the current size")
    return x[..., :h, :w]


class ColorNet(nn.Module):
    """Base class: validates the input, then calls :meth:`body`.

    Subclasses set ``output_stride`` (1 or 4), ``input_multiple`` and ``min_input_size``;
    ``in_channels`` is 1 (the lightness) unless extra input planes were asked for.
    """

    output_stride: int = 1
    input_multiple: int = 1
    min_input_size: int = 1
    in_channels: int = 1
    arch: str = "colornet"

    def forward(self, x: Tensor) -> Tensor:
        """``x: (B, in_channels, H, W)`` float in [-1, 1] -> logits ``(B, Q, H/stride, W/stride)``."""
        check_input(x, multiple=self.input_multiple, minimum=self.min_input_size, name=self.arch,
                    in_channels=self.in_channels)
        return self.body(x)

    @abstractmethod
    def body(self, x: Tensor) -> Tensor:
        """The network proper (subclasses define it); input already validated."""


def check_in_channels(in_channels: int) -> int:
    """``in_channels`` (input planes: 1 = lightness only) as a positive int, or ValueError."""
    if not isinstance(in_channels, int) or isinstance(in_channels, bool) or in_channels < 1:
        raise ColorclassError(f"in_channels must be a positive int (1 = lightness only); got {in_channels!r}")
    return in_channels


def like_layout(x: Tensor, ref: Tensor) -> Tensor:
    """``x`` in the memory format of ``ref`` (channels-last or contiguous) before a ``cat`` on dim 1.

    ``torch.cat`` of a channels-last tensor and a 1-channel one (whose NCHW strides are also
    valid channels-last strides, so its format is ambiguous) gives an NCHW result, which every
    following channels-last convolution then copies, in forward and again in backward. Copying
    the small ``x`` (the input planes) into channels-last strides once avoids those two copies
    of the large concatenation."""
    if ref.dim() != 4 or not ref.is_contiguous(memory_format=torch.channels_last) or ref.is_contiguous():
        return x
    if x.stride(1) == 1 and x.is_contiguous(memory_format=torch.channels_last):
        return x
    return torch.empty_like(x, memory_format=torch.channels_last).copy_(x)


def bilinear_kernel_2x(channels: int) -> Tensor:
    """Depthwise (channels, 1, 4, 4) transposed-conv kernel of 2x bilinear upsampling."""
    k1 = torch.tensor([0.25, 0.75, 0.75, 0.25])
    return torch.outer(k1, k1).expand(channels, 1, 4, 4).clone()


class BilinearUp2(nn.Module):
    """2x upsampling per channel: ``(B, C, h, w) -> (B, C, 2h, 2w)``.

    A depthwise transposed convolution on the edge-replicated input. With its bilinear
    initial kernel it equals ``F.interpolate(scale_factor=2, mode="bilinear",
    align_corners=False)``; with ``learnable=True`` the kernel is trained (the FCN
    "upscore" layers), otherwise it is a fixed non-persistent buffer.
    """

    def __init__(self, channels: int, *, learnable: bool) -> None:
        super().__init__()
        self.channels = channels
        if learnable:
            self.weight = nn.Parameter(bilinear_kernel_2x(channels))
        else:
            self.register_buffer("weight", bilinear_kernel_2x(channels), persistent=False)

    def reset_to_bilinear(self) -> None:
        with torch.no_grad():
            self.weight.copy_(bilinear_kernel_2x(self.channels))

    def forward(self, x: Tensor) -> Tensor:
        padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
        return F.conv_transpose2d(padded, self.weight, stride=2, padding=3, groups=self.channels)

    def mult_adds(self, inputs: tuple[Tensor, ...], output: Tensor) -> int:
        """Multiply-adds actually executed: every padded input value times 4x4 taps."""
        b, c, h, w = inputs[0].shape
        return b * c * (h + 2) * (w + 2) * 16


class _NearestUp2Function(torch.autograd.Function):
    """Nearest 2x upsampling; backward sums each 2x2 block of the gradient with strided adds."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        ctx.input_size = tuple(x.shape)
        return F.interpolate(x, scale_factor=2.0, mode="nearest")

    @staticmethod
    def backward(ctx, g: Tensor) -> Tensor:
        if g.is_contiguous() or g.is_contiguous(memory_format=torch.channels_last):
            return torch.ops.aten.upsample_nearest2d_backward(g, list(g.shape[-2:]), list(ctx.input_size), 2.0, 2.0)
        # same order of additions as aten's kernel: the same gradient, bit for bit
        return ((g[..., 0::2, 0::2] + g[..., 0::2, 1::2]) + g[..., 1::2, 0::2]) + g[..., 1::2, 1::2]


class NearestUp2(nn.Upsample):
    """``nn.Upsample(scale_factor=2)`` (nearest) with a cheaper backward for a strided gradient.

    In a U-Net the upsampled map is concatenated with a skip, so its gradient arrives as a
    channel slice of the concatenation's gradient. aten's backward first copies such a slice
    to a contiguous tensor (the largest layout copy left in the channels-last train step); summing the
    four strided 2x2 phases instead reads it in place and gives the same values bit for bit.
    Forward, parameters (none) and no-grad use are those of ``nn.Upsample``."""

    def __init__(self) -> None:
        super().__init__(scale_factor=2.0, mode="nearest")

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 4 and torch.is_grad_enabled() and x.requires_grad:
            return _NearestUp2Function.apply(x)
        return super().forward(x)


def conv_bn_relu(c_in: int, c_out: int, kernel_size: int, *, dilation: int = 1,
                 stride: int = 1, batch_norm: bool = True) -> list[nn.Module]:
    """A 'same'-padded convolution (odd kernel), optional BatchNorm, ReLU."""
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, kernel_size, stride=stride,
                                         padding=dilation * (kernel_size // 2), dilation=dilation)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(c_out))
    layers.append(nn.ReLU(inplace=True))
    return layers
