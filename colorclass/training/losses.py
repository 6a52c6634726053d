"""Per-pixel losses for colour classification (and the regression baseline).

Pipeline position: photos -> quantize (fit bins) -> encode targets -> network -> **loss**
-> decode -> colour image -> metrics / reports.

All functions are pure and numerically stable (``log_softmax``; no ``softmax`` then ``log``).
Shapes:

* ``logits``: ``(B, Q, h, w)`` float (float16/bfloat16 are promoted to float32).
* hard ``labels``: ``(B, h, w)`` int64 in ``[0, Q)``.
* sparse soft targets: ``idx (B, n, h, w)`` int64 in ``[0, Q)`` and ``weight (B, n, h, w)`` float,
  non-negative and summing to 1 over ``n``. The log-probabilities are *gathered* at ``idx``:
  a dense ``(pixels x Q)`` target is never built.
* ``class_weights``: optional ``(Q,)`` rebalancing weights (``quantize.rebalance_weights``);
  each pixel is weighted by the weight of its target's most likely bin.
* ``mask``: optional ``(B, h, w)`` bool, ``True`` = pixel counts. Masked-out pixels (images or
  regions without colour) contribute nothing; their labels/indices may hold any value.

Reduction: the (weighted) per-pixel losses are averaged over the unmasked pixels. When every
pixel is masked the loss is an exact ``0`` that still carries a gradient (never NaN).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "cross_entropy",
    "soft_cross_entropy",
    "kl_divergence",
    "mse_ab",
    "per_pixel_cross_entropy",
    "per_pixel_soft_cross_entropy",
    "reduce_pixels",
]


def _check_logits(logits: Tensor) -> Tensor:
    if not isinstance(logits, Tensor) or logits.dim() != 4:
        shape = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
        raise ValueError(f"logits must be a (B, Q, h, w) tensor, got {shape}")
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()
    return logits


def _check_pixel_shape(name: str, tensor: Tensor, logits: Tensor) -> None:
    expected = (logits.shape[0], *logits.shape[2:])
    if tuple(tensor.shape) != expected:
        raise ValueError(
            f"{name} must have shape (B, h, w) = {expected} to match logits {tuple(logits.shape)}, "
            f"got {tuple(tensor.shape)}; resample the targets to the logits' resolution"
        )


def _check_index_range(name: str, index: Tensor, n_classes: int, mask: Tensor | None) -> None:
    """Raise if any *used* index lies outside [0, n_classes)."""
    if mask is None:
        used = index
    elif index.dim() == 4:  # sparse soft indices (B, n, h, w)
        used = index[mask.unsqueeze(1).expand_as(index)]
    else:
        used = index[mask]
    if not used.numel():
        return
    low, high = torch.stack(torch.aminmax(used)).tolist()  # one device sync
    if low < 0 or high >= n_classes:
        raise ValueError(
            f"{name} must lie in [0, {n_classes}) for logits with Q={n_classes} bins, "
            f"got values in [{low}, {high}]; were the targets encoded with other bins?"
        )


def _check_mask(mask: Tensor | None, logits: Tensor) -> Tensor | None:
    if mask is None:
        return None
    _check_pixel_shape("mask", mask, logits)
    if mask.dtype != torch.bool:
        raise ValueError(f"mask must be a bool tensor (True = pixel counts), got dtype {mask.dtype}")
    return mask.to(logits.device)


def _class_weight_tensor(class_weights, n_classes: int, like: Tensor) -> Tensor:
    if not isinstance(class_weights, Tensor):
        class_weights = torch.as_tensor(np.asarray(class_weights))
    weights = class_weights
    if weights.shape != (n_classes,):
        raise ValueError(
            f"class_weights must have shape (Q,) = ({n_classes},), got {tuple(weights.shape)}; "
            "compute them from the same bins' prior"
        )
    return weights.to(device=like.device, dtype=like.dtype)


def reduce_pixels(per_pixel: Tensor, *, pixel_weight: Tensor | None = None,
                  mask: Tensor | None = None) -> Tensor:
    """Mean of ``per_pixel (B, h, w)`` (times ``pixel_weight``) over the unmasked pixels -> scalar.

    All pixels masked -> an exact zero that keeps the autograd graph (sum of zeros / 1).
    """
    if pixel_weight is not None:
        per_pixel = per_pixel * pixel_weight
    if mask is None:
        return per_pixel.mean()
    kept = torch.where(mask, per_pixel, torch.zeros_like(per_pixel))
    count = mask.sum()
    return kept.sum() / count.clamp(min=1).to(kept.dtype)


def per_pixel_cross_entropy(logits: Tensor, labels: Tensor) -> Tensor:
    """``-log p(label)`` per pixel: ``(B, h, w)``. ``labels`` must be valid indices everywhere."""
    log_p = F.log_softmax(logits, dim=1)
    return -log_p.gather(1, labels.unsqueeze(1)).squeeze(1)


def per_pixel_soft_cross_entropy(logits: Tensor, idx: Tensor, weight: Tensor) -> Tensor:
    """``-sum_n weight_n log p(idx_n)`` per pixel: ``(B, h, w)``, gathering only the n target bins."""
    log_p = F.log_softmax(logits, dim=1)
    return -(weight.to(log_p.dtype) * log_p.gather(1, idx)).sum(dim=1)


def _safe_labels(labels: Tensor, mask: Tensor | None) -> Tensor:
    """Replace labels of masked pixels by 0 so that gather never sees garbage indices."""
    return labels if mask is None else torch.where(mask, labels, torch.zeros_like(labels))


def cross_entropy(logits: Tensor, labels: Tensor, *, class_weights=None,
                  mask: Tensor | None = None) -> Tensor:
    """Cross-entropy on hard labels -> scalar.

    logits: (B, Q, h, w) float; labels: (B, h, w) int64 in [0, Q); class_weights: (Q,) or None;
    mask: (B, h, w) bool or None. Rebalanced pixels are weighted by ``class_weights[label]``.
    """
    logits = _check_logits(logits)
    _check_pixel_shape("labels", labels, logits)
    mask = _check_mask(mask, logits)
    labels = labels.to(device=logits.device, dtype=torch.int64)
    _check_index_range("labels", labels, logits.shape[1], mask)
    labels = _safe_labels(labels, mask)
    per_pixel = per_pixel_cross_entropy(logits, labels)
    pixel_weight = None
    if class_weights is not None:
        pixel_weight = _class_weight_tensor(class_weights, logits.shape[1], per_pixel)[labels]
    return reduce_pixels(per_pixel, pixel_weight=pixel_weight, mask=mask)


def _check_soft(logits: Tensor, idx: Tensor, weight: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor]:
    if idx.dim() != 4 or tuple(idx.shape) != tuple(weight.shape):
        raise ValueError(
            f"idx and weight must both be (B, n, h, w), got {tuple(idx.shape)} and {tuple(weight.shape)}"
        )
    if (idx.shape[0], *idx.shape[2:]) != (logits.shape[0], *logits.shape[2:]):
        raise ValueError(
            f"soft targets {tuple(idx.shape)} do not match logits {tuple(logits.shape)} in (B, h, w); "
            "resample the targets to the logits' resolution"
        )
    idx = idx.to(device=logits.device, dtype=torch.int64)
    _check_index_range("idx", idx, logits.shape[1], mask)
    if mask is not None:
        idx = torch.where(mask.unsqueeze(1), idx, torch.zeros_like(idx))
    return idx, weight.to(device=logits.device, dtype=logits.dtype)


def _top_bin(idx: Tensor, weight: Tensor) -> Tensor:
    """The most likely target bin per pixel: (B, h, w) int64."""
    return idx.gather(1, weight.argmax(dim=1, keepdim=True)).squeeze(1)


def soft_cross_entropy(
    logits: Tensor, idx: Tensor, weight: Tensor, *, class_weights=None, mask: Tensor | None = None
) -> Tensor:
    """Cross-entropy ``-sum_n w_n log p(idx_n)`` against sparse soft targets -> scalar.

    logits: (B, Q, h, w); idx: (B, n, h, w) int64; weight: (B, n, h, w) summing to 1 over n;
    class_weights: (Q,) or None (pixel weight = class_weights[idx at the largest weight]);
    mask: (B, h, w) bool or None.
    """
    logits = _check_logits(logits)
    mask = _check_mask(mask, logits)
    idx, weight = _check_soft(logits, idx, weight, mask)
    per_pixel = per_pixel_soft_cross_entropy(logits, idx, weight)
    pixel_weight = None
    if class_weights is not None:
        pixel_weight = _class_weight_tensor(class_weights, logits.shape[1], per_pixel)[_top_bin(idx, weight)]
    return reduce_pixels(per_pixel, pixel_weight=pixel_weight, mask=mask)


def kl_divergence(
    logits: Tensor, idx: Tensor, weight: Tensor, *, class_weights=None, mask: Tensor | None = None
) -> Tensor:
    """KL(target || softmax(logits)) with sparse soft targets -> scalar (>= 0).

    Equals ``soft_cross_entropy`` minus the target entropy (same gradient; 0 for a perfect fit).
    Shapes as in :func:`soft_cross_entropy`; ``0 log 0`` is taken as 0.
    """
    logits = _check_logits(logits)
    mask = _check_mask(mask, logits)
    idx, weight = _check_soft(logits, idx, weight, mask)
    cross = per_pixel_soft_cross_entropy(logits, idx, weight)
    safe_log = torch.log(weight.clamp(min=torch.finfo(weight.dtype).tiny))
    neg_entropy = torch.where(weight > 0, weight * safe_log, 0.0)
    per_pixel = cross + neg_entropy.sum(dim=1)
    pixel_weight = None
    if class_weights is not None:
        pixel_weight = _class_weight_tensor(class_weights, logits.shape[1], per_pixel)[_top_bin(idx, weight)]
    return reduce_pixels(per_pixel, pixel_weight=pixel_weight, mask=mask)


def mse_ab(pred_ab: Tensor, target_ab: Tensor, *, mask: Tensor | None = None) -> Tensor:
    """Mean squared error of ab chroma -> scalar (mean over both channels and unmasked pixels).

    pred_ab, target_ab: (B, 2, h, w) float in Lab units (roughly [-128, 127]); mask: (B, h, w) bool.
    """
    if pred_ab.dim() != 4 or pred_ab.shape[1] != 2 or tuple(pred_ab.shape) != tuple(target_ab.shape):
        raise ValueError(
            "pred_ab and target_ab must both be (B, 2, h, w), "
            f"got {tuple(pred_ab.shape)} and {tuple(target_ab.shape)}"
        )
    pred = _check_logits(pred_ab)
    mask = _check_mask(mask, pred)
    per_pixel = (pred - target_ab.to(pred)).square().mean(dim=1)
    return reduce_pixels(per_pixel, mask=mask)
