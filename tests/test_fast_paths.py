"""Fast paths (issue 12) against their reference: colour tables vs scikit-image, strip-wise
recombination vs the plain Lab -> sRGB conversion, reduced-size JPEG decoding vs full decoding."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from skimage.color import rgb2lab

from colorclass.color import (GamutWarning, lab_to_rgb_with_gamut, rgb_to_lab, rgb_u8_to_lab,
                              rgb_u8_to_lab_np, rgb_u8_to_lightness)
from colorclass.decoding.decoders import recombine_full_resolution
from colorclass.inference.network import lightness_of, to_uint8


def _every_colour(step: int = 3) -> np.ndarray:
    levels = np.r_[np.arange(0, 256, step), 255].astype(np.uint8)
    grid = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), -1).reshape(-1, 3)
    return grid


def test_u8_lab_tables_match_skimage_on_a_dense_colour_grid():
    px = _every_colour()
    ref = rgb2lab(px[None].astype(np.float64) / 255)[0]
    lab = rgb_u8_to_lab(torch.from_numpy(px), dim=-1).numpy()
    assert lab.dtype == np.float32
    assert np.abs(lab - ref).max() < 1e-3
    assert np.abs(rgb_u8_to_lab_np(px) - ref).max() < 1e-3
    light = rgb_u8_to_lightness(torch.from_numpy(px), dim=-1).numpy()
    assert light.shape == (len(px), 1)
    assert np.abs(light[:, 0] - ref[:, 0]).max() < 1e-3


def test_u8_lab_matches_float_path_on_images():
    rgb = torch.randint(0, 256, (2, 3, 17, 23), generator=torch.Generator().manual_seed(1), dtype=torch.uint8)
    ref = rgb_to_lab(rgb.float() / 255)
    assert torch.allclose(rgb_u8_to_lab(rgb), ref, atol=1e-3)
    assert torch.allclose(lightness_of(rgb), ref[:, :1], atol=1e-3)
    assert lightness_of(rgb).shape == (2, 1, 17, 23)


def test_gray_lightness_table_covers_every_level():
    levels = torch.arange(256, dtype=torch.uint8)
    gray = levels.view(1, 1, 16, 16).expand(1, 3, 16, 16)
    ref = rgb2lab(np.repeat(levels.numpy()[:, None], 3, 1)[None] / 255)[0, :, 0]
    got = rgb_u8_to_lightness(gray)
    assert got.shape == (1, 1, 16, 16)
    assert np.abs(got.flatten().numpy() - ref).max() < 1e-3
    assert float(got.min()) == 0.0 and abs(float(got.max()) - 100) < 1e-3


def test_u8_paths_reject_float_input():
    with pytest.raises(ValueError, match="uint8"):
        rgb_u8_to_lightness(torch.rand(1, 3, 4, 4))


def _reference_recombine(l_full, ab):
    ab_full = F.interpolate(ab, size=l_full.shape[-2:], mode="bilinear", align_corners=False)
    return lab_to_rgb_with_gamut(torch.cat([l_full, ab_full], dim=1))


@pytest.mark.parametrize("height", [7, 256, 600])   # one strip, exactly one, several with a remainder
def test_recombine_matches_reference_within_one_level(height):
    g = torch.Generator().manual_seed(height)
    l_full = torch.rand(2, 1, height, 90, generator=g) * 100
    ab = (torch.rand(2, 2, max(1, height // 8), 12, generator=g) - 0.5) * 200   # many out of gamut
    ref, mask = _reference_recombine(l_full, ab)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GamutWarning)
        rgb, n_clipped = recombine_full_resolution(l_full, ab)
        rgb_u8, n_u8 = recombine_full_resolution(l_full, ab, as_uint8=True)
    assert rgb.shape == ref.shape and rgb_u8.shape == (2, height, 90, 3) and rgb_u8.dtype == torch.uint8
    assert (rgb - ref).abs().max() < 1e-4
    ref_u8 = torch.from_numpy(to_uint8(ref)).int()
    assert (rgb_u8.int() - ref_u8).abs().max() <= 1
    assert abs(n_clipped - int(mask.sum())) <= 0.001 * mask.numel() and n_u8 == n_clipped


def test_to_uint8_rounds_like_the_plain_formula():
    rgb = torch.rand(2, 3, 300, 5, generator=torch.Generator().manual_seed(0)) * 1.2 - 0.1
    plain = (rgb.permute(0, 2, 3, 1).clamp(0, 1) * 255).round().byte().numpy()
    out = to_uint8(rgb)
    assert out.flags.c_contiguous and np.array_equal(out, plain)


def test_draft_decoding_keeps_geometry(tmp_path):
    from colorclass.photos import load_rgb

    y, x = np.mgrid[0:1200, 0:1600]
    photo = np.stack([x * 255 // 1599, y * 255 // 1199, (x + y) % 256], -1).astype(np.uint8)
    path = tmp_path / "big.jpg"
    Image.fromarray(photo).save(path, quality=95)
    full = load_rgb(path)
    small = load_rgb(path, draft_size=256)
    assert full.shape == (1200, 1600, 3)
    assert small.shape == (300, 400, 3)          # 1/4 scale: the smallest with shorter side >= 256
    reduced = np.asarray(Image.fromarray(full).resize((400, 300), Image.BOX)).astype(int)
    assert np.abs(small.astype(int) - reduced)[2:-2, 2:-2].mean() < 3
