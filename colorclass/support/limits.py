"""Input limits of the prediction path: the one home of the network-size caps.

    photo (H, W) + asked size -> *capped_size* -> predict.network_size -> network input grid
                                               -> the CLI's --size check (before any work)

Torch-free, so the command line validates ``--size`` without importing torch. No photo or
option can make the network run on an unbounded grid: a 4000x10 scan or ``--size 100000``
is run smaller, keeping its aspect.
"""
from __future__ import annotations

import math

__all__ = ["MAX_LONG_SIDE", "MAX_NETWORK_PIXELS", "capped_size"]

MAX_LONG_SIDE = 4096            # network input: longest side, pixels (also the largest --size)
MAX_NETWORK_PIXELS = 4_000_000  # network input: height x width


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
