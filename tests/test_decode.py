"""Decoders: exact colours on constructed distributions, temperature limits, circular hue,
region averages and full-resolution recombination."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import colorclass.decoding.decoders as decode
from colorclass.color import GamutWarning, hcl_to_rgb, rgb_to_hcl, rgb_to_lab

CENTERS = np.array([[10.0, 0.0], [0.0, 20.0], [-30.0, -8.0]], dtype=np.float32)


def _logits_from_probs(probs):
    """(Q,) probabilities -> logits (1, Q, 1, 1)."""
    return torch.log(torch.tensor(probs, dtype=torch.float32)).view(1, -1, 1, 1)


def _ab(t):
    return t[0, :, 0, 0].tolist()


def test_mode_mean_annealed_give_exact_colours():
    logits = _logits_from_probs([0.5, 0.25, 0.25])
    assert _ab(decode.mode(logits, CENTERS)) == [10.0, 0.0]
    # mean: 0.5*(10,0) + 0.25*(0,20) + 0.25*(-30,-8) = (-2.5, 3)
    assert _ab(decode.mean(logits, CENTERS)) == pytest.approx([-2.5, 3.0], abs=1e-5)
    # T = 0.5: p^2 normalised = (4, 1, 1)/6 -> (40 - 30, 20 - 8)/6 = (10/6, 2)
    assert _ab(decode.annealed_mean(logits, CENTERS, 0.5)) == pytest.approx([10 / 6, 2.0], abs=1e-5)


def test_temperature_limits():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 4, 5, generator=gen) * 2
    mode = decode.mode(logits, CENTERS)
    torch.testing.assert_close(decode.annealed_mean(logits, CENTERS, 1e-4), mode, atol=1e-3, rtol=0)
    torch.testing.assert_close(decode.annealed_mean(logits, CENTERS, 1.0), decode.mean(logits, CENTERS))
    # The annealed mean moves monotonically from the mean towards the mode as T falls.
    far = [(decode.annealed_mean(logits, CENTERS, t) - mode).abs().sum().item() for t in (1.0, 0.38, 0.1)]
    assert far[0] > far[1] > far[2]


def test_decode_dispatches_on_method_for_ab_bins():
    bins = SimpleNamespace(centers_ab=CENTERS, decode_space="ab", centers_hc=None)
    logits = _logits_from_probs([0.5, 0.25, 0.25])
    assert _ab(decode.decode(logits, bins, method="mode")) == [10.0, 0.0]
    assert _ab(decode.decode(logits, bins, method="mean")) == pytest.approx([-2.5, 3.0], abs=1e-5)
    assert _ab(decode.decode(logits, bins, method="annealed", temperature=0.5)) == pytest.approx([10 / 6, 2.0], abs=1e-5)
    from colorclass.inference.settings import resolve_settings   # names are checked where they enter

    with pytest.raises(ValueError, match="'median'"):
        resolve_settings({"method": "median"})
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(2, 2\)"):
        decode.mode(logits, CENTERS[:2])


def test_circular_hue_mean_across_zero_degrees():
    centers_hc = np.array([[math.radians(350), 0.4], [math.radians(10), 0.6], [math.radians(180), 0.9]])
    logits = _logits_from_probs([0.5, 0.5, 1e-12])
    hue, chroma = _ab(decode.circular_hue_mean(logits, centers_hc))
    assert min(hue, 2 * math.pi - hue) < 1e-4  # 0 degrees, not 180 (the linear mean)
    assert chroma == pytest.approx(0.5, abs=1e-6)
    # Unequal weights: 3/4 at 350 deg, 1/4 at 10 deg -> atan2 of the weighted unit vectors.
    logits = _logits_from_probs([0.75, 0.25, 1e-12])
    hue, _ = _ab(decode.circular_hue_mean(logits, centers_hc))
    s = 0.75 * math.sin(math.radians(350)) + 0.25 * math.sin(math.radians(10))
    c = 0.75 * math.cos(math.radians(350)) + 0.25 * math.cos(math.radians(10))
    assert hue == pytest.approx(math.atan2(s, c) % (2 * math.pi), abs=1e-5)
    assert _ab(decode.hue_chroma_mode(logits, centers_hc)) == pytest.approx([math.radians(350), 0.4])


def test_hc_to_ab_recovers_the_colour_with_the_pixel_lightness():
    gen = torch.Generator().manual_seed(1)
    rgb = torch.rand(2, 3, 4, 4, generator=gen)
    hcl = rgb_to_hcl(rgb)
    lab = rgb_to_lab(rgb)
    ab = decode.hc_to_ab(hcl[:, :2], lab[:, :1])
    torch.testing.assert_close(ab, lab[:, 1:], atol=2e-3, rtol=0)


def test_decode_hc_bins_uses_circular_mean_and_lightness():
    centers_hc = np.array([[math.radians(350), 0.5], [math.radians(10), 0.5], [math.radians(120), 0.5]])
    bins = SimpleNamespace(centers_ab=np.zeros((3, 2), np.float32), decode_space="hc", centers_hc=centers_hc)
    logits = _logits_from_probs([0.5, 0.5, 1e-12]).expand(1, 3, 2, 2)
    pure_red = hcl_to_rgb(torch.tensor([0.0, 0.5, 0.5]).view(1, 3, 1, 1))  # hue 0, chroma 0.5
    lightness = rgb_to_lab(pure_red)[:, :1].expand(1, 1, 4, 4)  # full resolution, resampled inside
    ab = decode.decode(logits, bins, method="mean", lightness=lightness)
    expected = rgb_to_lab(pure_red)[:, 1:].expand(1, 2, 2, 2)
    torch.testing.assert_close(ab, expected, atol=2e-3, rtol=0)
    with pytest.raises(ValueError, match="lightness"):
        decode.decode(logits, bins)


def test_region_average_matches_a_loop_reference():
    gen = torch.Generator().manual_seed(2)
    labels = torch.randint(0, 4, (2, 5, 6), generator=gen)
    labels[1][labels[1] == 3] = 7  # labels need not be contiguous
    image = torch.rand(2, 3, 5, 6, generator=gen)
    out = decode.region_average(labels, image)
    for b in range(2):
        for k in labels[b].unique():
            sel = labels[b] == k
            region = image[b][:, sel]
            torch.testing.assert_close(out[b][:, sel], region.mean(1, keepdim=True).expand_as(region))
    # The average is taken per image: equal labels in different images do not mix.
    two = decode.region_average(torch.zeros(2, 1, 2, dtype=torch.int64), torch.tensor([[[[0.0, 2.0]]], [[[4.0, 6.0]]]]))
    assert two.flatten().tolist() == [1.0, 1.0, 5.0, 5.0]


def test_recombine_keeps_the_input_lightness_at_full_resolution():
    gen = torch.Generator().manual_seed(3)
    rgb_true = torch.rand(2, 3, 16, 12, generator=gen)
    l_full = rgb_to_lab(rgb_true)[:, :1]
    ab = torch.randn(2, 2, 4, 3, generator=gen) * 15
    rgb, n_clipped = decode.recombine_full_resolution(l_full, ab, warn_fraction=1.0)
    assert rgb.shape == (2, 3, 16, 12) and rgb.min() >= 0 and rgb.max() <= 1
    kept = torch.isclose(rgb.clamp(1e-4, 1 - 1e-4), rgb).all(1)  # pixels not clipped
    assert kept.sum() >= 0.5 * kept.numel() and n_clipped <= (~kept).sum()
    l_out = rgb_to_lab(rgb)[:, 0]
    assert (l_out - l_full[:, 0])[kept].abs().max() < 1e-3
    # Within 8-bit rounding after saving as uint8.
    rgb_u8 = (rgb * 255).round() / 255
    assert (rgb_to_lab(rgb_u8)[:, 0] - l_full[:, 0])[kept].abs().max() < 0.5


def test_recombine_upsamples_constant_chroma_exactly_and_counts_clipping():
    l_full = torch.full((1, 1, 8, 8), 50.0)
    ab = torch.tensor([20.0, -10.0]).view(1, 2, 1, 1).expand(1, 2, 2, 2)
    rgb, n_clipped = decode.recombine_full_resolution(l_full, ab)
    lab = rgb_to_lab(rgb)
    assert n_clipped == 0
    torch.testing.assert_close(lab[:, 1:], ab[:, :, :1, :1].expand(1, 2, 8, 8), atol=1e-3, rtol=0)
    with pytest.warns(GamutWarning, match="64 of 64"):
        _, n_clipped = decode.recombine_full_resolution(l_full, torch.full((1, 2, 2, 2), 127.0))
    assert n_clipped == 64
    with pytest.raises(ValueError, match="l_input_to_lab_l"):
        decode.recombine_full_resolution(l_full - 51, ab)
