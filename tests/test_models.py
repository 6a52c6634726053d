"""Tests of colorclass.models: shapes, size checks, staged FCN init, gradients, determinism,
summary numbers (hand-computed), and a tiny learning problem."""
from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from colorclass.models import (MODELS, InputSizeError, build_model, crop_to,
                               init_from_previous_stage, measure_step_peak_memory,
                               nearest_valid_size, pad_to_multiple, profile_model, summarize)
from colorclass.models.common import BilinearUp2

# Small configurations so the whole file runs in seconds on a shared CPU.
SMALL = {
    "cnn": dict(width=4),
    "unet": dict(width=4),
    "fcn32s": dict(width=2, fc_channels=16, fc_kernel=3),
    "fcn16s": dict(width=2, fc_channels=16, fc_kernel=3),
    "fcn8s": dict(width=2, fc_channels=16, fc_kernel=3),
    "deep_unet": dict(width=4, depth=4),
    "vgg_dilated": dict(width=2),
}
# Two valid (H, W) per model, one of them non-square.
SIZES = {"cnn": [(8, 8), (12, 20)], "unet": [(8, 8), (12, 20)],
         "fcn32s": [(32, 32), (64, 96)], "fcn16s": [(32, 32), (64, 96)],
         "fcn8s": [(32, 32), (64, 96)], "deep_unet": [(16, 16), (32, 48)],
         "vgg_dilated": [(16, 16), (24, 40)]}
STRIDE = {name: 4 if name == "vgg_dilated" else 1 for name in MODELS}


def small(name: str, out_channels: int = 24, seed: int = 0) -> nn.Module:
    return build_model(name, out_channels=out_channels, seed=seed, **SMALL[name])


def l_input(b: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 1, h, w, generator=g) * 2 - 1


def test_registry_lists_every_network():
    assert set(MODELS) == set(SMALL)


@pytest.mark.parametrize("name", sorted(SMALL))
@pytest.mark.parametrize("q", [2, 24, 313])
def test_output_shapes(name, q):
    model = small(name, q).eval()
    assert model.output_stride == STRIDE[name]
    with torch.no_grad():
        for h, w in SIZES[name]:
            assert h % model.input_multiple == 0 and w % model.input_multiple == 0
            out = model(l_input(2, h, w))
            s = model.output_stride
            assert out.shape == (2, q, h // s, w // s)
            assert out.dtype == torch.float32 and torch.isfinite(out).all()


@pytest.mark.parametrize("name", sorted(SMALL))
def test_invalid_size_refused_with_nearest_valid_size(name):
    model = small(name).eval()
    m = model.input_multiple
    h, w = SIZES[name][1][0] + 1, SIZES[name][1][1] - 1
    with pytest.raises(InputSizeError) as info:
        model(l_input(1, h, w))
    msg = str(info.value)
    assert f"{h}x{w}" in msg and f"multiples of {m}" in msg
    good = f"{nearest_valid_size(h, m, model.min_input_size)}x" \
           f"{nearest_valid_size(w, m, model.min_input_size)}"
    assert f"Nearest valid size: {good}" in msg
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        model(torch.zeros(1, 3, *SIZES[name][0]))


def test_nearest_valid_size_values():
    assert nearest_valid_size(50, 32) == 64
    assert nearest_valid_size(47, 32) == 32
    assert nearest_valid_size(48, 32) == 64  # ties round up
    assert nearest_valid_size(3, 8, 16) == 16
    assert nearest_valid_size(100, 4) == 100


def test_pad_to_multiple_and_crop_round_trip_through_a_model():
    x = l_input(2, 37, 50)
    padded, (ph, pw) = pad_to_multiple(x, 8)
    assert padded.shape == (2, 1, 40, 56) and (ph, pw) == (3, 6)
    assert torch.equal(crop_to(padded, 37, 50), x)
    # reflection: the first padded row mirrors row H-2
    assert torch.equal(padded[:, :, 37, :50], x[:, :, 35])
    same, pads = pad_to_multiple(x[..., :32, :40], 8)
    assert pads == (0, 0) and same.shape == (2, 1, 32, 40)
    model = small("vgg_dilated").eval()
    with torch.no_grad():
        out = model(padded)
    assert crop_to(out, -(-37 // 4), -(-50 // 4)).shape == (2, 24, 10, 13)
    with pytest.raises(ValueError, match="cannot crop"):
        crop_to(x, 38, 50)


def test_bilinear_up2_equals_interpolate():
    x = torch.randn(2, 3, 5, 7)
    expected = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    torch.testing.assert_close(BilinearUp2(3, learnable=False)(x), expected, atol=1e-6, rtol=0)


def _perturbed(model: nn.Module, seed: int) -> nn.Module:
    """Make every weight non-trivial (like a trained model) and give BN real statistics."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=g))
    model.train()
    with torch.no_grad():
        model(l_input(4, 64, 64, seed))
    return model.eval()


def test_fcn16s_from_fcn32s_and_fcn8s_from_fcn16s_reproduce_outputs():
    x = l_input(2, 64, 96, seed=5)
    fcn32 = _perturbed(small("fcn32s", seed=1), 1)
    fcn16 = _perturbed(small("fcn16s", seed=2), 2)  # init must overwrite all
    init_from_previous_stage(fcn16, fcn32.state_dict())
    with torch.no_grad():
        assert torch.equal(fcn16(x), fcn32(x))
    fcn16 = _perturbed(fcn16, 3)  # "train" the 16s stage, skip layers included
    fcn8 = _perturbed(small("fcn8s", seed=4), 4)
    init_from_previous_stage(fcn8, {"module." + k: v for k, v in fcn16.state_dict().items()})
    with torch.no_grad():
        out16 = fcn16(x)
        assert not torch.equal(out16, fcn32(x))  # the pool4 skip is live after training
        assert torch.equal(fcn8(x), out16)
        fcn8.score_pool3.weight.add_(0.1)
        assert not torch.equal(fcn8(x), out16)
    fcn8_from_32 = _perturbed(small("fcn8s", seed=6), 6)
    init_from_previous_stage(fcn8_from_32, fcn32.state_dict())
    with torch.no_grad():
        assert torch.equal(fcn8_from_32(x), fcn32(x))


def test_staged_init_refuses_wrong_pairs():
    fcn32, fcn16 = small("fcn32s"), small("fcn16s")
    with pytest.raises(ValueError, match="fcn16s or fcn8s"):
        init_from_previous_stage(fcn32, fcn16.state_dict())
    with pytest.raises(ValueError, match="coarser stage"):
        init_from_previous_stage(fcn16, small("fcn8s").state_dict())
    wider = build_model("fcn32s", out_channels=24, width=3, fc_channels=16, fc_kernel=3)
    with pytest.raises(ValueError, match="shape mismatch for 'block1.0.weight'"):
        init_from_previous_stage(fcn16, wider.state_dict())
    with pytest.raises(ValueError, match="not from an FCN"):
        init_from_previous_stage(fcn16, small("unet").state_dict())


@pytest.mark.parametrize("name", sorted(SMALL))
def test_gradients_reach_every_parameter(name):
    model = small(name, 24).train()
    h, w = SIZES[name][0]
    out = model(l_input(2, h, w))
    labels = torch.randint(0, 24, (2, *out.shape[2:]), generator=torch.Generator().manual_seed(0))
    F.cross_entropy(out, labels).backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, pname


def test_regression_head_trains_with_mse():
    model = small("deep_unet", 2).train()
    out = model(l_input(2, 16, 16))
    F.mse_loss(out, torch.zeros_like(out)).backward()
    assert model.final.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("name", ["unet", "fcn16s", "vgg_dilated"])
def test_seeded_build_is_deterministic_and_leaves_global_rng_alone(name):
    torch.manual_seed(123)
    a = small(name, seed=7)
    after_a = torch.rand(3)
    torch.manual_seed(123)
    b = small(name, seed=7)
    assert torch.equal(torch.rand(3), after_a)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)
    x = l_input(2, *SIZES[name][0])
    with torch.no_grad():
        assert torch.equal(a.eval()(x), b.eval()(x))
    c = small(name, seed=8)
    assert any(not torch.equal(va, vc) for va, vc in
               zip(a.state_dict().values(), c.state_dict().values()) if va.is_floating_point())


def test_build_model_validation():
    with pytest.raises(ValueError, match="did you mean 'unet'"):
        build_model("unte", out_channels=3)
    with pytest.raises(ValueError, match="no option 'depth'.*classic_head"):
        build_model("cnn", out_channels=3, depth=3)
    with pytest.raises(ValueError, match="kernel_size must be a positive odd"):
        build_model("cnn", out_channels=3, kernel_size=4)
    with pytest.raises(ValueError, match="out_channels"):
        build_model("unet", out_channels=0)
    with pytest.raises(ValueError, match="down_kernel"):
        build_model("deep_unet", out_channels=3, kernel_size=5)


def test_classic_unet_parameter_count_matches_hand_count():
    w, k, q = 6, 5, 10
    model = build_model("unet", out_channels=q, width=w, kernel_size=k, classic_head=True)

    def conv_bn(c_in, c_out):  # conv weights + bias + BN gamma/beta
        return c_in * c_out * k * k + c_out + 2 * c_out

    expected = (conv_bn(1, w) + conv_bn(w, 2 * w) + conv_bn(2 * w, 2 * w)
                + conv_bn(4 * w, w) + conv_bn(2 * w, q) + (q + 1) * q * k * k + q)
    assert sum(p.numel() for p in model.parameters()) == expected


def test_summary_one_conv_model_hand_computed():
    model = nn.Sequential(nn.Conv2d(1, 5, 3, padding=1), nn.ConvTranspose2d(5, 2, 2, stride=2))
    prof = profile_model(model, size=(8, 6), batch=2)
    conv_macs = 2 * 5 * 8 * 6 * (1 * 3 * 3)        # outputs x taps
    convt_macs = (2 * 5 * 8 * 6) * (2 * 2 * 2)      # inputs x (out channels x taps)
    assert [layer.mult_adds for layer in prof.layers] == [conv_macs, convt_macs]
    assert prof.layers[0].activation_bytes == 2 * 5 * 8 * 6 * 4
    assert prof.output_shape == (2, 2, 16, 12)
    text = summarize(model[:1], size=(8, 6), batch=2, measure=False)
    assert f"Total mult-adds: {conv_macs:,} " in text  # 4,320


@pytest.mark.parametrize("name", ["unet", "fcn8s"])
def test_summary_totals_and_measured_peak(name):
    model = small(name, 24)
    n_params = sum(p.numel() for p in model.parameters())
    h = SIZES[name][0][0]
    text = summarize(model, size=h, batch=2)
    assert f"Total parameters: {n_params:,} " in text
    prof = profile_model(model, size=h, batch=2)
    assert f"Total mult-adds: {prof.total_mult_adds:,} " in text
    assert len(re.findall(r"Conv2d", text)) >= 5
    peak_line = re.search(r"Peak memory of one training step: .*\(([\d,]+) bytes\)", text)
    assert peak_line and "torch.profiler" in text
    peak = int(peak_line.group(1).replace(",", ""))
    # weights + grads + 2 Adam moments at least, and more than the forward activations alone
    assert peak >= 4 * prof.param_bytes and peak > prof.activation_bytes


def test_cpu_peak_memory_grows_with_batch():
    model = small("unet", 24)
    p1, how = measure_step_peak_memory(model, size=32, batch=1)
    p8, _ = measure_step_peak_memory(model, size=32, batch=8)
    assert "torch.profiler" in how
    assert p8 > p1 + 7 * 32 * 32 * 24 * 4  # at least 7 more logit maps


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_peak_memory_measured():
    peak, how = measure_step_peak_memory(small("unet", 24), size=32, batch=2, device="cuda")
    assert peak > 0 and "max_memory_allocated" in how


def test_unet_learns_a_tiny_problem():
    """The classic U-Net fits a fixed lightness -> 3-class map in a few Adam steps."""
    torch.manual_seed(0)
    x = l_input(4, 16, 16, seed=9)
    labels = (x[:, 0] > 0.3).long() + (x[:, 0] > -0.3).long()  # 3 classes by brightness
    model = build_model("unet", out_channels=3, width=8, seed=0).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for _ in range(100):
        loss = F.cross_entropy(model(x), labels)
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        acc = (model(x).argmax(1) == labels).float().mean().item()
    assert loss.item() < 0.3 * first and acc > 0.9
