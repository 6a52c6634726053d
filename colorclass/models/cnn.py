"""The small CNN and U-Net of the classic CIFAR-10 colourisation exercise (U of Toronto CSC321).

Pipeline position: encode targets -> **network** -> loss. Input ``x: (B, 1, H, W)`` float in
[-1, 1] (H, W multiples of 4); output logits ``(B, out_channels, H, W)``.

Layout (``w`` = width = number of filters, ``k`` = kernel size, 'same' padding)::

    down1  conv(c -> w)    BN ReLU maxpool2      H/2   (c = in_channels, 1: the lightness)
    down2  conv(w -> 2w)   BN ReLU maxpool2      H/4
    middle conv(2w -> 2w)  BN ReLU               H/4
    up1    conv(2w -> w)   BN ReLU upsample2     H/2   (U-Net: input is cat(middle, down2))
    up2    conv(w -> h)    BN ReLU upsample2     H     (U-Net: input is cat(up1, down1))
    final  conv(h -> Q)                          H     (U-Net: input is cat(up2, x), h + c channels)

In the exercise the head width ``h`` equals the number of colours (24 there). With Q = 313
bins that would cost ~Q^2 k^2 multiply-adds per pixel in the final conv, so by default
``h = w``; ``classic_head=True`` restores ``h = out_channels``.

Cheap heads for many bins (defaults keep the layout above, parameter names and shapes included):
``head_kernel`` is the final conv's kernel (0 = ``k``; 1 gives a 1x1 head, ~k^2 times cheaper at
full resolution). ``output_stride=2`` drops the last upsample: the network predicts at H/2
(the U-Net's skip from the input is then 2x2 average-pooled) and the caller decodes there and
upsamples the ab, as Zhang et al. do at 1/4.

``global_context=True`` adds a whole-photo branch at the middle (the "fusion layer" of Baldassarre
et al. 2017, "Deep Koalarization"): two stride-2 convs (H/8, H/16), a global average pool and a
linear layer give one feature vector per photo, broadcast to every H/4 position and fused with
the local features by a 1x1 conv. Every output pixel then sees the whole photo, at any size.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from colorclass.models.common import ColorNet, NearestUp2, check_in_channels, like_layout


def _block(c_in: int, c_out: int, k: int, resample: nn.Module | None) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, k, padding=k // 2),
                               nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
    if resample is not None:
        layers.append(resample)
    return nn.Sequential(*layers)


class GlobalContext(nn.Module):
    """``x: (B, C, h, w) -> (B, C, h, w)``: local features fused with one pooled whole-photo vector."""

    def __init__(self, channels: int, k: int) -> None:
        super().__init__()
        c = channels
        self.down = nn.Sequential(
            nn.Conv2d(c, c, k, stride=2, padding=k // 2), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
            nn.Conv2d(c, c, k, stride=2, padding=k // 2), nn.BatchNorm2d(c), nn.ReLU(inplace=True))
        self.vector = nn.Sequential(nn.Linear(c, c), nn.ReLU(inplace=True))
        self.fuse = _block(2 * c, c, 1, None)

    def forward(self, x: Tensor) -> Tensor:
        g = self.vector(self.down(x).mean(dim=(2, 3)))                  # (B, C): one vector per photo
        g = like_layout(g[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3]), x)
        return self.fuse(torch.cat([x, g], dim=1))


class ClassicCNN(ColorNet):
    """CSC321 colourisation CNN (``skips=False``) or U-Net (``skips=True``)."""

    input_multiple = 4
    min_input_size = 4

    def __init__(self, *, out_channels: int, width: int = 32, kernel_size: int = 3,
                 skips: bool = False, classic_head: bool = False, head_kernel: int = 0,
                 output_stride: int = 1, in_channels: int = 1, global_context: bool = False) -> None:
        super().__init__()
        self.in_channels = check_in_channels(in_channels)
        if output_stride not in (1, 2):
            raise ValueError(f"output_stride must be 1 or 2 for cnn/unet; got {output_stride!r}")
        if not isinstance(head_kernel, int) or head_kernel < 0 or head_kernel and head_kernel % 2 == 0:
            raise ValueError(f"head_kernel must be 0 (= kernel_size) or a positive odd int; got {head_kernel!r}")
        self.output_stride = output_stride
        self.arch = "unet" if skips else "cnn"
        self.skips = skips
        w, k = width, kernel_size
        head = out_channels if classic_head else w
        extra = 2 if skips else 1  # channel multiplier of concatenated inputs
        self.down1 = _block(in_channels, w, k, nn.MaxPool2d(2))
        self.down2 = _block(w, 2 * w, k, nn.MaxPool2d(2))
        self.middle = _block(2 * w, 2 * w, k, None)
        self.context = GlobalContext(2 * w, k) if global_context else None
        self.up1 = _block(2 * w * extra, w, k, NearestUp2())
        self.up2 = _block(w * extra, head, k, NearestUp2() if output_stride == 1 else None)
        hk = head_kernel or k
        self.final = nn.Conv2d(head + (in_channels if skips else 0), out_channels, hk, padding=hk // 2)

    def body(self, x: Tensor) -> Tensor:
        d1 = self.down1(x)
        d2 = self.down2(d1)
        mid = self.middle(d2)
        if self.context is not None:
            mid = self.context(mid)
        if not self.skips:
            return self.final(self.up2(self.up1(mid)))
        u1 = self.up1(torch.cat([mid, d2], dim=1))
        u2 = self.up2(torch.cat([u1, d1], dim=1))
        skip = x if self.output_stride == 1 else F.avg_pool2d(x, self.output_stride)
        return self.final(torch.cat([u2, like_layout(skip, u2)], dim=1))


def build_cnn(*, out_channels: int, width: int = 32, kernel_size: int = 3,
              classic_head: bool = False, head_kernel: int = 0, output_stride: int = 1,
              in_channels: int = 1, global_context: bool = False) -> ClassicCNN:
    return ClassicCNN(out_channels=out_channels, width=width, kernel_size=kernel_size,
                      skips=False, classic_head=classic_head, head_kernel=head_kernel,
                      output_stride=output_stride, in_channels=in_channels, global_context=global_context)


def build_unet(*, out_channels: int, width: int = 32, kernel_size: int = 3,
               classic_head: bool = False, head_kernel: int = 0, output_stride: int = 1,
               in_channels: int = 1, global_context: bool = False) -> ClassicCNN:
    return ClassicCNN(out_channels=out_channels, width=width, kernel_size=kernel_size,
                      skips=True, classic_head=classic_head, head_kernel=head_kernel,
                      output_stride=output_stride, in_channels=in_channels, global_context=global_context)
