"""FCN-32s / FCN-16s / FCN-8s (Long et al.) on a one-channel input, and their staged init.

Pipeline position: encode targets -> **network** -> loss. Input ``x: (B, 1, H, W)`` float in
[-1, 1], H and W multiples of 32; output logits ``(B, out_channels, H, W)``.

Backbone: VGG-16 layout (2, 2, 3, 3, 3 'same' convs per block, each block ending in a 2x2
max-pool) with channels (2w, 4w, 8w, 16w, 16w) - ``width=32`` gives VGG-16's 64..512 - then
fc6 (``fc_kernel`` x ``fc_kernel`` conv to ``fc_channels``, default 128w = 4096 at w=32) and
fc7 (1x1), both ReLU + dropout, and ``score_fr`` (1x1 to Q) at 1/32 resolution.

Decoder (all upsampling is 2x bilinear, :class:`BilinearUp2`)::

    fcn32s: s = score_fr                                           then 5 fixed 2x steps
    fcn16s: s = upscore2(score_fr) + score_pool4(pool4)             then 4 fixed 2x steps
    fcn8s:  s = upscore_pool4(fcn16s fusion) + score_pool3(pool3)   then 3 fixed 2x steps

``upscore*`` are learnable depthwise kernels initialised to bilinear (the paper uses full
Q x Q kernels, which would cost Q^2 weights at Q = 313); ``score_pool*`` start at zero. Hence
:func:`init_from_previous_stage` makes a finer stage compute exactly what the coarser stage
it was initialised from computes. Batch norm in the backbone (``batch_norm=True``, default)
replaces the ImageNet pre-training that a one-channel input cannot reuse.
"""
from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from colorclass.models.common import BilinearUp2, ColorNet, check_in_channels, conv_bn_relu, unwrap_state_dict

VGG16_CONVS = (2, 2, 3, 3, 3)
STAGE_LAYERS = {16: ("score_pool4", "upscore2"), 8: ("score_pool3", "upscore_pool4")}


def _vgg_block(c_in: int, c_out: int, n_convs: int, k: int, batch_norm: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(n_convs):
        layers += conv_bn_relu(c_in if i == 0 else c_out, c_out, k, batch_norm=batch_norm)
    layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


def _zero_conv(c_in: int, c_out: int) -> nn.Conv2d:
    conv = nn.Conv2d(c_in, c_out, 1, bias=True)
    nn.init.zeros_(conv.weight)
    assert conv.bias is not None   # bias=True
    nn.init.zeros_(conv.bias)
    return conv


class FCN(ColorNet):
    """FCN with ``stage`` in (32, 16, 8): the stride of its coarsest skip-free prediction."""

    input_multiple = 32
    min_input_size = 32
    block1: nn.Module   # made by setattr in __init__, one per VGG block
    block2: nn.Module
    block3: nn.Module
    block4: nn.Module
    block5: nn.Module

    def __init__(self, *, out_channels: int, width: int = 32, kernel_size: int = 3,
                 stage: int = 32, fc_channels: int | None = None, fc_kernel: int = 7,
                 batch_norm: bool = True, dropout: float = 0.5, in_channels: int = 1) -> None:
        super().__init__()
        self.in_channels = check_in_channels(in_channels)
        if stage not in (32, 16, 8):
            raise ValueError(f"FCN stage must be 32, 16 or 8; got {stage}")
        if fc_kernel < 1 or fc_kernel % 2 == 0:
            raise ValueError(f"fc_kernel must be a positive odd number; got {fc_kernel}")
        self.arch, self.stage = f"fcn{stage}s", stage
        chans = [m * width for m in (2, 4, 8, 16, 16)]
        fc = 128 * width if fc_channels is None else fc_channels
        c_in = in_channels
        for i, (c, n) in enumerate(zip(chans, VGG16_CONVS), start=1):
            setattr(self, f"block{i}", _vgg_block(c_in, c, n, kernel_size, batch_norm))
            c_in = c
        self.fc = nn.Sequential(
            nn.Conv2d(chans[4], fc, fc_kernel, padding=fc_kernel // 2), nn.ReLU(inplace=True),
            nn.Dropout(dropout), nn.Conv2d(fc, fc, 1), nn.ReLU(inplace=True), nn.Dropout(dropout))
        self.score_fr = nn.Conv2d(fc, out_channels, 1)
        self.up_fixed = BilinearUp2(out_channels, learnable=False)
        if stage <= 16:
            self.score_pool4 = _zero_conv(chans[3], out_channels)
            self.upscore2 = BilinearUp2(out_channels, learnable=True)
        if stage == 8:
            self.score_pool3 = _zero_conv(chans[2], out_channels)
            self.upscore_pool4 = BilinearUp2(out_channels, learnable=True)

    def body(self, x: Tensor) -> Tensor:
        pool3 = self.block3(self.block2(self.block1(x)))
        pool4 = self.block4(pool3)
        score = self.score_fr(self.fc(self.block5(pool4)))
        n_fixed = 5
        if self.stage <= 16:
            score = self.upscore2(score) + self.score_pool4(pool4)
            n_fixed = 4
        if self.stage == 8:
            score = self.upscore_pool4(score) + self.score_pool3(pool3)
            n_fixed = 3
        for _ in range(n_fixed):
            score = self.up_fixed(score)
        return score


def _stage_of_state_dict(state_dict: Mapping[str, Tensor]) -> int:
    if "score_fr.weight" not in state_dict:
        keys = ", ".join(list(state_dict)[:5])
        raise ValueError(f"state_dict is not from an FCN (no 'score_fr.weight'; "
                         f"first keys: {keys})")
    if "score_pool3.weight" in state_dict:
        return 8
    return 16 if "score_pool4.weight" in state_dict else 32


def init_from_previous_stage(model: nn.Module, state_dict: Mapping[str, Tensor]) -> None:
    """Initialise FCN-16s from FCN-32s weights, or FCN-8s from FCN-16s (or FCN-32s) weights.

    Copies every weight the previous stage has, zeroes the new ``score_pool*`` layers and resets
    the new ``upscore*`` kernels to bilinear, so that ``model`` then computes exactly the previous
    stage's outputs. ``state_dict`` may carry the ``module.`` prefix of DDP checkpoints.
    Raises ValueError when the model is not a finer FCN stage or the shapes do not match
    (different ``width``/``out_channels``/``fc_channels``).
    """
    if not isinstance(model, FCN) or model.stage == 32:
        name = getattr(model, "arch", type(model).__name__)
        raise ValueError(f"init_from_previous_stage initialises fcn16s or fcn8s; got {name}")
    source = unwrap_state_dict(dict(state_dict))
    prev = _stage_of_state_dict(source)
    if prev <= model.stage:
        raise ValueError(f"cannot initialise fcn{model.stage}s from fcn{prev}s weights: the "
                         f"source must be a coarser stage (fcn32s for fcn16s, fcn16s for fcn8s)")
    new_layers = [name for stage, names in STAGE_LAYERS.items()
                  if model.stage <= stage < prev for name in names]
    target = model.state_dict()
    unexpected = sorted(set(source) - set(target))
    missing = sorted(k for k in target if k not in source and k.split(".")[0] not in new_layers)
    if unexpected or missing:
        raise ValueError(f"fcn{prev}s state_dict does not fit fcn{model.stage}s: missing "
                         f"{missing[:5]}, unexpected {unexpected[:5]}")
    for key, value in source.items():
        if value.shape != target[key].shape:
            raise ValueError(f"shape mismatch for '{key}': checkpoint {tuple(value.shape)} vs "
                             f"model {tuple(target[key].shape)}; build the model with the same "
                             f"width, out_channels and fc_channels as the previous stage")
    model.load_state_dict(source, strict=False)
    with torch.no_grad():
        for name in new_layers:
            layer = getattr(model, name)
            if isinstance(layer, BilinearUp2):
                layer.reset_to_bilinear()
            else:
                layer.weight.zero_()
                layer.bias.zero_()


def _builder(stage: int):
    def build(*, out_channels: int, width: int = 32, kernel_size: int = 3,
              fc_channels: int | None = None, fc_kernel: int = 7, batch_norm: bool = True,
              dropout: float = 0.5, in_channels: int = 1) -> FCN:
        return FCN(out_channels=out_channels, width=width, kernel_size=kernel_size, stage=stage,
                   fc_channels=fc_channels, fc_kernel=fc_kernel, batch_norm=batch_norm,
                   dropout=dropout, in_channels=in_channels)
    build.__name__ = f"build_fcn{stage}s"
    build.__doc__ = f"FCN-{stage}s (see colorclass.models.fcn)."
    return build


build_fcn32s, build_fcn16s, build_fcn8s = _builder(32), _builder(16), _builder(8)
