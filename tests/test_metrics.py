"""Metric functions on tiny hand-computed arrays, and the golden gray numbers on CIFAR-10 horses."""
from pathlib import Path

import numpy as np
import pytest

import quantize
from colorclass.color import rgb_u8_to_lab_np
from colorclass.evaluation.metrics import (AUC_THRESHOLDS, N_BINS, ErrorHistogram, MetricAccumulator, ab_bin_index,
                                auc_from_counts, photo_ssim, rebalanced_pixel_weights)
from colorclass.photos import hasler_susstrunk

HORSES = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "cifar10" / "test" / "horse"


def _hist(errors, bins=None):
    h = ErrorHistogram()
    errors = np.asarray(errors, dtype=np.float64)
    h.add(errors, np.zeros(errors.size, np.int64) if bins is None else np.asarray(bins))
    return h


def test_auc_hand_computed():
    assert _hist([0, 0, 0]).auc() == pytest.approx(1.0)
    assert _hist([150.0]).auc() == pytest.approx(0.5 / 150)      # F jumps to 1 at t = 150 only
    assert _hist([10.0]).auc() == pytest.approx(140.5 / 150)     # half a step at 9..10, then 140
    assert _hist([0.0, 400.0]).auc() == pytest.approx(0.5)       # beyond 150 never counts


def test_auc_histogram_equals_direct_cdf():
    rng = np.random.default_rng(0)
    e = np.concatenate([rng.exponential(20, 5000), [0.0, 3.0, 150.0, 151.5]])
    direct = np.trapezoid((e[None] <= AUC_THRESHOLDS[:, None]).mean(1), AUC_THRESHOLDS) / 150
    assert _hist(e).auc() == pytest.approx(direct, abs=1e-12)


def test_rebalanced_weights_normalise_and_match_mean_of_bins():
    rng = np.random.default_rng(1)
    bins = np.concatenate([np.full(9000, 5), np.full(1000, 100), [200]])   # bin 200: 1 px < 0.01 %
    e = rng.uniform(0, 60, bins.size) * np.where(bins == 5, 0.2, 1.0)
    w = rebalanced_pixel_weights(bins)
    assert w.sum() == pytest.approx(1.0)
    assert w[bins == 5].sum() == pytest.approx(0.5) and w[bins == 100].sum() == pytest.approx(0.5)
    assert np.all(w[bins == 200] == 0)
    weighted = (w[None] * (e[None] <= AUC_THRESHOLDS[:, None])).sum(1)
    h = _hist(e, bins)
    assert h.kept_bins().sum() == 2
    assert h.auc_rebalanced() == pytest.approx(np.trapezoid(weighted, AUC_THRESHOLDS) / 150, abs=1e-12)
    per_bin = [_hist(e[bins == b]).auc() for b in (5, 100)]
    assert h.auc_rebalanced() == pytest.approx(np.mean(per_bin))
    assert auc_from_counts(h.counts[[5, 100]]) == pytest.approx(per_bin)


def test_bin_centres_are_their_own_nearest_bin():
    centres = quantize.zhang313_centers().astype(np.float64)
    assert np.array_equal(ab_bin_index(centres), np.arange(N_BINS))
    assert ab_bin_index(centres[7] + 3.0) == 7


def test_truth_scores_perfectly():
    rng = np.random.default_rng(2)
    truth = rng.integers(0, 256, (24, 20, 3), dtype=np.uint8)
    acc = MetricAccumulator()
    acc.add(truth, truth)
    r = acc.result()
    assert r["auc_ab"] == 1.0 and r["auc_ab_rebalanced"] == 1.0 and r["ab_rmse"] == 0.0
    assert r["ssim"] == pytest.approx(1.0) and r["colorfulness_gap"] == 0.0 and r["mean_iou"] == 1.0
    assert all(a == 1.0 for a in r["per_class_accuracy"] if a is not None)
    assert len(r["per_class_accuracy"]) == N_BINS


def test_gray_prediction_gap_iou_and_class_accuracy():
    truth = np.zeros((4, 4, 3), np.uint8)
    truth[:2] = (200, 40, 40)
    truth[2:] = (40, 60, 200)
    gray = np.full_like(truth, 100)
    acc = MetricAccumulator()
    acc.add(gray, truth)
    r = acc.result()
    assert r["colorfulness_gap"] == pytest.approx(hasler_susstrunk(truth))
    assert r["mean_iou"] == 0.0 and [a for a in r["per_class_accuracy"] if a is not None] == [0.0, 0.0]


def test_mean_iou_hand_computed():
    acc = MetricAccumulator()
    a, b = 10, 20
    acc.hist.add(np.zeros(4), np.array([a, a, a, b]))
    acc.confusion[a, a], acc.confusion[a, b], acc.confusion[b, b] = 2, 1, 1
    per_class, miou = acc.class_scores()
    assert per_class[a] == pytest.approx(2 / 3) and per_class[b] == 1.0
    assert miou == pytest.approx((2 / 3 + 1 / 2) / 2)   # IoU a = 2/(3+2-2), b = 1/(1+2-1)


def test_ssim_tiny_photo_is_nan():
    tiny = np.zeros((2, 2, 3), np.uint8)
    assert np.isnan(photo_ssim(tiny, tiny))


@pytest.mark.skipif(not HORSES.is_dir(), reason="../shared/data is absent")
def test_golden_gray_auc_on_cifar10_test_horses():
    from colorclass.photos import list_images, load_rgb

    files = list_images(HORSES)
    assert len(files) == 1000
    h = ErrorHistogram()
    for f in files:   # no colourless filter, own 32x32 resolution, prediction ab = 0
        ab = rgb_u8_to_lab_np(load_rgb(f))[..., 1:].reshape(-1, 2).astype(np.float64)
        h.add(np.linalg.norm(ab, axis=-1), ab_bin_index(ab))
    assert 100 * h.auc() == pytest.approx(90.26, abs=0.2)
    assert 100 * h.auc_rebalanced() == pytest.approx(74.20, abs=0.2)
