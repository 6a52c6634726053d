"""Issue 18 item 3 (train-step speed): the U-Net keeps its concatenations channels-last, batch
norm folds into the convolutions for inference with the same outputs, and every registered
model takes extra input planes (``in_channels``). No timing is asserted here (BENCHMARKS.md)."""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from colorclass.models import MODELS, build_model, count_batchnorm, fold_batchnorm
from colorclass.models.common import like_layout

CL = torch.channels_last


def _options(name: str) -> dict:
    return {"depth": 6} if name == "deep_unet" else {}   # deep_unet's default depth needs 256x256


def _with_statistics(model: nn.Module) -> nn.Module:
    """Non-trivial running statistics and affine parameters in every BatchNorm, then eval()."""
    gen = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=gen) * 0.5)
            m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
            with torch.no_grad():
                m.weight.copy_(torch.rand(n, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(n, generator=gen) * 0.3)
    return model.eval()


@pytest.mark.parametrize("name", list(MODELS))
def test_every_model_takes_extra_input_planes(name):
    x4 = torch.rand(2, 4, 64, 64, generator=torch.Generator().manual_seed(1)) * 2 - 1
    one = build_model(name, out_channels=7, width=4, seed=0, **_options(name)).eval()
    four = build_model(name, out_channels=7, width=4, seed=0, in_channels=4, **_options(name)).eval()
    assert four.in_channels == 4 and one.in_channels == 1
    with torch.no_grad():
        assert four(x4).shape == one(x4[:, :1]).shape
    with pytest.raises(ValueError, match=r"\(B, 4, H, W\)"):
        four(x4[:, :1])
    # the default keeps every 1-channel weight file loading: same names and shapes as before
    default = build_model(name, out_channels=7, width=4, seed=0, **_options(name))
    assert {k: v.shape for k, v in default.state_dict().items()} == {k: v.shape for k, v in one.state_dict().items()}


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "4"])
def test_in_channels_must_be_a_positive_int(bad):
    with pytest.raises(ValueError, match="in_channels"):
        build_model("unet", out_channels=3, width=4, in_channels=bad)


def test_unet_keeps_the_skip_concatenations_channels_last():
    model = build_model("unet", out_channels=5, width=8, seed=0).to(memory_format=CL)
    seen = []
    for layer in (model.up1[0], model.up2[0], model.final):
        layer.register_forward_pre_hook(lambda m, inp: seen.append(inp[0].is_contiguous(memory_format=CL)))
    model(torch.rand(2, 1, 16, 16) * 2 - 1)
    assert seen == [True, True, True]
    ref = torch.rand(2, 3, 4, 4).contiguous(memory_format=CL)
    x = torch.rand(2, 1, 4, 4)
    assert like_layout(x, ref).is_contiguous(memory_format=CL) and torch.equal(like_layout(x, ref), x)
    assert like_layout(x, torch.rand(2, 3, 4, 4)) is x   # NCHW reference: nothing to do


def test_channels_last_training_step_matches_nchw():
    """Same loss and gradients in both layouts (the layout change is not a model change)."""
    gen = torch.Generator().manual_seed(2)
    x = torch.rand(4, 1, 16, 16, generator=gen) * 2 - 1
    labels = torch.randint(0, 6, (4, 16, 16), generator=gen)
    nchw = build_model("unet", out_channels=6, width=8, seed=0)
    cl = copy.deepcopy(nchw).to(memory_format=CL)
    grads = []
    for model in (nchw, cl):
        loss = F.cross_entropy(model(x), labels)
        loss.backward()
        grads.append([p.grad.contiguous() for p in model.parameters()])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def _as_before(model: nn.Module) -> nn.Module:
    """The U-Net as it computed before: plain cat of the NCHW input skip, plain nn.Upsample."""
    def body(x):
        d1 = model.down1(x)
        d2 = model.down2(d1)
        u1 = model.up1(torch.cat([model.middle(d2), d2], dim=1))
        u2 = model.up2(torch.cat([u1, d1], dim=1))
        return model.final(torch.cat([u2, x], dim=1))
    model.body = body
    for block in (model.up1, model.up2):
        block[-1] = nn.Upsample(scale_factor=2)
    return model


@pytest.mark.parametrize("layout", [CL, torch.contiguous_format])
def test_unet_training_step_is_bit_identical_to_before(layout):
    """The faster skip layout and upsampling backward change no value: same logits and
    gradients, bit for bit, so runs stay reproducible across the change."""
    gen = torch.Generator().manual_seed(5)
    x = torch.rand(4, 1, 32, 32, generator=gen) * 2 - 1
    labels = torch.randint(0, 6, (4, 32, 32), generator=gen)
    new = build_model("unet", out_channels=6, width=8, seed=0).to(memory_format=layout)
    old = _as_before(copy.deepcopy(new))
    results = []
    for model in (new, old):
        logits = model(x)
        F.cross_entropy(logits, labels).backward()
        results.append((logits.detach(), [p.grad for p in model.parameters()]))
    assert torch.equal(results[0][0], results[1][0])
    assert all(torch.equal(a, b) for a, b in zip(results[0][1], results[1][1]))


def test_nearest_up2_gradient_equals_nn_upsample_for_strided_and_contiguous_gradients():
    from colorclass.models.common import NearestUp2

    x = torch.randn(2, 8, 5, 6).contiguous(memory_format=CL).requires_grad_()
    big = torch.randn(2, 16, 10, 12).contiguous(memory_format=CL)
    for grad in (big[:, :8], big[:, 8:].contiguous(), big[:, :8].contiguous(memory_format=CL)):
        grads = []
        for up in (NearestUp2(), nn.Upsample(scale_factor=2)):
            x.grad = None
            y = up(x)
            y.backward(grad)
            grads.append(x.grad.clone())
        assert torch.equal(y, F.interpolate(x, scale_factor=2.0)) and torch.equal(*grads)
    with torch.no_grad():
        assert torch.equal(NearestUp2()(x), F.interpolate(x, scale_factor=2.0))


@pytest.mark.parametrize("name", list(MODELS))
def test_fold_batchnorm_gives_the_same_eval_outputs(name):
    model = _with_statistics(build_model(name, out_channels=9, width=8, seed=0, **_options(name)))
    model.train()   # fold_batchnorm works on a copy in eval mode, whatever the model's mode
    x = torch.rand(2, 1, 64, 64, generator=torch.Generator().manual_seed(3)) * 2 - 1
    folded = fold_batchnorm(model)
    assert model.training and not folded.training
    assert count_batchnorm(model) > 0
    if name != "vgg_dilated":   # its BatchNorms follow a ReLU: nothing to fold into, left as they are
        assert count_batchnorm(folded) == 0
    with torch.no_grad():
        expected = model.eval()(x)
        assert (folded(x) - expected).abs().max() <= 1e-5
        assert (folded.to(memory_format=CL)(x) - expected).abs().max() <= 1e-5
    assert not any(p.requires_grad for p in folded.parameters())


def test_fold_batchnorm_leaves_batch_statistics_and_shared_layers_alone():
    conv = nn.Conv2d(1, 3, 3, padding=1)
    no_stats = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3, track_running_stats=False))
    shared = nn.Sequential(conv, nn.BatchNorm2d(3), nn.Sequential(conv))
    for model in (no_stats, shared):
        assert count_batchnorm(fold_batchnorm(model)) == 1
    folded = fold_batchnorm(nn.Sequential(nn.Conv2d(1, 3, 3, padding=1, bias=False), nn.BatchNorm2d(3)))
    assert count_batchnorm(folded) == 0 and folded[0].bias is not None


def test_builtin_model_outputs_are_unchanged_and_fold_exactly():
    from colorclass.builtin import builtin_run_dir
    from colorclass.runs.loading import load_run

    model = load_run(builtin_run_dir("general"), device="cpu").model
    x = torch.rand(2, 1, 64, 96, generator=torch.Generator().manual_seed(4)) * 2 - 1

    def old_body(m, x):   # the U-Net's forward before the channels-last skip (plain torch.cat)
        d1 = m.down1(x)
        d2 = m.down2(d1)
        u1 = m.up1(torch.cat([m.middle(d2), d2], dim=1))
        u2 = m.up2(torch.cat([u1, d1], dim=1))
        return m.final(torch.cat([u2, F.avg_pool2d(x, m.output_stride)], dim=1))

    with torch.no_grad():
        logits = model(x)
        scale = logits.abs().max()
        assert (logits - old_body(model, x)).abs().max() <= 1e-5 * scale
        channels_last = copy.deepcopy(model).to(memory_format=CL)(x)
        assert (channels_last - logits).abs().max() <= 1e-5 * scale
        folded = fold_batchnorm(model)(x)
    # logits reach |57|, where float32 rounding alone is ~4e-6: compare relative to their scale,
    # and the probabilities (what decoding uses) absolutely
    assert (folded - logits).abs().max() <= 1e-5 * scale
    assert (folded.softmax(1) - logits.softmax(1)).abs().max() <= 1e-5
    assert count_batchnorm(model) == 5 and model.in_channels == 1
