"""Colourisation metrics as pure functions on arrays (no models, no files).

    truth photo + predicted photo (uint8 sRGB) -> Lab (scikit-image convention) -> *metrics*
    -> evaluate (one MetricAccumulator per method) / calibrate / reports

Definitions (per photo at its own resolution; pooled over all pixels of the set):
    e            ab error ||ab_pred - ab_true|| per pixel, Lab units
    auc_ab       area under F(t) = fraction of pixels with e <= t, t = 0..150 step 1 (trapezoid),
                 divided by 150: in [0, 1] (Zhang et al. 2016 "raw accuracy")
    auc_ab_rebalanced   every pixel belongs to the nearest of the 313 ab bins of its TRUE colour
                 (the ECCV16 grid, ``quantize.zhang313_centers``); AuC of each bin over its own
                 pixels; mean over the bins that hold >= 0.01 % of the evaluated pixels. This is
                 inverse-frequency weighting with the evaluated set's own bin frequencies
                 (``rebalanced_pixel_weights``), stable on small sets.
    mean_iou, per_class_accuracy   over the same 313 bins, nearest bin of the predicted colour vs
                 of the true colour; per_class_accuracy has 313 entries (None for bins under the
                 0.01 % floor) and mean_iou averages those same bins, so every method (a
                 classifier, a regression, a constant baseline) is measured in the same classes.
    ssim         scikit-image structural_similarity of the sRGB photos (data range 255), mean over photos
    colorfulness_gap   |mean Hasler-Suesstrunk colourfulness of predictions - of truths|
Memory stays bounded: errors are kept as a (313, 152) histogram (column 151 = e > 150).
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Callable

import numpy as np

__all__ = ["AUC_MAX", "AUC_THRESHOLDS", "MIN_BIN_FRACTION", "N_BINS", "ab_bin_index", "ab_error",
           "auc_from_counts", "rebalanced_pixel_weights", "photo_ssim", "psnr", "ErrorHistogram",
           "MetricAccumulator"]

AUC_MAX = 150
AUC_THRESHOLDS = np.arange(0, AUC_MAX + 1, dtype=np.float64)
MIN_BIN_FRACTION = 1e-4   # a bin counts in the rebalanced AuC when it holds >= 0.01 % of the pixels
N_BINS = 313
# NumPy 2 renamed trapz (gone from its stubs, hence getattr for NumPy 1.x)
_trapezoid: Callable[..., Any] = getattr(np, "trapezoid", None) or getattr(np, "trapz")


@lru_cache(maxsize=1)
def _bin_tree():
    from scipy.spatial import cKDTree

    import quantize

    return cKDTree(quantize.zhang313_centers().astype(np.float64))


def ab_bin_index(ab: np.ndarray) -> np.ndarray:
    """Nearest of the 313 ECCV16 ab bins: ab (..., 2) float -> (...) int64 in [0, 313)."""
    ab = np.asarray(ab, dtype=np.float64)
    return _bin_tree().query(ab.reshape(-1, 2))[1].astype(np.int64).reshape(ab.shape[:-1])


def ab_error(pred_u8: np.ndarray, truth_u8: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(H, W, 3) uint8 sRGB pair -> (e (N,), ab_pred (N, 2), ab_true (N, 2)), float64 Lab units."""
    from colorclass.color import rgb_u8_to_lab_np

    if pred_u8.shape != truth_u8.shape:
        raise ValueError(f"prediction {pred_u8.shape} and truth {truth_u8.shape} differ in size")
    ab_p = rgb_u8_to_lab_np(pred_u8)[..., 1:].reshape(-1, 2).astype(np.float64)
    ab_t = rgb_u8_to_lab_np(truth_u8)[..., 1:].reshape(-1, 2).astype(np.float64)
    return np.linalg.norm(ab_p - ab_t, axis=-1), ab_p, ab_t


def auc_from_counts(counts: np.ndarray) -> np.ndarray:
    """AuC in [0, 1] from error histograms (..., 152): column k counts ceil(e) == k (k <= 150),
    column 151 counts e > 150. Rows without pixels give NaN."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum(-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        cdf = np.cumsum(counts[..., : AUC_MAX + 1], -1) / total
    return _trapezoid(cdf, AUC_THRESHOLDS, axis=-1) / AUC_MAX


def rebalanced_pixel_weights(true_bins: np.ndarray, min_fraction: float = MIN_BIN_FRACTION) -> np.ndarray:
    """Per-pixel weights of the rebalanced AuC: 1 / (n_kept_bins * pixels of the pixel's bin) for
    bins holding >= ``min_fraction`` of the pixels, 0 elsewhere. They sum to 1, every kept bin
    gets the same total weight, so sum(w * [e <= t]) is the mean over bins of each bin's F(t)."""
    true_bins = np.asarray(true_bins).ravel()
    per_bin = np.bincount(true_bins, minlength=N_BINS).astype(np.float64)
    kept = per_bin >= min_fraction * true_bins.size
    w_bin = np.where(kept, 1.0 / np.maximum(per_bin, 1) / max(kept.sum(), 1), 0.0)
    return w_bin[true_bins]


def psnr(pred_u8: np.ndarray, truth_u8: np.ndarray) -> float:
    """PSNR in dB of two uint8 sRGB photos, peak 1 (mse floored at 1e-12)."""
    mse = float(np.mean((pred_u8.astype(np.float64) - truth_u8.astype(np.float64)) ** 2)) / 255 ** 2
    return float(10 * math.log10(1 / max(mse, 1e-12)))


def photo_ssim(pred_u8: np.ndarray, truth_u8: np.ndarray) -> float:
    """scikit-image SSIM of two (H, W, 3) uint8 photos (window shrunk for tiny photos; NaN < 3 px)."""
    from skimage.metrics import structural_similarity

    side = min(truth_u8.shape[:2])
    win = min(7, side if side % 2 else side - 1)
    if win < 3:
        return float("nan")
    return float(structural_similarity(pred_u8, truth_u8, channel_axis=-1, data_range=255, win_size=win))


class ErrorHistogram:
    """Per-bin histograms of the ab error over a whole set: counts (313, 152) int64, bounded memory."""

    def __init__(self) -> None:
        self.counts = np.zeros((N_BINS, AUC_MAX + 2), dtype=np.int64)

    def add(self, err: np.ndarray, true_bins: np.ndarray) -> None:
        """err (N,) ab errors; true_bins (N,) bin index of each pixel's true colour."""
        col = np.minimum(np.ceil(np.asarray(err, dtype=np.float64).ravel()), AUC_MAX + 1).astype(np.int64)
        flat = np.asarray(true_bins, dtype=np.int64).ravel() * (AUC_MAX + 2) + col
        self.counts += np.bincount(flat, minlength=self.counts.size).reshape(self.counts.shape)

    @property
    def n_pixels(self) -> int:
        return int(self.counts.sum())

    def kept_bins(self, min_fraction: float = MIN_BIN_FRACTION) -> np.ndarray:
        """Boolean (313,): bins holding >= ``min_fraction`` of the pixels."""
        per_bin = self.counts.sum(1)
        return (per_bin > 0) & (per_bin >= min_fraction * max(self.n_pixels, 1))

    def auc(self) -> float:
        return float(auc_from_counts(self.counts.sum(0)))

    def auc_rebalanced(self, min_fraction: float = MIN_BIN_FRACTION) -> float:
        kept = self.kept_bins(min_fraction)
        return float(auc_from_counts(self.counts[kept]).mean()) if kept.any() else float("nan")


class MetricAccumulator:
    """Adds photos one at a time; ``result()`` gives every metric of the module docstring."""

    def __init__(self) -> None:
        self.hist = ErrorHistogram()
        self.confusion = np.zeros((N_BINS, N_BINS), dtype=np.int64)   # [true bin, predicted bin]
        self.sq_err = 0.0
        self.clipped = 0
        self.per_photo: dict[str, list[float]] = {"psnr": [], "ssim": [], "cf_pred": [], "cf_true": []}

    def add(self, pred_u8: np.ndarray, truth_u8: np.ndarray, n_clipped: int = 0) -> None:
        """One photo: prediction and truth (H, W, 3) uint8 sRGB; n_clipped pixels out of gamut."""
        from colorclass.photos import hasler_susstrunk

        err, ab_p, ab_t = ab_error(pred_u8, truth_u8)
        true_bins, pred_bins = ab_bin_index(ab_t), ab_bin_index(ab_p)
        self.hist.add(err, true_bins)
        self.confusion += np.bincount(true_bins * N_BINS + pred_bins,
                                      minlength=N_BINS * N_BINS).reshape(N_BINS, N_BINS)
        self.sq_err += float((err ** 2).sum())
        self.clipped += int(n_clipped)
        for key, value in (("psnr", psnr(pred_u8, truth_u8)), ("ssim", photo_ssim(pred_u8, truth_u8)),
                           ("cf_pred", hasler_susstrunk(pred_u8)), ("cf_true", hasler_susstrunk(truth_u8))):
            self.per_photo[key].append(value)

    def class_scores(self) -> tuple[list[float | None], float]:
        """(per-class accuracy over the 313 bins, None where under the floor; their mean IoU)."""
        kept = self.hist.kept_bins()
        c = self.confusion.astype(np.float64)
        tp, true_n, pred_n = np.diag(c), c.sum(1), c.sum(0)
        acc = [float(tp[i] / true_n[i]) if kept[i] else None for i in range(N_BINS)]
        iou = tp[kept] / (true_n[kept] + pred_n[kept] - tp[kept])
        return acc, float(iou.mean()) if kept.any() else float("nan")

    def result(self) -> dict:
        n = self.hist.n_pixels
        if not n:
            raise ValueError("no photos were measured")
        acc, miou = self.class_scores()
        mean = {k: float(np.nanmean(v)) if len(v) and not np.all(np.isnan(v)) else None
                for k, v in self.per_photo.items()}
        cf_pred, cf_true = mean["cf_pred"], mean["cf_true"]
        return {"n_images": len(self.per_photo["psnr"]), "auc_ab": self.hist.auc(),
                "auc_ab_rebalanced": self.hist.auc_rebalanced(), "ab_rmse": math.sqrt(self.sq_err / n),
                "psnr": mean["psnr"], "ssim": mean["ssim"], "mean_iou": miou, "per_class_accuracy": acc,
                "colorfulness_pred": cf_pred, "colorfulness_true": cf_true,
                "colorfulness_gap": None if cf_pred is None or cf_true is None else abs(cf_pred - cf_true),
                "clipped_fraction": self.clipped / n}
