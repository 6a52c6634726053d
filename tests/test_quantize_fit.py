"""Prior smoothing and fitting bins from a pixel sample.

(Prior sums and rebalancing weights: test_quantize_encoding.py; fitting from a photos folder and
writing the bins file: test_binning.py.)"""
from __future__ import annotations

import numpy as np
import pytest

import quantize


def test_prior_counts_and_gaussian_smoothing():
    bins = quantize.make_bins("grid", preset="zhang313").build()
    px = np.random.default_rng(0).integers(0, 256, (3000, 3), dtype=np.uint8)
    counts = quantize.bin_counts(bins, px)
    assert counts.sum() == pytest.approx(3000)
    raw = quantize.prior_from_counts(bins, counts, smooth_sigma=0)
    np.testing.assert_allclose(raw, counts / 3000)
    smooth = quantize.compute_prior(bins, px)
    assert smooth.sum() == pytest.approx(1.0) and (smooth > 0).all()
    assert (smooth > 0).sum() > (raw > 0).sum()        # smoothing reaches neighbouring bins
    # a single occupied bin spreads to its 4 neighbours at distance 10 with weight exp(-2)
    one = np.zeros(313)
    centre = 150
    one[centre] = 1
    spread = quantize.prior_from_counts(bins, one)
    d = np.linalg.norm(bins.centers - bins.centers[centre], axis=1)
    assert spread[d == 10].mean() / spread[centre] == pytest.approx(np.exp(-2), rel=0.02)


def test_fit_bins_from_pixels_records_data_prior_and_times():
    px = np.random.default_rng(1).integers(0, 256, (2000, 3), dtype=np.uint8)
    bins = quantize.fit_bins(quantize.make_bins("kmeans", k=6), px, data_info={"n_pixels": 2000},
                             progress=False)
    assert bins.n_bins == 6 and bins.prior.sum() == pytest.approx(1.0)
    assert bins.meta["data"] == {"n_pixels": 2000} and set(bins.meta["seconds"]) == {"fit", "prior"}
    assert "empty_bins" in bins.meta["prior"]
    plain = quantize.fit_bins(quantize.make_bins("kmeans", k=6), px, with_prior=False, progress=False)
    assert plain.prior is None and "data" not in plain.meta and "prior" not in plain.meta
