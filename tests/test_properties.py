"""Property tests (hypothesis): encode -> decode round trips, decoders stay in gamut, and
NaN / infinite inputs raise instead of giving silent garbage (issue 11)."""
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import quantize
from colorclass.color import rgb_u8_to_lab_np
from colorclass.decoding.decoders import decode, recombine_full_resolution
from colorclass.decoding.rules import check_temperature

FAST = settings(max_examples=40, deadline=None)
colour = st.tuples(*[st.integers(0, 255)] * 3)


@pytest.fixture(scope="module")
def kmeans8():
    pixels = np.random.default_rng(0).integers(0, 256, (1500, 3)).astype(np.uint8)
    bins = quantize.fit_bins(quantize.make_bins("kmeans", k=8, seed=0), pixels, progress=False,
                             with_prior=False)
    return bins, quantize.Encoder(bins, hard_bits=5, soft_bits=4, n=3)


@FAST
@given(c=colour)
def test_exact_encoding_picks_the_nearest_centre(kmeans8, c):
    bins, _ = kmeans8
    label = int(bins.encode_hard_exact(np.array([c]) / 255.0)[0])
    dist = np.linalg.norm(bins.centers - np.array(c) / 255.0, axis=1)      # independent nearest centre
    assert dist[label] <= dist.min() + 1e-6


@FAST
@given(label=st.integers(0, 7))
def test_centre_encodes_to_its_bin_and_mode_decodes_to_its_centre(kmeans8, label):
    bins, encoder = kmeans8
    centre = np.clip(np.rint(bins.centers[label] * 255), 0, 255).astype(np.uint8)
    assert int(bins.encode_hard_exact(centre[None] / 255.0)[0]) == label
    logits = torch.full((1, bins.n_bins, 1, 1), -5.0)
    logits[0, label] = 5.0
    ab = decode(logits, bins, method="mode")[0, :, 0, 0].numpy()
    np.testing.assert_allclose(ab, np.asarray(bins.centers_ab)[label], atol=1e-5)
    lab = rgb_u8_to_lab_np(centre[None, None])[0, 0]
    assert np.abs(lab[1:] - ab).max() < 1.5                                   # the centre's own colour


@FAST
@given(c=st.lists(colour, min_size=1, max_size=6))
def test_lut_encoders_give_valid_labels_and_distributions(kmeans8, c):
    _, encoder = kmeans8
    rgb = torch.tensor(np.array(c, np.uint8).T[None, :, :, None])             # (1, 3, n, 1)
    labels = encoder.hard(rgb)
    assert labels.shape == (1, len(c), 1) and int(labels.min()) >= 0 and int(labels.max()) < 8
    idx, weight = encoder.soft(rgb)
    assert int(idx.min()) >= 0 and int(idx.max()) < 8 and float(weight.min()) >= 0
    torch.testing.assert_close(weight.sum(1), torch.ones(1, len(c), 1))


centres_ab = arrays(np.float32, (6, 2), elements=st.floats(-110, 110, width=32))
logits_6 = arrays(np.float32, (1, 6, 2, 3), elements=st.floats(-30, 30, width=32))


@FAST
@given(centres=centres_ab, logits=logits_6, method=st.sampled_from(["mode", "mean", "annealed"]),
       t=st.floats(0.01, 5), light=st.floats(0, 100))
def test_decoders_stay_in_the_centres_hull_and_in_gamut_after_clipping(centres, logits, method, t, light):
    bins = SimpleNamespace(centers_ab=torch.from_numpy(centres), decode_space="ab")
    ab = decode(torch.from_numpy(logits), bins, method=method, temperature=t)
    assert torch.isfinite(ab).all()
    lo, hi = torch.from_numpy(centres).min(0).values, torch.from_numpy(centres).max(0).values
    assert (ab >= lo[None, :, None, None] - 1e-3).all() and (ab <= hi[None, :, None, None] + 1e-3).all()
    rgb, n_clipped = recombine_full_resolution(torch.full((1, 1, 4, 6), light), ab, warn_fraction=1.0)
    assert rgb.shape == (1, 3, 4, 6) and torch.isfinite(rgb).all()
    assert float(rgb.min()) >= 0 and float(rgb.max()) <= 1 and 0 <= n_clipped <= 24


@FAST
@given(t=st.one_of(st.sampled_from([math.nan, math.inf, -math.inf, 0.0]), st.floats(max_value=0)))
def test_non_finite_or_non_positive_temperatures_raise(t):
    with pytest.raises(ValueError, match="temperature"):
        check_temperature(t)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_decode_raises_on_non_finite_logits(bad):
    bins = SimpleNamespace(centers_ab=torch.tensor([[0.0, 0.0], [50.0, -20.0]]), decode_space="ab")
    logits = torch.zeros(1, 2, 2, 2)
    logits[0, 0, 0, 0] = bad
    with pytest.raises(ValueError):
        decode(logits, bins, method="annealed", temperature=0.38)
