"""Per-layer activation recording: shapes, order, hooks removed even on failure."""
import pytest
import torch

from colorclass.reports.activations import default_layers, record_activations
from colorclass.models import build_model


@pytest.mark.parametrize("name, size", [("unet", 32), ("vgg_dilated", 32), ("fcn8s", 32)])
def test_records_every_conv_with_its_output_shape(name, size):
    model = build_model(name, out_channels=10, width=4, seed=0)
    x = torch.randn(1, 1, size, size)
    acts = record_activations(model, x)
    convs = default_layers(model)
    assert list(acts) and set(acts) <= set(convs)
    last = list(acts.values())[-1]
    assert last.shape[0] == 10                      # the head's Q channels come last
    for name_, a in acts.items():
        module = dict(model.named_modules())[name_]
        assert a.shape[0] == module.out_channels and a.ndim == 3
    again = record_activations(model, x)
    assert all(torch.equal(again[k], v) for k, v in acts.items())  # deterministic (eval mode)


def test_hooks_removed_even_when_forward_fails():
    model = build_model("unet", out_channels=4, width=4, seed=0)
    with pytest.raises(Exception):
        record_activations(model, torch.randn(1, 3, 16, 16))  # wrong channel count
    assert all(not m._forward_hooks for m in model.modules())
    with pytest.raises(ValueError, match="unknown layer"):
        record_activations(model, torch.randn(1, 1, 16, 16), layers=["nope"])
