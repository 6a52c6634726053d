"""Colour conversions against scikit-image (an independent reference) and round trips."""
import math
import warnings

import numpy as np
import pytest
import torch
from skimage import color as skcolor

from colorclass.color import (GamutWarning, hcl_to_rgb, lab_to_rgb, lab_to_rgb_with_gamut,
                              rgb_to_hcl, rgb_to_lab, rgb_u8_to_lab_np)


def rgb_cube(steps: int = 33) -> np.ndarray:
    """Dense sample of the RGB cube as a (steps, steps*steps, 3) float64 image."""
    v = np.linspace(0, 1, steps)
    cube = np.stack(np.meshgrid(v, v, v, indexing="ij"), -1).reshape(steps, steps * steps, 3)
    return cube


def test_rgb_to_lab_matches_skimage_on_dense_cube():
    cube = rgb_cube()
    ours = rgb_to_lab(torch.from_numpy(cube), dim=-1).numpy()
    np.testing.assert_allclose(ours, skcolor.rgb2lab(cube), atol=1e-3)


def test_rgb_to_lab_float32_images_channels_first():
    cube = rgb_cube(17).astype(np.float32)
    img = torch.from_numpy(cube).permute(2, 0, 1)[None]  # (1, 3, H, W)
    ours = rgb_to_lab(img)[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(ours, skcolor.rgb2lab(cube.astype(np.float64)), atol=2e-3)


def test_lab_to_rgb_matches_skimage_in_and_out_of_gamut():
    rng = np.random.default_rng(0)
    lab = np.stack([rng.uniform(0, 100, 4000), rng.uniform(-110, 110, 4000),
                    rng.uniform(-110, 110, 4000)], -1).reshape(40, 100, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = skcolor.lab2rgb(lab)
        ours = lab_to_rgb(torch.from_numpy(lab), dim=-1).numpy()
    np.testing.assert_allclose(ours, ref, atol=1e-3)


def test_round_trip_rgb_lab_rgb():
    cube = torch.from_numpy(rgb_cube())
    back = lab_to_rgb(rgb_to_lab(cube, dim=-1), dim=-1)
    assert torch.allclose(back, cube, atol=1e-6)


def test_gamut_mask_and_warning():
    lab = torch.tensor([[50.0, 0.0, 0.0], [50.0, 110.0, -110.0]])
    rgb, mask = lab_to_rgb_with_gamut(lab, dim=-1)
    assert mask.tolist() == [False, True]
    assert float(rgb.min()) >= 0 and float(rgb.max()) <= 1
    with pytest.warns(GamutWarning, match="1 of 2"):
        lab_to_rgb(lab, dim=-1)


def test_rgb_to_lab_gradients_are_finite_at_black():
    rgb = torch.zeros(1, 3, 2, 2, dtype=torch.float64, requires_grad=True)
    rgb_to_lab(rgb).sum().backward()
    assert torch.isfinite(rgb.grad).all()


def test_hcl_definition_and_hue_matches_skimage_hsv():
    cube = rgb_cube(17)
    hcl = rgb_to_hcl(torch.from_numpy(cube), dim=-1).numpy()
    vmax, vmin = cube.max(-1), cube.min(-1)
    np.testing.assert_allclose(hcl[..., 1], vmax - vmin, atol=1e-12)          # C = V*S
    np.testing.assert_allclose(hcl[..., 2], vmax - (vmax - vmin) / 2, atol=1e-12)
    hsv = skcolor.rgb2hsv(cube)
    colourful = (vmax - vmin) > 1e-6
    diff = np.angle(np.exp(1j * (hcl[..., 0] - hsv[..., 0] * 2 * math.pi)))
    assert np.abs(diff[colourful]).max() < 1e-9
    assert (hcl[..., 0] >= 0).all() and (hcl[..., 0] < 2 * math.pi).all()


def test_hcl_round_trip():
    cube = torch.from_numpy(rgb_cube(17))
    assert torch.allclose(hcl_to_rgb(rgb_to_hcl(cube, dim=-1), dim=-1), cube, atol=1e-9)


def test_numpy_convenience_and_bad_input():
    px = np.array([[255, 0, 0], [0, 0, 0]], dtype=np.uint8)
    np.testing.assert_allclose(rgb_u8_to_lab_np(px), skcolor.rgb2lab(px / 255.0), atol=1e-3)
    with pytest.raises(ValueError, match="3 channels"):
        rgb_to_lab(torch.zeros(2, 4, 4))
    with pytest.raises(TypeError, match="uint8"):
        rgb_to_lab(torch.zeros(3, 4, 4, dtype=torch.uint8))
