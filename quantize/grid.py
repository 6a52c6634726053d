"""Lab ab-grid bins: a regular grid on the ab plane, restricted to cells sRGB can reach.

Pipeline: photos -> **quantize (fit bins)** -> encode targets -> network -> loss -> decode -> ...

``centers`` are (Q, 2) ab points on a grid of ``step`` Lab units, sorted by (a, b). A cell is kept
when some in-gamut 8-bit sRGB colour rounds to it. The preset ``zhang313`` reproduces the 313
centres of Zhang et al., "Colorful Image Colorization" (ECCV 2016): their set is a little wider
than the sRGB gamut (52 boundary cells more than the 261 cells sRGB reaches), so it is carried
here as one run of b values per a column, which is compact and easy to audit.
"""
from __future__ import annotations

import numpy as np

from quantize.bins import Bins, register_family
from quantize.features import rgb01_to_lab

# (a, b_min, b_max): for each a column of the ECCV16 313-bin set, the contiguous range of b (step 10).
ZHANG313_COLUMNS = (
    (-90, 50, 90), (-80, 20, 90), (-70, 0, 90), (-60, -20, 90), (-50, -30, 100), (-40, -40, 100),
    (-30, -50, 100), (-20, -50, 100), (-10, -60, 100), (0, -70, 100), (10, -80, 90), (20, -80, 90),
    (30, -90, 90), (40, -100, 90), (50, -100, 80), (60, -110, 80), (70, -110, 80), (80, -110, 70),
    (90, -110, 70), (100, -90, 0),
)
ZHANG313_SHA256 = "2a39983ed60d5b52b717842d56d5f766982289e6d5a609582155f437cecc1045"  # of int64 (313, 2)
PRESETS = ("zhang313",)


def zhang313_centers() -> np.ndarray:
    """The 313 ECCV16 ab centres: (313, 2) int64, sorted by (a, b)."""
    return np.array([(a, b) for a, lo, hi in ZHANG313_COLUMNS for b in range(lo, hi + 1, 10)], np.int64)


def srgb_gamut_ab() -> np.ndarray:
    """ab of every 8-bit sRGB colour on the surface of the RGB cube: (393216, 2) float32.

    Each vertical line of Lab space that meets the gamut solid enters it through the surface, so
    these colours reach every ab the gamut reaches."""
    v = np.arange(256, dtype=np.float32) / 255.0
    g1, g2 = (x.ravel() for x in np.meshgrid(v, v, indexing="ij"))
    faces = []
    for axis in range(3):
        for value in (0.0, 1.0):
            rgb = np.insert(np.stack([g1, g2], 1), axis, value, axis=1)
            faces.append(rgb)
    return rgb01_to_lab(np.concatenate(faces))[:, 1:]


def gamut_grid_centers(step: float) -> np.ndarray:
    """Grid points (multiples of ``step``) that some in-gamut sRGB colour rounds to: (Q, 2) float32."""
    cells = np.unique(np.round(srgb_gamut_ab() / step).astype(np.int64), axis=0)   # sorted by (a, b)
    return (cells * step).astype(np.float32)


@register_family
class ABGridBins(Bins):
    """Regular ab grid; nearest bin and Gaussian weights are measured in ab (lightness ignored)."""

    family = "grid"
    spaces = ("ab",)

    def __init__(self, *, step: float = 10.0, preset: str | None = None, space: str = "ab", seed: int = 0) -> None:
        super().__init__(space=space, seed=seed)
        if preset is not None and preset not in PRESETS:
            raise ValueError(f"unknown grid preset {preset!r}; available: {', '.join(PRESETS)}")
        if preset == "zhang313" and step != 10:
            raise ValueError(f"preset 'zhang313' has step 10, got step={step!r}; drop the step option")
        if not 1.0 <= float(step) <= 60.0:
            raise ValueError(f"grid step must be in [1, 60] Lab units, got {step!r}; the classic value is 10")
        self.step, self.preset = float(step), preset

    def _params(self) -> dict:
        return super()._params() | {"step": self.step, "preset": self.preset}

    def _fit(self, pixels_u8: np.ndarray) -> None:
        """The grid does not depend on the data; ``fit`` only builds it."""
        self.build()

    def build(self) -> "ABGridBins":
        """Make the centres without a pixel sample (the grid is data-independent); returns self."""
        centers = zhang313_centers() if self.preset == "zhang313" else gamut_grid_centers(self.step)
        self.centers = self.centers_ab = centers.astype(np.float32)
        if not self.meta:
            self.meta = self._base_meta()
        return self

    def _hard_features(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return rgb01_to_lab(rgb)[:, 1:], self._fitted(self.centers)
