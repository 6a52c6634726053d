"""k-means colour bins in RGB or Lab (the classic 24-colour palette).

Pipeline: photos -> **quantize (fit bins)** -> encode targets -> network -> loss -> decode -> ...

Hard labels use the k-means cells of the fitting space; soft targets weight the n nearest
centres with a Gaussian of ``sigma`` Lab units, distances measured in Lab for both spaces.
"""
from __future__ import annotations

import numpy as np

from quantize.bins import Bins, register_family
from quantize.features import rgb01_to_lab


@register_family
class KMeansBins(Bins):
    """k-means centres; ``centers`` are (k, 3) RGB in [0, 1] or Lab, ordered by Lab (L, a, b)."""

    family = "kmeans"
    spaces = ("rgb", "lab")

    def __init__(self, *, k: int = 24, space: str = "rgb", seed: int = 0,
                 minibatch_above: int = 50_000, max_fit_pixels: int = 200_000) -> None:
        super().__init__(space=space, seed=seed)
        if int(k) != k or k < 2:
            raise ValueError(f"k must be an integer >= 2, got k={k!r}; try k=24")
        self.k, self.minibatch_above = int(k), int(minibatch_above)
        self.max_fit_pixels = int(max_fit_pixels)
        self._centers_lab: np.ndarray | None = None

    def _params(self) -> dict:
        return super()._params() | {"k": self.k, "minibatch_above": self.minibatch_above,
                                    "max_fit_pixels": self.max_fit_pixels}

    def _fit(self, pixels_u8: np.ndarray) -> None:
        from sklearn.cluster import KMeans, MiniBatchKMeans  # lazy: scikit-learn costs seconds to import

        n_distinct = _count_distinct(pixels_u8)
        if n_distinct < self.k:
            raise ValueError(f"the pixel sample has only {n_distinct} distinct colours, fewer than k={self.k}; "
                             "use a smaller k or sample more photos")
        if len(pixels_u8) > self.max_fit_pixels:   # 24-64 centres need no more (the inertia on all
            # 1M Tiny ImageNet pixels changes by < 0.1 %); the prior still counts every pixel
            keep = np.random.default_rng(self.seed).choice(len(pixels_u8), self.max_fit_pixels, replace=False)
            pixels_u8 = pixels_u8[np.sort(keep)]
        rgb = pixels_u8.astype(np.float32) / 255.0
        x = rgb if self.space == "rgb" else rgb01_to_lab(rgb)
        if len(x) > self.minibatch_above:
            model = MiniBatchKMeans(n_clusters=self.k, random_state=self.seed, batch_size=8192,
                                    n_init=3, max_iter=100)
        else:
            model = KMeans(n_clusters=self.k, random_state=self.seed, n_init=4)
        centers = model.fit(x).cluster_centers_.astype(np.float32)
        if self.space == "rgb":
            centers = np.clip(centers, 0.0, 1.0)
        self._set_centers(centers)

    def _set_centers(self, centers: np.ndarray) -> None:
        lab = rgb01_to_lab(centers) if self.space == "rgb" else centers
        order = np.lexsort((lab[:, 2], lab[:, 1], lab[:, 0]))
        self.centers = centers[order].astype(np.float32)
        self._restore({}, "")

    def _restore(self, arrays: dict, path: str) -> None:
        centers = self._fitted(self.centers)
        self._centers_lab = rgb01_to_lab(centers) if self.space == "rgb" else centers
        self.centers_ab = self._centers_lab[:, 1:].astype(np.float32)

    def _hard_features(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.space == "rgb":
            return rgb, self._fitted(self.centers)
        return rgb01_to_lab(rgb), self._fitted(self.centers)

    def _soft_features(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return rgb01_to_lab(rgb), self._fitted(self._centers_lab)


def _count_distinct(pixels_u8: np.ndarray) -> int:
    """Number of distinct colours of ``(N, 3) uint8`` pixels (a 2^24 table: ~50x ``np.unique``)."""
    p = pixels_u8.astype(np.uint32)
    seen = np.zeros(1 << 24, dtype=bool)
    seen[(p[:, 0] << 16) | (p[:, 1] << 8) | p[:, 2]] = True
    return int(np.count_nonzero(seen))
