"""Input limits of the prediction path: the one home of the network-size caps.

    photo (H, W) + asked size -> *capped_size* -> inference.network.network_grid -> network input grid
                                               -> the CLI's --size check (before any work)

Torch-free, so the command line validates ``--size`` without importing torch. No photo or
option can make the network run on an unbounded grid: a 4000x10 scan or ``--size 100000``
is run smaller, keeping its aspect.

    photo header (W, H) -> *photo_limit* -> None, or the reason it is skipped (before decoding)

Photos themselves are bounded too, because the caps above keep the aspect: a 1 x 20,000,000
strip (a valid 39 KB PNG) would still be decoded, converted and padded at full length.
``MAX_PHOTO_PIXELS`` bounds width x height (the decoded photo needs 3 bytes a pixel; the value is
Pillow's decompression-bomb limit, which ``photos.read`` enforces at decoding as "too large"), and
``MAX_ASPECT`` bounds long side / short side, chosen as ``MAX_LONG_SIDE / MIN_NETWORK_SIDE`` so that
a capped network grid is never thinner than ``MIN_NETWORK_SIDE`` pixels.
"""
from __future__ import annotations

import math

__all__ = ["MAX_LONG_SIDE", "MAX_NETWORK_PIXELS", "MIN_NETWORK_SIDE", "MAX_PHOTO_PIXELS", "MAX_ASPECT",
           "capped_size", "photo_limit"]

MAX_LONG_SIDE = 4096            # network input: longest side, pixels (also the largest --size)
MAX_NETWORK_PIXELS = 4_000_000  # network input: height x width
MIN_NETWORK_SIDE = 8            # network input: the thinnest short side a capped grid may get
MAX_PHOTO_PIXELS = 89_478_485   # a photo: width x height (= PIL.Image.MAX_IMAGE_PIXELS's default)
MAX_ASPECT = MAX_LONG_SIDE // MIN_NETWORK_SIDE   # a photo: long side / short side, 512:1


def capped_size(height: int, width: int, size: int | None) -> int | None:
    """The network's shorter side for an (height, width) photo asked to run at ``size`` (None:
    the photo's own), lowered so that the long side stays <= MAX_LONG_SIDE and the area <=
    MAX_NETWORK_PIXELS (aspect kept). Returns None when the photo's own size already fits."""
    short, long_ = min(height, width), max(height, width)
    want = short if size is None else size
    limit = min(want, MAX_LONG_SIDE * short / long_, math.sqrt(MAX_NETWORK_PIXELS * short / long_))
    limit = max(1, int(limit))
    if size is None and limit >= short:
        return None
    return limit


def photo_limit(width: int, height: int) -> str | None:
    """None when a ``width`` x ``height`` photo may be processed, else the short reason it is
    skipped: "too large" (over MAX_PHOTO_PIXELS) or "extreme aspect ratio" (over MAX_ASPECT:1,
    e.g. a 1 x 20,000,000 strip). Read from the file's header, before decoding."""
    if width <= 0 or height <= 0:
        return None   # the reader reports empty images itself
    if width * height > MAX_PHOTO_PIXELS:
        return "too large"
    if max(width, height) > MAX_ASPECT * min(width, height):
        return f"extreme aspect ratio (over {MAX_ASPECT}:1)"
    return None
