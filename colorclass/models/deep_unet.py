"""Deep pix2pix-style U-Net encoder-decoder with skip connections.

Pipeline position: encode targets -> **network** -> loss. Input ``x: (B, 1, H, W)`` float in
[-1, 1], H and W multiples of ``2**depth`` (256 for the default ``depth=8``, which takes a
256x256 input down to 1x1); output logits ``(B, out_channels, H, W)``.

Encoder: ``depth`` stride-2 convolutions (``down_kernel`` x ``down_kernel``, default 4x4) with
channels ``min(width * 2**i, 8 * width)``, each followed by BatchNorm (not on the first layer
nor on the bottleneck, as in pix2pix) and LeakyReLU(0.2). Decoder: stride-2 transposed
convolutions with BatchNorm, dropout on the ``n_dropout`` innermost ones, ReLU, and the
matching encoder output concatenated; a last transposed convolution maps to ``out_channels``
(no tanh: the output are logits, or raw ab for the regression baseline).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from colorclass.models.common import ColorNet, check_in_channels


def _down(c_in: int, c_out: int, k: int, batch_norm: bool) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, k, stride=2, padding=k // 2 - 1)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(c_out))
    layers.append(nn.LeakyReLU(0.2, inplace=True))
    return nn.Sequential(*layers)


def _up(c_in: int, c_out: int, k: int, dropout: float) -> nn.Sequential:
    layers: list[nn.Module] = [nn.ConvTranspose2d(c_in, c_out, k, stride=2, padding=k // 2 - 1),
                               nn.BatchNorm2d(c_out)]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class DeepUNet(ColorNet):
    """pix2pix U-Net generator as a per-pixel classifier."""

    arch = "deep_unet"

    def __init__(self, *, out_channels: int, width: int = 32, depth: int = 8,
                 down_kernel: int = 4, n_dropout: int = 3, dropout: float = 0.5,
                 in_channels: int = 1) -> None:
        super().__init__()
        self.in_channels = check_in_channels(in_channels)
        if not 2 <= depth <= 10:
            raise ValueError(f"deep_unet depth must be in [2, 10]; got {depth} (8 suits 256x256)")
        if down_kernel < 2 or down_kernel % 2:
            raise ValueError(f"down_kernel must be an even number >= 2 (stride-2 halving); "
                             f"got {down_kernel}")
        self.input_multiple = self.min_input_size = 2 ** depth
        chans = [min(width * 2 ** i, 8 * width) for i in range(depth)]
        k = down_kernel
        self.downs = nn.ModuleList(
            _down(in_channels if i == 0 else chans[i - 1], chans[i], k, batch_norm=0 < i < depth - 1)
            for i in range(depth))
        ups = []
        for n, i in enumerate(range(depth - 1, 0, -1)):  # innermost first
            c_in = chans[i] if i == depth - 1 else 2 * chans[i]
            ups.append(_up(c_in, chans[i - 1], k, dropout if n < n_dropout else 0.0))
        self.ups = nn.ModuleList(ups)
        self.final = nn.ConvTranspose2d(2 * chans[0], out_channels, k, stride=2,
                                        padding=k // 2 - 1)

    def body(self, x: Tensor) -> Tensor:
        skips = []
        for down in self.downs:
            x = down(x)
            skips.append(x)
        skips.pop()  # the bottleneck is the decoder's input, not a skip
        for up in self.ups:
            x = torch.cat([up(x), skips.pop()], dim=1)
        return self.final(x)


def build_deep_unet(*, out_channels: int, width: int = 32, kernel_size: int = 3, depth: int = 8,
                    down_kernel: int = 4, n_dropout: int = 3, dropout: float = 0.5,
                    in_channels: int = 1) -> DeepUNet:
    """``kernel_size`` sets stride-1 convolutions, which this net has none of: it must stay 3;
    the stride-2 kernel is ``down_kernel``."""
    if kernel_size != 3:
        raise ValueError(f"deep_unet has no stride-1 convolutions, so kernel_size={kernel_size} "
                         f"would be ignored; set down_kernel (even, default 4) instead")
    return DeepUNet(out_channels=out_channels, width=width, depth=depth, down_kernel=down_kernel,
                    n_dropout=n_dropout, dropout=dropout, in_channels=in_channels)
