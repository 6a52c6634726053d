"""Levin et al. 2004 colourisation by optimisation: golden weights, the reduced ordered solve against
the plain full system, edges stop colour, flat photos take one colour, hints are kept."""
import math

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve

from colorclass.hints.levin import (
    affinity_matrix,
    dissection_order,
    levin_colorize,
    levin_colorize_points,
    solve_levin,
    solve_size,
)
from colorclass.hints.points import Hint, hint_maps


def test_affinity_weights_golden():
    y = np.full((3, 3), 0.5)
    y[2, 2] = 0.9
    w = affinity_matrix(y).toarray()
    var = 0.4 ** 2 * (1 / 9) * (8 / 9)               # window of eight 0.5 and one 0.9
    far = math.exp(-0.16 / (0.6 * var))
    np.testing.assert_allclose(w[4, 8], far / (7 + far), rtol=1e-9)
    np.testing.assert_allclose(w[4, 0], 1 / (7 + far), rtol=1e-9)
    assert w[4, 4] == 0
    np.testing.assert_allclose(w.sum(1), 1.0)
    assert (w[0] > 0).sum() == 3                     # a corner has three neighbours


def test_flat_window_weights_are_equal():
    w = affinity_matrix(np.full((4, 5), 0.3)).toarray()
    centre = 1 * 5 + 1
    np.testing.assert_allclose(w[centre][w[centre] > 0], 1 / 8)


def _full_system(lightness, ab, mask):
    """The system as the paper writes it: (I - W) U = 0 on free rows, U = hint on hinted rows."""
    a = (sp.identity(lightness.size) - affinity_matrix(np.clip(lightness, 0, 100) / 100)).tolil()
    hinted = mask.ravel() != 0
    for i in np.nonzero(hinted)[0]:
        a.rows[i], a.data[i] = [i], [1.0]
    rhs = np.where(hinted, ab.reshape(2, -1), 0.0).T
    return spsolve(a.tocsc(), rhs).T.reshape(ab.shape)


def test_reduced_ordered_solve_equals_the_full_system():
    rng = np.random.default_rng(1)
    lightness = rng.uniform(0, 100, (23, 31))
    mask = rng.random((23, 31)) < 0.04
    ab = rng.uniform(-60, 60, (2, 23, 31))
    np.testing.assert_allclose(solve_levin(lightness, ab, mask), _full_system(lightness, ab, mask), atol=1e-4)


def test_a_strong_edge_keeps_each_region_in_its_own_hint_colour():
    lightness = np.full((64, 80), 30.0)
    lightness[:, 40:] = 75.0
    left, right = np.array([50.0, 30.0]), np.array([-40.0, -35.0])
    ab = levin_colorize_points(lightness, [Hint(12, 32, tuple(left), 3), Hint(60, 20, tuple(right), 3)])
    assert ab.shape == (2, 64, 80) and ab.dtype == np.float32
    assert np.abs(ab[:, :, :34] - left[:, None, None]).max() < 3       # far from the edge
    assert np.abs(ab[:, :, 46:] - right[:, None, None]).max() < 3
    jump = ab[:, :, 39] - ab[:, :, 40]                                   # no bleeding: the change is at the edge
    assert (np.abs(jump - (left - right)[:, None]) < 0.1 * np.abs(left - right)[:, None]).all()
    assert np.abs(ab[:, :, 36:40] - ab[:, :, 30:31]).max() < 1          # flat up to the edge


def test_one_hint_spreads_over_a_flat_photo():
    lightness = np.full((40, 50), 62.0)
    mask = np.zeros((40, 50))
    ab = np.zeros((2, 40, 50))
    mask[7, 41], ab[:, 7, 41] = 1, (-23.0, 48.0)
    out = solve_levin(lightness, ab, mask)
    np.testing.assert_allclose(out, np.broadcast_to(np.array([-23.0, 48.0])[:, None, None], out.shape), atol=1e-3)


def test_hinted_pixels_keep_their_hint():
    rng = np.random.default_rng(3)
    lightness = np.clip(50 + 25 * rng.standard_normal((48, 48)), 0, 100)
    mask = rng.random((48, 48)) < 0.02
    ab = rng.uniform(-80, 80, (2, 48, 48))
    out = levin_colorize(lightness, ab, mask)
    assert np.abs(out[:, mask] - ab[:, mask]).max() < 0.5
    assert out.min() >= ab[:, mask].min() - 1e-3 and out.max() <= ab[:, mask].max() + 1e-3  # a weighted average


def test_no_hint_gives_gray():
    lightness = np.random.default_rng(0).uniform(0, 100, (20, 30))
    assert not levin_colorize(lightness, np.ones((2, 20, 30)), np.zeros((20, 30))).any()
    assert not levin_colorize_points(lightness, []).any()
    assert levin_colorize_points(lightness, []).shape == (2, 20, 30)


def test_planes_and_points_agree():
    rng = np.random.default_rng(4)
    lightness = rng.uniform(20, 80, (30, 36))
    hints = [Hint(3, 4, (20.0, -10.0), 3), Hint(30, 25, (-35.0, 5.0), 1)]
    ab, mask = hint_maps(hints, 30, 36)
    np.testing.assert_allclose(levin_colorize(lightness, ab, mask[0]), levin_colorize_points(lightness, hints),
                               atol=1e-5)


def test_large_photos_are_solved_at_a_bounded_size():
    assert solve_size(1200, 600, 512) == (512, 256) and solve_size(300, 200, 512) == (300, 200)
    lightness = np.full((300, 150), 30.0)
    lightness[150:] = 80.0
    top, bottom = (40.0, 20.0), (-30.0, -30.0)
    hints = [Hint(75, 40, top, 5), Hint(20, 260, bottom, 1)]
    out = levin_colorize_points(lightness, hints, max_side=64)
    assert out.shape == (2, 300, 150) and out.dtype == np.float32
    assert tuple(out[:, 40, 75]) == top and tuple(out[:, 260, 20]) == bottom   # hints re-imposed exactly
    assert np.abs(out[:, :130] - np.array(top)[:, None, None]).max() < 4
    assert np.abs(out[:, 170:] - np.array(bottom)[:, None, None]).max() < 4
    ab, mask = hint_maps(hints, 300, 150)
    planes = levin_colorize(lightness, ab, mask[0], max_side=64)
    assert np.abs(planes[:, :130] - np.array(top)[:, None, None]).max() < 4
    assert (planes[:, mask[0] != 0] == ab[:, mask[0] != 0]).all()


def test_tiny_photos():
    assert levin_colorize_points(np.array([[40.0]]), [Hint(0, 0, (5.0, 6.0))]).tolist() == [[[5.0]], [[6.0]]]
    strip = levin_colorize_points(np.linspace(0, 100, 9)[None], [Hint(0, 0, (10.0, 0.0)), Hint(8, 0, (-10.0, 0.0))])
    assert strip.shape == (2, 1, 9) and strip[0, 0, 0] == 10 and strip[0, 0, -1] == -10
    assert (np.diff(strip[0, 0]) <= 1e-6).all()


@pytest.mark.parametrize("shape", [(1, 1), (2, 7), (17, 5), (64, 64)])
def test_dissection_order_is_a_permutation(shape):
    order = dissection_order(*shape)
    assert sorted(order.tolist()) == list(range(shape[0] * shape[1]))


def test_bad_lightness_is_refused():
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        levin_colorize_points(np.zeros((2, 3, 4)), [])
    with pytest.raises(ValueError, match="finite"):
        levin_colorize_points(np.full((3, 3), np.nan), [])
