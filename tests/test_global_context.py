"""The whole-photo context branch of cnn/unet (``global_context=True``, Deep Koalarization's fusion
layer): every output pixel sees the whole photo, at any size, gradients reach it, the experiment
config turns it on, and it exports to ONNX with sizes left free."""
from __future__ import annotations

import pytest
import torch

from colorclass.models import build_model


def _unet(global_context: bool, in_channels: int = 1, width: int = 4):
    return build_model("unet", out_channels=12, width=width, seed=0, in_channels=in_channels,
                       output_stride=2, head_kernel=1, global_context=global_context).eval()


def _far_gradient(model, h: int = 64, w: int = 64) -> float:
    """|d logits at the top-left output pixel / d the bottom-right quarter of the input| (eval mode:
    BatchNorm does not mix pixels)."""
    x = (torch.rand(1, model.in_channels, h, w, generator=torch.Generator().manual_seed(0)) * 2 - 1)
    x.requires_grad_(True)
    model(x)[0, :, 0, 0].sum().backward()
    return float(x.grad[:, :, h // 2:, w // 2:].abs().sum())


def test_only_the_context_branch_lets_a_pixel_see_the_far_side_of_the_photo():
    assert _far_gradient(_unet(False, width=16)) == 0.0        # the local U-Net's field is about 28 px wide
    assert _far_gradient(_unet(True, width=16)) > 1e-6   # pooled over the photo: small, never 0


@pytest.mark.parametrize("size", [(8, 8), (12, 20), (96, 64), (4, 4)])
def test_any_valid_size_and_batch_items_do_not_mix(size):
    model = _unet(True, in_channels=4)
    x = torch.rand(3, 4, *size) * 2 - 1
    with torch.no_grad():
        both, alone = model(x), model(x[1:2])
    assert both.shape == (3, 12, size[0] // 2, size[1] // 2)
    torch.testing.assert_close(both[1:2], alone, rtol=1e-4, atol=1e-5)   # one vector per photo


def test_gradients_reach_the_context_branch_and_it_trains_in_channels_last():
    model = _unet(True).train().to(memory_format=torch.channels_last)
    x = (torch.rand(2, 1, 16, 16) * 2 - 1).to(memory_format=torch.channels_last)
    model(x).square().mean().backward()
    for name, p in model.named_parameters():
        if name.startswith("context."):
            assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_the_experiment_config_builds_it_and_other_families_refuse_it():
    from colorclass.runs.experiment import ExperimentConfig, ModelConfig
    from colorclass.runs.loading import model_from_config
    from colorclass.support.errors import ColorclassError

    with_context = model_from_config(ExperimentConfig(model=ModelConfig(width=4, global_context=True)), 24)
    without = model_from_config(ExperimentConfig(model=ModelConfig(width=4)), 24)
    assert with_context.context is not None and without.context is None
    with pytest.raises(ColorclassError, match="global_context"):
        model_from_config(ExperimentConfig(model=ModelConfig(name="fcn32s", width=2, global_context=True)), 24)


def test_onnx_export_keeps_sizes_free():
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    import io

    model = _unet(True, in_channels=4)
    buf = io.BytesIO()
    kwargs = {"dynamo": False}
    torch.onnx.export(model, (torch.zeros(1, 4, 32, 32),), buf, input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "b", 2: "h", 3: "w"}, "y": {0: "b", 2: "oh", 3: "ow"}},
                      opset_version=17, **kwargs)
    session = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    x = torch.rand(2, 4, 48, 80) * 2 - 1
    with torch.no_grad():
        want = model(x).numpy()
    got = session.run(None, {"x": x.numpy()})[0]
    assert got.shape == want.shape
    assert abs(got - want).max() < 1e-4
