"""Fitting bins from a photos folder (files, summary, option errors) and atomic bins writing.

(Fitting from a pixel sample: test_quantize_fit.py.)"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import quantize
from colorclass.binning import fit_bins_from_folder, save_bins


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
    bins = fit_bins_from_folder(photo_folder, out, family=family, pixels_per_image=200,
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
        fit_bins_from_folder(photo_folder, tmp_path / "b.npz", family="gmm", space="rgb", progress=False)
    with pytest.raises(ValueError, match="k=1"):
        fit_bins_from_folder(photo_folder, tmp_path / "b.npz", k=1, progress=False)
    assert not (tmp_path / "b.npz").exists()


def test_save_bins_writes_every_file_through_the_atomic_writer(tmp_path, monkeypatch):
    import colorclass.binning as binning

    written = []
    real = binning.atomic_write_bytes
    monkeypatch.setattr(binning, "atomic_write_bytes", lambda p, data: written.append(p.name) or real(p, data))
    bins = quantize.make_bins("kmeans", k=4).fit(np.random.default_rng(0).integers(0, 256, (500, 3), np.uint8))
    path = save_bins(bins, tmp_path / "sub" / "b.npz")
    assert sorted(written) == ["b.json", "b.npz", "b.png"]
    assert quantize.load_bins(path).n_bins == 4 and sorted(p.name for p in path.parent.iterdir()) == sorted(written)


def test_quantize_import_is_light_and_sets_no_matplotlib_backend():
    code = ("import sys, quantize; bins = quantize.make_bins('grid', preset='zhang313').build(); "
            "from quantize.palette import palette_png_bytes; png = palette_png_bytes(bins); "
            "print('sklearn' in sys.modules, 'matplotlib.pyplot' in sys.modules, png[:4] == b'\\x89PNG')")
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=root).stdout
    assert out.split() == ["False", "False", "True"]
