"""Colour suggestions: modes not neighbouring bins, gamut at the pixel's lightness, probabilities that
partition the mass, arbitrary (k-means) centres, and the swatch PNG."""
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from colorclass.color import lab_to_rgb
from colorclass.hints.srgb import in_gamut, lab_to_rgb01_unclipped
from colorclass.hints.suggest import find_modes, neighbourhoods, suggest_colours, swatch_png
from colorclass.support.errors import ColorclassError
from quantize.grid import zhang313_centers

GRID = zhang313_centers().astype(np.float64)


def _bin(a, b) -> int:
    return int(np.nonzero((GRID == (a, b)).all(1))[0][0])


def _peak(probs, a, b, centre_mass, neighbour_mass):
    probs[_bin(a, b)] += centre_mass
    for da in (-10, 0, 10):
        for db in (-10, 0, 10):
            if (da, db) != (0, 0):
                probs[_bin(a + da, b + db)] += neighbour_mass


def _bimodal() -> np.ndarray:
    probs = np.full(len(GRID), 1e-4)
    _peak(probs, 40, 40, 0.30, 0.04)      # the big mode: 0.62 of the mass, spread over 9 bins
    _peak(probs, -20, -30, 0.14, 0.0225)  # the small one: 0.32
    return probs / probs.sum()


def test_neighbourhood_of_the_313_grid_is_the_8_surrounding_cells():
    neighbours, radius = neighbourhoods(GRID)
    assert radius == pytest.approx(15.0)
    assert len(neighbours[_bin(40, 40)]) == 8
    assert sorted(map(tuple, GRID[neighbours[_bin(0, 0)]].astype(int).tolist())) == [
        (-10, -10), (-10, 0), (-10, 10), (0, -10), (0, 10), (10, -10), (10, 0), (10, 10)]


def test_a_bimodal_distribution_gives_its_two_modes_not_two_neighbours():
    found = suggest_colours(_bimodal(), GRID, 60.0, k=6)
    assert len(found) == 2
    np.testing.assert_allclose(found[0].ab, (40, 40), atol=0.5)
    np.testing.assert_allclose(found[1].ab, (-20, -30), atol=0.5)
    assert found[0].probability > found[1].probability > 0.3
    assert found[0].probability == pytest.approx(0.62, abs=0.03)
    assert all(s.in_gamut for s in found)
    two = suggest_colours(_bimodal(), GRID, 60.0, k=2)
    assert np.hypot(*np.subtract(two[0].ab, two[1].ab)) > 50
    assert suggest_colours(_bimodal(), GRID, 60.0, k=1) == found[:1]


def test_modes_and_basins():
    modes, basin = find_modes(_bimodal(), neighbourhoods(GRID)[0])
    assert _bin(40, 40) in modes and _bin(-20, -30) in modes
    for da in (-10, 0, 10):
        assert basin[_bin(40 + da, 50)] == _bin(40, 40) and basin[_bin(-20 + da, -40)] == _bin(-20, -30)
    assert (basin[modes] == modes).all()


def test_out_of_gamut_colours_are_dropped_at_high_lightness():
    probs = np.full(len(GRID), 1e-5)
    _peak(probs, 60, -60, 0.4, 0.05)     # vivid purple: impossible at L = 95
    _peak(probs, 0, 10, 0.1, 0.01)       # pale cream: fine
    probs /= probs.sum()
    assert not in_gamut(lab_to_rgb01_unclipped([[95, 60, -60]]))[0]
    assert in_gamut(lab_to_rgb01_unclipped([[95, 0, 10]]))[0]
    found = suggest_colours(probs, GRID, 95.0)
    assert len(found) == 1 and found[0].in_gamut
    np.testing.assert_allclose(found[0].ab, (0, 10), atol=0.5)
    flagged = suggest_colours(probs, GRID, 95.0, keep_out_of_gamut=True)
    assert [s.in_gamut for s in flagged] == [False, True]
    assert suggest_colours(probs, GRID, 50.0)[0].in_gamut   # the same purple exists at L = 50


def test_probabilities_partition_the_mass_on_random_distributions():
    rng = np.random.default_rng(0)
    for trial in range(20):
        logits = rng.normal(0, 3, len(GRID))
        probs = np.exp(logits) / np.exp(logits).sum()
        found = suggest_colours(probs, GRID, float(rng.uniform(20, 80)), k=6)
        assert 1 <= len(found) <= 6
        assert sum(s.probability for s in found) <= 1 + 1e-9
        assert [s.probability for s in found] == sorted((s.probability for s in found), reverse=True)
        assert all(s.probability >= 0.01 for s in found)
        for i, s in enumerate(found):
            for t in found[:i]:
                assert np.hypot(*np.subtract(s.ab, t.ab)) >= 15 - 1e-9
        everything = suggest_colours(probs, GRID, 50.0, k=400, min_probability=0, keep_out_of_gamut=True)
        assert sum(s.probability for s in everything) == pytest.approx(1.0)


def test_k_means_centres_work_too():
    rng = np.random.default_rng(1)
    a, b = np.meshgrid(np.arange(-90, 91, 15.0), np.arange(-90, 91, 15.0))
    centers = np.stack([a.ravel(), b.ravel()], 1) + rng.uniform(-4, 4, (a.size, 2))
    centers = centers[np.hypot(*centers.T) < 95]
    centers = centers[rng.permutation(len(centers))]            # no grid order to lean on
    blob = lambda c, s: np.exp(-((centers - c) ** 2).sum(1) / (2 * s * s))  # noqa: E731
    probs = 0.6 * blob((-50, 20), 14) + 0.4 * blob((40, -30), 14)
    probs /= probs.sum()
    found = suggest_colours(probs, centers, 55.0)
    assert len(found) == 2
    assert np.hypot(*np.subtract(found[0].ab, (-50, 20))) < 8
    assert np.hypot(*np.subtract(found[1].ab, (40, -30))) < 8


def test_swatch_colour_matches_colorclass_color():
    found = suggest_colours(_bimodal(), GRID, 60.0)
    for s in found:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rgb = lab_to_rgb(torch.tensor([[60.0, *s.ab]], dtype=torch.float64), dim=-1)[0].numpy()
        assert np.abs(np.array(s.rgb_u8) - rgb * 255).max() <= 0.51
        assert s.hex == "#{:02x}{:02x}{:02x}".format(*s.rgb_u8)


@pytest.mark.parametrize("kwargs, match", [
    ({"probs": -np.ones(313)}, "not the logits"),
    ({"probs": np.ones(312)}, r"\(Q,\) and centers_ab \(Q, 2\)"),
    ({"probs": np.full(313, np.nan)}, "NaN"),
    ({"k": 0}, "k=0"),
    ({"lightness": 120.0}, "lightness=120.0"),
    ({"min_separation": -1.0}, "min_separation=-1.0"),
])
def test_bad_inputs_are_user_errors(kwargs, match):
    args = {"probs": _bimodal(), "centers_ab": GRID, "lightness": 50.0} | kwargs
    with pytest.raises(ColorclassError, match=match):
        suggest_colours(**args)


def test_swatch_png_is_written_atomically_with_the_colours(tmp_path):
    found = suggest_colours(_bimodal(), GRID, 60.0)
    path = swatch_png(found, tmp_path / "swatches.png")
    image = np.asarray(Image.open(path).convert("RGB"))
    assert image.shape == (64 + 28, 2 * 64, 3)
    for i, s in enumerate(found):
        assert tuple(image[32, i * 64 + 32]) == s.rgb_u8
    assert (image[64:, :] < 128).any()                     # the labels are drawn
    assert sorted(p.name for p in tmp_path.iterdir()) == ["swatches.png"]
    empty = np.asarray(Image.open(swatch_png([], tmp_path / "none.png")))
    assert empty.shape[0] == 92
