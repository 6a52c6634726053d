"""ColourBins: what decoding needs of a set of colour bins (a ``typing.Protocol``).

``quantize.Bins`` (every family, fitted or loaded) has these members, and so may any small
stand-in (tests use a ``SimpleNamespace``). Importing this module imports neither torch nor
quantize, so type hints can name it anywhere.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np

__all__ = ["ColourBins"]


class ColourBins(Protocol):
    """Q colour bins as the decoders read them (read-only members).

    n_bins: Q; centers_ab: (Q, 2) Lab chroma of each bin; decode_space: "ab" (decode by averaging
    ``centers_ab``) or "hc" (by averaging ``centers_hc`` as hue angle and chroma);
    centers_hc: (Q, 2) (hue radians in [0, 2 pi), chroma in [0, 1]), None unless decode_space is "hc".
    """

    @property
    def n_bins(self) -> int: ...

    @property
    def centers_ab(self) -> np.ndarray: ...

    @property
    def decode_space(self) -> str: ...

    @property
    def centers_hc(self) -> np.ndarray | None: ...
