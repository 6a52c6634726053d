"""VGG-style network with dilated convolutions after Zhang, Isola & Efros (ECCV 2016).

Pipeline position: encode targets -> **network** -> loss. Input ``x: (B, 1, H, W)`` float in
[-1, 1], H and W multiples of 8 (at least 16); output logits ``(B, out_channels, H/4, W/4)``
(``output_stride = 4``: targets are encoded at 1/4 resolution, predictions upsampled).

Blocks (``w`` = width; ``width=32`` gives the paper's 64/128/256/512 channels)::

    conv1  2 convs 2w,  last stride 2, BN        H/2
    conv2  2 convs 4w,  last stride 2, BN        H/4
    conv3  3 convs 8w,  last stride 2, BN        H/8
    conv4  3 convs 16w, BN                       H/8
    conv5  3 convs 16w, dilation 2, BN           H/8
    conv6  3 convs 16w, dilation 2, BN           H/8
    conv7  3 convs 16w, BN                       H/8
    conv8  4x4 transposed conv stride 2 + 2 convs, 8w; 1x1 conv to Q   H/4

Every conv is followed by ReLU; BatchNorm closes blocks 1-7, as in the released model.
"""
from __future__ import annotations

from torch import Tensor, nn

from colorclass.models.common import ColorNet, check_in_channels

# (channel multiplier, number of convs, dilation, stride of the last conv)
BLOCKS = ((2, 2, 1, 2), (4, 2, 1, 2), (8, 3, 1, 2), (16, 3, 1, 1),
          (16, 3, 2, 1), (16, 3, 2, 1), (16, 3, 1, 1))


def _block(c_in: int, c_out: int, n: int, k: int, dilation: int, last_stride: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(n):
        stride = last_stride if i == n - 1 else 1
        layers += [nn.Conv2d(c_in if i == 0 else c_out, c_out, k, stride=stride,
                             padding=dilation * (k // 2), dilation=dilation),
                   nn.ReLU(inplace=True)]
    layers.append(nn.BatchNorm2d(c_out))
    return nn.Sequential(*layers)


class VGGDilated(ColorNet):
    """Zhang et al. 2016 colourisation network, width-scaled."""

    arch = "vgg_dilated"
    output_stride = 4
    input_multiple = 8
    min_input_size = 16  # keeps the 1/8 blocks at >= 2x2 so BatchNorm works at batch 1

    def __init__(self, *, out_channels: int, width: int = 32, kernel_size: int = 3,
                 in_channels: int = 1) -> None:
        super().__init__()
        self.in_channels = check_in_channels(in_channels)
        k, c_in, blocks = kernel_size, in_channels, []
        for mult, n, dilation, stride in BLOCKS:
            blocks.append(_block(c_in, mult * width, n, k, dilation, stride))
            c_in = mult * width
        self.blocks = nn.Sequential(*blocks)
        c8 = 8 * width
        self.conv8 = nn.Sequential(
            nn.ConvTranspose2d(c_in, c8, 4, stride=2, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(c8, c8, k, padding=k // 2), nn.ReLU(inplace=True),
            nn.Conv2d(c8, c8, k, padding=k // 2), nn.ReLU(inplace=True))
        self.classifier = nn.Conv2d(c8, out_channels, 1)

    def body(self, x: Tensor) -> Tensor:
        return self.classifier(self.conv8(self.blocks(x)))


def build_vgg_dilated(*, out_channels: int, width: int = 32, kernel_size: int = 3,
                      in_channels: int = 1) -> VGGDilated:
    return VGGDilated(out_channels=out_channels, width=width, kernel_size=kernel_size, in_channels=in_channels)
