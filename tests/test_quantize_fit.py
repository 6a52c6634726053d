"""Prior smoothing and fit_bins_from_folder (files, summary, option errors).

(Prior sums and rebalancing weights: test_quantize_encoding.py.)"""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

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


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    palette = np.array([[200, 30, 30], [30, 150, 60], [40, 60, 200], [220, 200, 40], [120, 120, 120]])
    for i in range(6):
        labels = rng.integers(0, 5, (24, 24))
        img = np.clip(palette[labels] + rng.integers(-10, 11, (24, 24, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(root / f"img{i}.png")
    return root


@pytest.mark.parametrize("family,kw", [("kmeans", dict(k=5)), ("gmm", dict(k=4)),
                                       ("grid", dict(preset="zhang313")), ("hcgrid", dict(k=16))])
def test_fit_bins_from_folder_writes_files(photo_folder, tmp_path, family, kw):
    out = tmp_path / "bins.npz"
    bins = quantize.fit_bins_from_folder(photo_folder, out, family=family, pixels_per_image=200,
                                         progress=False, **kw)
    assert out.is_file() and out.with_suffix(".png").is_file()
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["family"] == family and meta["data"]["n_pixels"] == 1200 and meta["data"]["n_images"] == 6
    loaded = quantize.load_bins(out)
    assert loaded.prior.sum() == pytest.approx(1.0)
    text = quantize.format_summary(loaded, loaded.meta)
    assert f"Q={bins.n_bins}" in text and "pixels: 1,200 from 6 images" in text and "empty bins:" in text
    if family == "grid":   # 5 jittered colours reach only a few dozen of the 313 bins
        assert len(meta["prior"]["empty_bins"]) > 200 and f"empty bins: {len(meta['prior']['empty_bins'])}" in text


def test_fit_bins_from_folder_rejects_bad_options(photo_folder, tmp_path):
    with pytest.raises(ValueError, match=r"space='rgb'"):
        quantize.fit_bins_from_folder(photo_folder, tmp_path / "b.npz", family="gmm", space="rgb", progress=False)
    with pytest.raises(ValueError, match="k=1"):
        quantize.fit_bins_from_folder(photo_folder, tmp_path / "b.npz", k=1, progress=False)
    assert not (tmp_path / "b.npz").exists()
