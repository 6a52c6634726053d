"""Cheap heads for many bins (cnn/unet ``head_kernel`` and ``output_stride``): shapes, cost,
config keys, and the default layout left exactly as it was (old run folders still load)."""
from __future__ import annotations

import pytest
import torch

from colorclass.runs.experiment import ConfigError, load_config
from colorclass.models import build_model
from colorclass.runs.loading import model_from_config


def _x(b=2, h=16, w=12):
    return torch.rand(b, 1, h, w, generator=torch.Generator().manual_seed(0)) * 2 - 1


def _expected_unet_shapes(w: int, q: int, k: int = 3, hk: int = 3) -> dict[str, tuple]:
    """The U-Net's parameters written out by hand from the layout in cnn.py (w, k, head w)."""
    shapes = {}
    for name, c_in, c_out in (("down1", 1, w), ("down2", w, 2 * w), ("middle", 2 * w, 2 * w),
                              ("up1", 4 * w, w), ("up2", 2 * w, w)):
        shapes[f"{name}.0.weight"] = (c_out, c_in, k, k)
        shapes[f"{name}.0.bias"] = (c_out,)
        for p in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{name}.1.{p}"] = (c_out,)
        shapes[f"{name}.1.num_batches_tracked"] = ()
    shapes["final.weight"] = (q, w + 1, hk, hk)
    shapes["final.bias"] = (q,)
    return shapes


def test_default_unet_state_dict_unchanged():
    model = build_model("unet", out_channels=24, width=8)
    got = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert got == _expected_unet_shapes(8, 24)
    assert model.output_stride == 1


@pytest.mark.parametrize("name", ["cnn", "unet"])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("hk", [0, 1, 3])
def test_head_options_shapes(name, stride, hk):
    model = build_model(name, out_channels=7, width=4, head_kernel=hk, output_stride=stride).eval()
    assert model.output_stride == stride
    y = model(_x())
    assert y.shape == (2, 7, 16 // stride, 12 // stride)
    assert model.final.kernel_size == ((hk or 3),) * 2


def test_one_by_one_head_is_cheaper_and_same_names():
    full = build_model("unet", out_channels=313, width=8)
    cheap = build_model("unet", out_channels=313, width=8, head_kernel=1, output_stride=2)
    assert set(full.state_dict()) == set(cheap.state_dict())
    assert tuple(cheap.final.weight.shape) == (313, 9, 1, 1)
    assert sum(p.numel() for p in cheap.parameters()) < sum(p.numel() for p in full.parameters())


def test_invalid_head_options_refused():
    with pytest.raises(ValueError, match="output_stride"):
        build_model("unet", out_channels=3, output_stride=4)
    with pytest.raises(ValueError, match="head_kernel"):
        build_model("unet", out_channels=3, head_kernel=2)
    with pytest.raises(ValueError, match="no option"):
        build_model("fcn32s", out_channels=3, head_kernel=1)
    with pytest.raises(ConfigError, match="output_stride"):
        load_config(None, ["model.output_stride=3"])
    with pytest.raises(ConfigError, match="head_kernel"):
        load_config(None, ["model.head_kernel=-1"])


def test_config_keys_reach_the_model_and_old_configs_keep_defaults(tmp_path):
    old = tmp_path / "config.toml"
    old.write_text('name = "old"\n[model]\nname = "unet"\nwidth = 8\n', encoding="utf-8")
    cfg = load_config(old)
    assert (cfg.model.head_kernel, cfg.model.output_stride) == (0, 1)
    default = model_from_config(cfg, 24)
    assert {k: tuple(v.shape) for k, v in default.state_dict().items()} == _expected_unet_shapes(8, 24)
    cfg2 = load_config(old, ["model.head_kernel=1", "model.output_stride=2"])
    cheap = model_from_config(cfg2, 24)
    assert cheap.output_stride == 2 and cheap.final.kernel_size == (1, 1)


def test_stride_two_prediction_path_returns_full_resolution_colour():
    import quantize
    from colorclass.inference.predictor import Predictor

    import numpy as np

    bins = quantize.make_bins("grid", preset="zhang313")
    bins.fit(np.random.default_rng(0).integers(0, 256, (500, 3), dtype=np.uint8))
    model = build_model("unet", out_channels=bins.n_bins, width=4, head_kernel=1, output_stride=2).eval()
    rgb = torch.randint(0, 256, (1, 3, 20, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    out, _, pred = Predictor.for_model(model, bins, method="annealed", temperature=0.38).colorize_tensor(rgb)
    assert out.shape == (1, 3, 20, 28)
    assert pred.output.shape == (1, bins.n_bins, 10, 14)
