"""Batch-norm folding for inference: an eval-only copy of a network without BatchNorm layers.

Pipeline position: trained **network** -> *fold_batchnorm* -> predict / colorize (inference only).

In eval mode a BatchNorm2d is the per-channel affine map ``y = s * (z - mean) + beta`` with
``s = gamma / sqrt(running_var + eps)``. When ``z`` is the output of the convolution just before
it in the same ``nn.Sequential`` (and nothing else reads ``z``), the map folds into that
convolution: ``W' = s * W`` (per output channel) and ``b' = s * (b - mean) + beta``. The BatchNorm
is then replaced by ``nn.Identity`` (the Sequential's indices stay as they were), which saves one
pass over the activations per layer. The outputs equal the unfolded model's in eval mode up to
float rounding (the new weights are computed in float64).

Not folded (left as they are, so the copy stays exact): a BatchNorm that follows anything but a
``Conv2d`` / ``ConvTranspose2d`` (groups 1) directly (e.g. ``vgg_dilated``'s, which follow a
ReLU), one without running statistics (it normalises with batch statistics even in eval mode),
and convolutions that are used at more than one place of the model.

Training mode cannot be folded: there BatchNorm normalises with the statistics of each batch.
The copy is meant for inference only: it is in eval mode and its parameters do not require
gradients; its ``state_dict`` has no BatchNorm entries, so save the original model, not the copy.
"""
from __future__ import annotations

import copy
from collections import Counter

import torch
from torch import nn

__all__ = ["fold_batchnorm", "count_batchnorm"]


def count_batchnorm(model: nn.Module) -> int:
    """Number of ``BatchNorm2d`` layers in ``model``."""
    return sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())


def _foldable(conv: nn.Module, bn: nn.Module, uses: Counter) -> bool:
    if type(bn) is not nn.BatchNorm2d or bn.running_mean is None or bn.running_var is None:
        return False
    if uses[id(conv)] > 1 or uses[id(bn)] > 1:
        return False
    if isinstance(conv, nn.Conv2d):
        return conv.out_channels == bn.num_features
    return isinstance(conv, nn.ConvTranspose2d) and conv.groups == 1 and conv.out_channels == bn.num_features


@torch.no_grad()
def _fold_pair(conv: nn.Conv2d | nn.ConvTranspose2d, bn: nn.BatchNorm2d) -> None:
    assert bn.running_var is not None and bn.running_mean is not None   # _foldable: tracked statistics
    scale = bn.running_var.double().add(bn.eps).rsqrt()
    if bn.weight is not None:
        scale = scale * bn.weight.double()
    shift = -bn.running_mean.double() * scale
    if bn.bias is not None:
        shift = shift + bn.bias.double()
    weight = conv.weight
    # Conv2d weight: (out, in / groups, kh, kw); ConvTranspose2d (groups 1): (in, out, kh, kw)
    view = (-1, 1, 1, 1) if isinstance(conv, nn.Conv2d) else (1, -1, 1, 1)
    weight.copy_((weight.double() * scale.view(view)).to(weight.dtype))
    bias = conv.bias.double() if conv.bias is not None else torch.zeros_like(scale)
    new_bias = (bias * scale + shift).to(weight.dtype)
    if conv.bias is None:
        conv.bias = nn.Parameter(new_bias.to(weight.device), requires_grad=False)
    else:
        conv.bias.copy_(new_bias)


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """An eval-only copy of ``model`` with every safely foldable BatchNorm2d folded into the
    convolution before it (see the module docstring); ``model`` itself is not changed."""
    folded = copy.deepcopy(model).eval()
    uses = Counter(id(m) for _, m in folded.named_modules(remove_duplicate=False))
    for module in list(folded.modules()):
        if not isinstance(module, nn.Sequential):
            continue
        names = list(module._modules)
        for first, second in zip(names, names[1:]):
            conv, bn = module._modules[first], module._modules[second]
            if _foldable(conv, bn, uses) and isinstance(conv, (nn.Conv2d, nn.ConvTranspose2d)) \
                    and isinstance(bn, nn.BatchNorm2d):
                _fold_pair(conv, bn)
                module._modules[second] = nn.Identity()
    for p in folded.parameters():
        p.requires_grad_(False)
    return folded
