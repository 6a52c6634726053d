"""quantize bins families, the zhang313 preset and the bins file format."""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

import quantize
from colorclass.color import hcl_to_rgb
from quantize.grid import ZHANG313_SHA256, gamut_grid_centers, zhang313_centers

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "ab_gamut_313.npy"
FIVE = np.array([[230, 20, 20], [20, 160, 40], [30, 40, 200], [240, 220, 30], [90, 90, 90]], np.uint8)


def five_colour_image(seed: int = 0, noise: int = 6) -> np.ndarray:
    """(N, 3) uint8: 5 known colours in a 60x60 image, each pixel jittered by up to +-noise levels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 5, 3600)
    px = FIVE[labels].astype(int) + rng.integers(-noise, noise + 1, (3600, 3))
    return np.clip(px, 0, 255).astype(np.uint8)


def hue_pixels(hues_deg, n=400, seed=0) -> np.ndarray:
    """uint8 pixels around the given hues: chroma 0.6-0.9, HCL lightness 0.5, hue jitter +-12 deg."""
    rng = np.random.default_rng(seed)
    centre = np.repeat(np.asarray(hues_deg, float), n)
    hue = np.radians(centre + rng.uniform(-12, 12, centre.shape)) % (2 * np.pi)
    hcl = np.stack([hue, rng.uniform(0.6, 0.9, hue.shape), np.full(hue.shape, 0.5)], 1)
    rgb = hcl_to_rgb(torch.tensor(hcl, dtype=torch.float32), dim=-1).numpy()
    return np.round(rgb * 255).astype(np.uint8)


def hc_rgb(hue_deg: float, chroma: float = 0.8) -> np.ndarray:
    hcl = torch.tensor([[math.radians(hue_deg), chroma, 0.5]], dtype=torch.float32)
    return hcl_to_rgb(hcl, dim=-1).numpy()


# ----------------------------------------------------------------------------- families
def test_kmeans_recovers_five_known_colours():
    bins = quantize.make_bins("kmeans", k=5, seed=0).fit(five_colour_image())
    found = np.round(bins.centers * 255)
    dist = np.abs(found[:, None] - FIVE[None].astype(float)).max(-1)
    assert sorted(dist.argmin(1).tolist()) == [0, 1, 2, 3, 4]   # one centre per colour
    assert dist.min(1).max() <= 2.0                             # each within 2 levels of the truth


@pytest.mark.parametrize("space,minibatch_above", [("rgb", 10**9), ("lab", 1000)])
def test_kmeans_is_deterministic_for_a_seed(space, minibatch_above):
    px = np.random.default_rng(1).integers(0, 256, (5000, 3), dtype=np.uint8)
    fits = [quantize.KMeansBins(k=7, space=space, seed=3, minibatch_above=minibatch_above).fit(px) for _ in range(2)]
    np.testing.assert_array_equal(fits[0].centers, fits[1].centers)
    other = quantize.KMeansBins(k=7, space=space, seed=4, minibatch_above=minibatch_above).fit(px)
    assert not np.array_equal(fits[0].centers, other.centers)


def test_gmm_is_deterministic_and_posteriors_sum_to_one():
    px = hue_pixels([0, 60, 130, 220, 300])
    a, b = (quantize.GMMBins(k=5, seed=0).fit(px) for _ in range(2))
    np.testing.assert_array_equal(a.means, b.means)
    np.testing.assert_array_equal(a.covariances, b.covariances)
    rgb = np.random.default_rng(2).random((1000, 3)).astype(np.float32)
    post = a.posteriors(rgb)
    assert post.shape == (1000, 5) and (post >= 0).all()
    np.testing.assert_allclose(post.sum(1), 1.0, atol=1e-9)
    idx, w = a.encode_soft_exact(rgb, n=3)
    np.testing.assert_allclose(w.sum(1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(idx[:, 0], a.encode_hard_exact(rgb))   # top posterior = hard label


def test_gmm_hue_wraps_around_red():
    bins = quantize.GMMBins(k=3, seed=0).fit(hue_pixels([0, 120, 240]))
    near_359, near_1 = bins.encode_hard_exact(hc_rgb(359.0)), bins.encode_hard_exact(hc_rgb(1.0))
    assert near_359[0] == near_1[0]
    red_hue = math.degrees(bins.centers_hc[near_1[0], 0])
    assert min(red_hue, 360 - red_hue) < 10   # the red component sits at hue ~0, not ~180
    np.testing.assert_allclose(bins.posteriors(hc_rgb(359.0)), bins.posteriors(hc_rgb(1.0)), atol=0.02)


def test_hcgrid_layout_and_wrap():
    bins = quantize.make_bins("hcgrid", k=24).fit(hue_pixels([0]))
    assert (bins.n_hue, bins.n_chroma, bins.n_bins) == (8, 3, 24)
    assert bins.encode_hard_exact(hc_rgb(359.0))[0] == bins.encode_hard_exact(hc_rgb(1.0))[0]
    assert bins.encode_hard_exact(bins_rgb := hc_rgb(0.0, 0.5))[0] == 8   # ring 1 (chroma 0.5), hue 0
    assert bins_rgb.shape == (1, 3)
    with pytest.raises(ValueError, match="n_chroma=5"):
        quantize.HueChromaGridBins(k=24, n_chroma=5)


# ----------------------------------------------------------------------------- ab grid
def test_zhang313_checksum_and_order():
    centers = zhang313_centers()
    assert centers.shape == (313, 2)
    assert hashlib.sha256(centers.astype("<i8").tobytes()).hexdigest() == ZHANG313_SHA256
    assert (np.lexsort((centers[:, 1], centers[:, 0])) == np.arange(313)).all()


@pytest.mark.skipif(not REFERENCE.is_file(), reason="../shared/reference is absent")
def test_zhang313_equals_reference_file():
    ref = np.load(REFERENCE, allow_pickle=False)
    bins = quantize.make_bins("grid", preset="zhang313").build()
    np.testing.assert_array_equal(bins.centers, ref.astype(np.float32))


def test_gamut_grid_is_reachable_and_inside_zhang313():
    centers = gamut_grid_centers(10.0)
    assert len(centers) == 261   # cells reached by 8-bit sRGB colours
    zhang = set(map(tuple, zhang313_centers().tolist()))
    assert set(map(tuple, centers.astype(int).tolist())) <= zhang
    # every bin is the nearest bin of some in-gamut colour
    grid = quantize.make_bins("grid", grid_step=10).build()
    v = np.linspace(0, 1, 33, dtype=np.float32)
    cube = np.stack(np.meshgrid(v, v, v, indexing="ij"), -1).reshape(-1, 3)
    assert len(np.unique(grid.encode_hard_exact(cube))) > 0.8 * grid.n_bins
    assert len(gamut_grid_centers(5.0)) > 3.5 * len(centers)


def test_grid_soft_weights_are_gaussian():
    grid = quantize.make_bins("grid", preset="zhang313").build()
    rgb = np.random.default_rng(0).random((50, 3)).astype(np.float32)
    idx, w = grid.encode_soft_exact(rgb, n=5, sigma=5.0)
    from quantize.features import rgb01_to_lab
    ab = rgb01_to_lab(rgb)[:, 1:]
    d2 = ((ab[:, None] - grid.centers[idx]) ** 2).sum(-1)
    expected = np.exp(-d2 / 50.0)
    np.testing.assert_allclose(w, expected / expected.sum(1, keepdims=True), atol=1e-5)
    assert (np.diff(d2, axis=1) >= -1e-3).all()   # nearest first


def test_invalid_combinations_name_the_value_and_fix():
    with pytest.raises(ValueError, match=r"space='rgb'.*space='ab'"):
        quantize.make_bins("grid", space="rgb")
    with pytest.raises(ValueError, match="k=1"):
        quantize.make_bins("kmeans", k=1)
    with pytest.raises(ValueError, match="'zhang313' is for family 'grid'"):
        quantize.make_bins("kmeans", preset="zhang313")
    with pytest.raises(ValueError, match="unknown bins family 'som'"):
        quantize.make_bins("som")
    with pytest.raises(ValueError, match="only 1 distinct"):
        quantize.make_bins("kmeans", k=3).fit(np.zeros((100, 3), np.uint8))


# ----------------------------------------------------------------------------- files
def fitted_all() -> list[quantize.Bins]:
    px = hue_pixels([0, 90, 200, 280], n=200)
    bins = [quantize.make_bins("kmeans", k=6).fit(px), quantize.GMMBins(k=4).fit(px),
            quantize.make_bins("hcgrid", k=16).fit(px), quantize.make_bins("grid", preset="zhang313").fit(px)]
    for b in bins:
        b.prior = quantize.compute_prior(b, px)
    return bins


def test_save_load_round_trip_every_family(tmp_path):
    rgb = np.random.default_rng(5).random((300, 3)).astype(np.float32)
    for bins in fitted_all():
        path = bins.save(tmp_path / f"{bins.family}.npz")
        assert path.with_suffix(".json").is_file() and path.with_suffix(".png").stat().st_size > 5000
        loaded = quantize.load_bins(path)
        assert type(loaded) is type(bins) and loaded.meta["family"] == bins.family
        for name in ("centers", "centers_ab", "prior"):
            np.testing.assert_allclose(getattr(loaded, name), getattr(bins, name), rtol=1e-6)
        np.testing.assert_array_equal(loaded.encode_hard_exact(rgb), bins.encode_hard_exact(rgb))
        np.testing.assert_allclose(loaded.encode_soft_exact(rgb)[1], bins.encode_soft_exact(rgb)[1], atol=1e-6)
        assert json.loads(path.with_suffix(".json").read_text())["n_bins"] == bins.n_bins


def _rewrite(src: Path, dst: Path, *, meta_edit=None, arrays_edit=None) -> Path:
    with np.load(src, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays.pop("meta")))
    if meta_edit:
        meta_edit(meta)
    if arrays_edit:
        arrays_edit(arrays)
    np.savez(dst, meta=np.array(json.dumps(meta)), **arrays)
    return dst


@pytest.fixture(scope="module")
def gmm_file(tmp_path_factory) -> Path:
    return quantize.GMMBins(k=4).fit(hue_pixels([0, 90, 200, 280], n=200)).save(
        tmp_path_factory.mktemp("bins") / "gmm.npz", palette=False)


@pytest.mark.parametrize("case,message", [
    ("garbage", "not a readable bins file"),
    ("truncated", "not a readable bins file"),
    ("no_meta", "no JSON 'meta'"),
    ("version", "version 99 is not supported"),
    ("family", "unknown bins family 'som'"),
    ("space", "cannot use space 'rgb'"),
    ("shape", r"array 'centers' has shape \(3, 2\)"),
    ("missing", "'covariances' is missing"),
    ("nan", "expected finite"),
    ("covariance", "positive definite"),
    ("prior", "prior must be non-negative and sum to 1"),
    ("pickle", "not a readable bins file"),
])
def test_corrupt_or_mismatched_files_are_refused(gmm_file, tmp_path, case, message):
    bad = tmp_path / "bad.npz"
    if case == "garbage":
        bad.write_bytes(b"this is not a zip file at all")
    elif case == "truncated":
        bad.write_bytes(gmm_file.read_bytes()[:300])
    elif case == "no_meta":
        np.savez(bad, centers=np.zeros((4, 2)))
    elif case == "pickle":
        np.savez(bad, meta=np.array([{"a": 1}], dtype=object))
    else:
        edits = {
            "version": dict(meta_edit=lambda m: m.update(version=99)),
            "family": dict(meta_edit=lambda m: m.update(family="som")),
            "space": dict(meta_edit=lambda m: m.update(space="rgb")),
            "shape": dict(arrays_edit=lambda a: a.update(centers=a["centers"][:3])),
            "missing": dict(arrays_edit=lambda a: a.pop("covariances")),
            "nan": dict(arrays_edit=lambda a: a["means"].__setitem__((0, 0), np.nan)),
            "covariance": dict(arrays_edit=lambda a: a["covariances"].__setitem__(0, -np.eye(2))),
            "prior": dict(arrays_edit=lambda a: a.update(prior=np.full(4, 0.5))),
        }[case]
        _rewrite(gmm_file, bad, **edits)
    with pytest.raises(quantize.BinsFileError, match=message):
        quantize.load_bins(bad)


def test_missing_file_and_wrong_family_class(gmm_file, tmp_path):
    with pytest.raises(FileNotFoundError, match="fit-bins"):
        quantize.load_bins(tmp_path / "nope.npz")
    with pytest.raises(quantize.BinsFileError, match="holds 'gmm' bins, not 'kmeans'"):
        quantize.KMeansBins.load(gmm_file)
    assert isinstance(quantize.Bins.load(gmm_file), quantize.GMMBins)
