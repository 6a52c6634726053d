"""Hue-Chroma bins: a full-covariance GMM (soft bins) and a uniform Hue-Chroma grid.

Pipeline: photos -> **quantize (fit bins)** -> encode targets -> network -> loss -> decode -> ...

Hue is an angle, so both families live in the wrap-safe plane (c cos h, c sin h) with
h = HCL hue in radians and c = HCL chroma in [0, 1]: hue 359 deg and 1 deg are neighbours there.
``centers`` / ``centers_hc`` are (hue radians in [0, 2 pi), chroma); decoding uses the circular
hue mean (``decode_space = "hc"``); ``centers_ab`` (rendered at HCL lightness 0.5) is for display.
"""
from __future__ import annotations

import logging
import math
import time

import numpy as np

from quantize.bins import Bins, BinsFileError, register_family
from quantize.features import check_rgb01, embedding_to_hc, hc_display_ab, hc_to_embedding, rgb01_to_hc_embedding

_CHUNK = 65536
_MAX_EM_ITER = 300
log = logging.getLogger(__name__)


class _HueChromaBins(Bins):
    spaces = ("hc",)
    decode_space = "hc"
    soft_sigma_scale = 0.01   # sigma in Lab units; HCL chroma 1 is about 100 Lab chroma units

    def _set_centers_hc(self, hc: np.ndarray) -> None:
        self.centers = self.centers_hc = hc.astype(np.float32)
        self.centers_ab = hc_display_ab(self.centers_hc)

    def _hard_features(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return rgb01_to_hc_embedding(rgb), hc_to_embedding(self._fitted(self.centers_hc))


@register_family
class GMMBins(_HueChromaBins):
    """Gaussian mixture with full covariances in the (c cos h, c sin h) plane.

    Targets are the posteriors: hard label = most probable component, soft target = the n most
    probable components renormalised (``sigma`` is ignored).
    Family arrays: ``means (Q, 2)``, ``covariances (Q, 2, 2)``, ``weights (Q,)``.
    """

    family = "gmm"
    lut_hard_bits = 7   # tabulating 2 ** 24 posteriors takes ~20 s; 2 ** 21 take ~2 s

    progress = False   # a progress bar of the EM iterations on stderr (quantize.fit_bins sets it)

    def __init__(self, *, k: int = 32, space: str = "hc", seed: int = 0, max_fit_pixels: int = 200_000,
                 reg_covar: float = 1e-5, max_fit_seconds: float | None = None) -> None:
        super().__init__(space=space, seed=seed)
        if int(k) != k or k < 2:
            raise ValueError(f"k must be an integer >= 2, got k={k!r}; try k=32")
        self.k, self.max_fit_pixels, self.reg_covar = int(k), int(max_fit_pixels), float(reg_covar)
        self.max_fit_seconds = max_fit_seconds   # None: no time budget (colorclass passes one)
        self.fit_report: dict = {}
        self.means: np.ndarray | None = None
        self.covariances: np.ndarray | None = None
        self.weights: np.ndarray | None = None

    def _params(self) -> dict:
        return super()._params() | {"k": self.k, "max_fit_pixels": self.max_fit_pixels,
                                    "reg_covar": self.reg_covar}

    def _fit(self, pixels_u8: np.ndarray) -> None:
        from sklearn.mixture import GaussianMixture  # lazy: scikit-learn costs seconds to import

        x = rgb01_to_hc_embedding(pixels_u8.astype(np.float32) / 255.0).astype(np.float64)
        if len(x) > self.max_fit_pixels:
            x = x[np.random.default_rng(self.seed).choice(len(x), self.max_fit_pixels, replace=False)]
        n_distinct = len(np.unique(x.round(6), axis=0))
        if n_distinct < self.k:
            raise ValueError(f"the pixel sample has only {n_distinct} distinct hue-chroma values, fewer than "
                             f"k={self.k}; use a smaller k or sample more photos")
        gmm = GaussianMixture(self.k, covariance_type="full", random_state=self.seed, reg_covar=self.reg_covar,
                              max_iter=1, init_params="k-means++", warm_start=True)
        self.fit_report = _run_em(gmm, x, max_iter=_MAX_EM_ITER, max_seconds=self.max_fit_seconds,
                                  progress=self.progress)
        hc = embedding_to_hc(gmm.means_)
        order = np.lexsort((hc[:, 1], hc[:, 0]))
        self._set_components(gmm.means_[order], gmm.covariances_[order], gmm.weights_[order])

    def _set_components(self, means, covariances, weights) -> None:
        self.means = means = np.asarray(means, np.float64)
        self.covariances = np.asarray(covariances, np.float64)
        self.weights = np.asarray(weights, np.float64) / np.sum(weights)
        self._set_centers_hc(embedding_to_hc(means))

    def _components(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(means, covariances, weights); raises the not-fitted RuntimeError before ``fit`` / ``load``."""
        return self._fitted(self.means), self._fitted(self.covariances), self._fitted(self.weights)

    def _family_arrays(self) -> dict[str, np.ndarray]:
        means, covariances, weights = self._components()
        return {"means": means, "covariances": covariances, "weights": weights}

    def _expected_shapes(self, q: int) -> dict[str, tuple[int, ...]]:
        return {"means": (q, 2), "covariances": (q, 2, 2), "weights": (q,)}

    def _restore(self, arrays: dict, path: str) -> None:
        cov, w = arrays["covariances"], arrays["weights"]
        det = cov[:, 0, 0] * cov[:, 1, 1] - cov[:, 0, 1] * cov[:, 1, 0]
        if (cov[:, 0, 0] <= 0).any() or (det <= 0).any() or (w < 0).any() or abs(w.sum() - 1) > 1e-4:
            raise BinsFileError(f"{path}: GMM covariances must be positive definite and weights sum to 1; "
                                "the file is corrupt; re-fit with `fit-bins --family gmm`")
        self._set_components(arrays["means"], cov, w)

    def log_joint(self, x: np.ndarray) -> np.ndarray:
        """x: (N, 2) embedding -> (N, Q) float64 log(weight_q * N(x; mean_q, cov_q))."""
        means, cov, weights = self._components()
        det = cov[:, 0, 0] * cov[:, 1, 1] - cov[:, 0, 1] ** 2
        inv_a, inv_b, inv_c = cov[:, 1, 1] / det, -cov[:, 0, 1] / det, cov[:, 0, 0] / det
        dx = x[:, None, 0].astype(np.float64) - means[None, :, 0]
        dy = x[:, None, 1].astype(np.float64) - means[None, :, 1]
        maha = inv_a * dx * dx + 2 * inv_b * dx * dy + inv_c * dy * dy
        return np.log(weights) - 0.5 * (maha + np.log(det) + 2 * math.log(2 * math.pi))

    def posteriors(self, rgb: np.ndarray) -> np.ndarray:
        """rgb (N, 3) in [0, 1] -> (N, Q) float64 component posteriors, rows sum to 1."""
        x = rgb01_to_hc_embedding(rgb)
        out = np.empty((len(x), self.k), np.float64)
        for s in range(0, len(x), _CHUNK):
            lj = self.log_joint(x[s:s + _CHUNK])
            p = np.exp(lj - lj.max(1, keepdims=True))
            out[s:s + _CHUNK] = p / p.sum(1, keepdims=True)
        return out

    def encode_hard_exact(self, rgb: np.ndarray) -> np.ndarray:
        """Most probable component: (N, 3) float in [0, 1] -> (N,) int64."""
        x = rgb01_to_hc_embedding(check_rgb01(self._require_fitted(rgb)))
        return np.concatenate([self.log_joint(x[s:s + _CHUNK]).argmax(1) for s in range(0, len(x), _CHUNK)]
                              or [np.zeros(0, np.int64)]).astype(np.int64)

    def encode_soft_exact(self, rgb: np.ndarray, *, n: int = 5, sigma: float = 5.0
                          ) -> tuple[np.ndarray, np.ndarray]:
        """Top-n posteriors renormalised: idx (N, n) int64 most probable first, weight (N, n) float32."""
        rgb = check_rgb01(self._require_fitted(rgb))
        n = self._check_n_sigma(n, sigma)
        post = self.posteriors(rgb)
        idx = np.argsort(-post, axis=1, kind="stable")[:, :n]
        w = np.take_along_axis(post, idx, 1)
        return idx.astype(np.int64), (w / w.sum(1, keepdims=True)).astype(np.float32)


def _run_em(gmm, x: np.ndarray, *, max_iter: int, max_seconds: float | None, progress: bool) -> dict:
    """EM of a warm-started one-iteration ``gmm`` until the lower bound changes by less than its
    ``tol`` (scikit-learn's own rule, so the result equals one ``fit`` of ``max_iter``), ``max_iter``
    iterations, or ``max_seconds`` (checked after each iteration; the initialisation is one step).
    Returns {"iterations", "converged", "seconds", "stopped_by"}; a stop on time is logged."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from tqdm import tqdm

    start, previous, n, converged = time.monotonic(), -math.inf, 0, False
    with warnings.catch_warnings(), tqdm(total=max_iter, desc=f"GMM fit, k={gmm.n_components}", unit="EM step",
                                         disable=not progress) as bar:
        warnings.simplefilter("ignore", ConvergenceWarning)
        while n < max_iter:
            gmm.fit(x)
            n += 1
            bar.update(1)
            converged = bool(abs(gmm.lower_bound_ - previous) < gmm.tol)
            previous = gmm.lower_bound_
            if converged or (max_seconds is not None and time.monotonic() - start > max_seconds):
                break
    seconds = round(time.monotonic() - start, 2)
    stopped_by = "converged" if converged else "iterations" if n >= max_iter else "time budget"
    if stopped_by == "time budget":
        log.warning(f"GMM fit stopped on its time budget of {max_seconds:g} s after {n} EM iteration(s), before "
                    f"converging; the bins are usable but coarser: use a smaller k for a converged fit")
    return {"iterations": n, "converged": converged, "seconds": seconds, "stopped_by": stopped_by}


def _hcgrid_layout(k: int, n_chroma: int | None) -> tuple[int, int]:
    if n_chroma is None:   # the divisor of k closest to sqrt(k / 2): about twice as many hues as rings
        n_chroma = min((d for d in range(1, k + 1) if k % d == 0), key=lambda d: (abs(d - math.sqrt(k / 2)), d))
    if int(n_chroma) != n_chroma or n_chroma < 1 or k % n_chroma or k // n_chroma < 3:
        raise ValueError(f"hcgrid needs k = n_hue * n_chroma with n_hue >= 3, got k={k}, n_chroma={n_chroma}; "
                         "e.g. k=24 (3 x 8), k=32 (4 x 8)")
    return k // int(n_chroma), int(n_chroma)


@register_family
class HueChromaGridBins(_HueChromaBins):
    """Uniform Hue-Chroma grid: ``n_chroma`` rings at chroma (j + 0.5) / n_chroma, each with
    ``n_hue`` hues at 2 pi i / n_hue. Nearest bin / Gaussian weights in the (c cos h, c sin h) plane.
    Data-independent: ``fit`` only validates the sample."""

    family = "hcgrid"

    def __init__(self, *, k: int = 32, space: str = "hc", seed: int = 0, n_chroma: int | None = None) -> None:
        super().__init__(space=space, seed=seed)
        if int(k) != k or k < 3:
            raise ValueError(f"k must be an integer >= 3 for hcgrid, got k={k!r}; try k=32")
        self.k = int(k)
        self.n_hue, self.n_chroma = _hcgrid_layout(self.k, n_chroma)
        hue = 2 * np.pi * np.arange(self.n_hue) / self.n_hue
        chroma = (np.arange(self.n_chroma) + 0.5) / self.n_chroma
        c, h = np.meshgrid(chroma, hue, indexing="ij")
        self._grid_hc = np.stack([h.ravel(), c.ravel()], 1)

    def _params(self) -> dict:
        return super()._params() | {"k": self.k, "n_chroma": self.n_chroma}

    def _fit(self, pixels_u8: np.ndarray) -> None:
        self._set_centers_hc(self._grid_hc)
