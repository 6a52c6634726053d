"""Losses: equality with dense references, gradients, rebalancing, masks, extreme logits."""

import math

import numpy as np
import pytest
import torch

import colorclass.training.losses as losses

B, Q, N, H, W = 2, 7, 3, 4, 5


def _soft_targets(gen, *, b=B, q=Q, n=N, h=H, w=W, dtype=torch.float32):
    idx = torch.stack([torch.randperm(q, generator=gen)[:n] for _ in range(b * h * w)])
    idx = idx.view(b, h, w, n).permute(0, 3, 1, 2).contiguous()
    weight = torch.rand(b, n, h, w, generator=gen, dtype=dtype) + 0.05
    return idx, weight / weight.sum(1, keepdim=True)


def _dense(idx, weight, q=Q):
    dense = torch.zeros(idx.shape[0], q, *idx.shape[2:], dtype=weight.dtype)
    return dense.scatter_add_(1, idx, weight)


def _dense_soft_ce(logits, idx, weight, class_weights=None, mask=None):
    """Textbook reference: dense target, -sum t log softmax, explicit weighted mean."""
    t = _dense(idx, weight, logits.shape[1])
    log_p = torch.log(torch.softmax(logits.double(), 1))
    per_pixel = -(t.double() * log_p).sum(1)
    if class_weights is not None:
        top = t.argmax(1)
        per_pixel = per_pixel * torch.as_tensor(class_weights, dtype=torch.float64)[top]
    if mask is None:
        mask = torch.ones_like(per_pixel, dtype=torch.bool)
    return per_pixel[mask].sum() / mask.sum()


def test_cross_entropy_matches_dense_reference_and_torch():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(B, Q, H, W, generator=gen) * 3
    labels = torch.randint(0, Q, (B, H, W), generator=gen)
    ours = losses.cross_entropy(logits, labels)
    reference = _dense_soft_ce(logits, labels.unsqueeze(1), torch.ones(B, 1, H, W))
    assert ours.item() == pytest.approx(reference.item(), rel=1e-5)
    assert ours.item() == pytest.approx(torch.nn.functional.cross_entropy(logits, labels).item(), rel=1e-6)


def test_soft_cross_entropy_matches_dense_reference():
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(B, Q, H, W, generator=gen) * 4
    idx, weight = _soft_targets(gen)
    ours = losses.soft_cross_entropy(logits, idx, weight)
    assert ours.item() == pytest.approx(_dense_soft_ce(logits, idx, weight).item(), rel=1e-5)


def test_kl_is_soft_ce_minus_entropy_and_zero_at_the_target():
    gen = torch.Generator().manual_seed(2)
    logits = torch.randn(B, Q, H, W, generator=gen)
    idx, weight = _soft_targets(gen)
    t = _dense(idx, weight).double()
    reference = (t * (torch.log(t.clamp(min=1e-300)) - torch.log_softmax(logits.double(), 1))).sum(1).mean()
    assert losses.kl_divergence(logits, idx, weight).item() == pytest.approx(reference.item(), rel=1e-5, abs=1e-6)
    # Logits equal to the log target (tiny mass elsewhere) give KL ~ 0.
    perfect = torch.log(t.float() + 1e-12)
    assert losses.kl_divergence(perfect, idx, weight).item() == pytest.approx(0.0, abs=1e-5)
    assert losses.soft_cross_entropy(perfect, idx, weight).item() > 0.3  # the target entropy


def test_kl_handles_zero_weights():
    logits = torch.zeros(1, 3, 1, 1)
    idx = torch.tensor([0, 1]).view(1, 2, 1, 1)
    weight = torch.tensor([1.0, 0.0]).view(1, 2, 1, 1)
    assert losses.kl_divergence(logits, idx, weight).item() == pytest.approx(math.log(3), rel=1e-6)


@pytest.mark.parametrize("name", ["ce", "soft", "kl"])
def test_gradcheck_float64(name):
    gen = torch.Generator().manual_seed(3)
    logits = torch.randn(1, 5, 2, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    idx, weight = _soft_targets(gen, b=1, q=5, n=2, h=2, w=3, dtype=torch.float64)
    cw = torch.rand(5, generator=gen, dtype=torch.float64) + 0.5
    mask = torch.tensor([[[True, False, True], [True, True, False]]])
    if name == "ce":
        fn = lambda x: losses.cross_entropy(x, idx[:, 0], class_weights=cw, mask=mask)  # noqa: E731
    elif name == "soft":
        fn = lambda x: losses.soft_cross_entropy(x, idx, weight, class_weights=cw, mask=mask)  # noqa: E731
    else:
        fn = lambda x: losses.kl_divergence(x, idx, weight, class_weights=cw, mask=mask)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (logits,))


def test_soft_gradient_is_softmax_minus_target():
    gen = torch.Generator().manual_seed(4)
    logits = torch.randn(1, Q, 2, 2, generator=gen, dtype=torch.float64, requires_grad=True)
    idx, weight = _soft_targets(gen, b=1, h=2, w=2, dtype=torch.float64)
    losses.soft_cross_entropy(logits, idx, weight).backward()
    expected = (torch.softmax(logits.detach(), 1) - _dense(idx, weight)) / 4
    torch.testing.assert_close(logits.grad, expected)


def test_rebalancing_weights_pixels_by_their_top_bin():
    gen = torch.Generator().manual_seed(5)
    logits = torch.randn(B, Q, H, W, generator=gen)
    idx, weight = _soft_targets(gen)
    cw = np.linspace(0.2, 3.0, Q)
    ours = losses.soft_cross_entropy(logits, idx, weight, class_weights=cw)
    assert ours.item() == pytest.approx(_dense_soft_ce(logits, idx, weight, cw).item(), rel=1e-5)
    # Hard labels: weighted mean of per-pixel CE with weight cw[label].
    labels = idx[:, 0]
    per_pixel = torch.nn.functional.cross_entropy(logits, labels, reduction="none")
    expected = (per_pixel * torch.as_tensor(cw, dtype=torch.float32)[labels]).mean()
    assert losses.cross_entropy(logits, labels, class_weights=cw).item() == pytest.approx(expected.item(), rel=1e-5)
    # Uniform weights of 1 change nothing.
    assert losses.cross_entropy(logits, labels, class_weights=np.ones(Q)).item() == pytest.approx(
        losses.cross_entropy(logits, labels).item(), rel=1e-6)


def test_mask_ignores_pixels_and_their_garbage_labels():
    gen = torch.Generator().manual_seed(6)
    logits = torch.randn(B, Q, H, W, generator=gen)
    labels = torch.randint(0, Q, (B, H, W), generator=gen)
    mask = torch.zeros(B, H, W, dtype=torch.bool)
    mask[0] = True  # second image has no colour
    garbage = labels.clone()
    garbage[1] = -1  # invalid labels where masked must be ignored, not crash
    ours = losses.cross_entropy(logits, garbage, mask=mask)
    assert ours.item() == pytest.approx(losses.cross_entropy(logits[:1], labels[:1]).item(), rel=1e-6)
    idx, weight = _soft_targets(gen)
    idx_bad = idx.clone()
    idx_bad[1] = 10 * Q
    soft = losses.soft_cross_entropy(logits, idx_bad, weight, mask=mask)
    assert soft.item() == pytest.approx(losses.soft_cross_entropy(logits[:1], idx[:1], weight[:1]).item(), rel=1e-6)


def test_all_masked_gives_zero_with_gradient():
    logits = torch.randn(B, Q, H, W, requires_grad=True)
    labels = torch.randint(0, Q, (B, H, W))
    idx, weight = _soft_targets(torch.Generator().manual_seed(7))
    mask = torch.zeros(B, H, W, dtype=torch.bool)
    for value in (losses.cross_entropy(logits, labels, mask=mask),
                  losses.kl_divergence(logits, idx, weight, mask=mask, class_weights=np.ones(Q)),
                  losses.mse_ab(logits[:, :2], torch.zeros(B, 2, H, W), mask=mask)):
        assert value.item() == 0.0 and value.requires_grad
        (grad,) = torch.autograd.grad(value, logits)
        assert torch.isfinite(grad).all() and grad.abs().sum() == 0


def test_extreme_logits_stay_finite():
    logits = torch.zeros(1, Q, 2, 2)
    logits[:, 0] = 1e4
    logits[:, 1] = -1e4
    logits.requires_grad_(True)
    labels = torch.ones(1, 2, 2, dtype=torch.int64)  # the hopeless class
    idx = torch.tensor([1, 0]).view(1, 2, 1, 1).expand(1, 2, 2, 2).contiguous()
    weight = torch.tensor([0.5, 0.5]).view(1, 2, 1, 1).expand(1, 2, 2, 2).contiguous()
    for value in (losses.cross_entropy(logits, labels), losses.soft_cross_entropy(logits, idx, weight),
                  losses.kl_divergence(logits, idx, weight)):
        assert torch.isfinite(value)
        (grad,) = torch.autograd.grad(value, logits)
        assert torch.isfinite(grad).all()
    assert losses.cross_entropy(logits, labels).item() == pytest.approx(2e4, rel=1e-6)


def test_half_precision_logits_are_promoted():
    logits = torch.randn(1, Q, 2, 2).half()
    labels = torch.zeros(1, 2, 2, dtype=torch.int64)
    value = losses.cross_entropy(logits, labels)
    assert value.dtype == torch.float32
    assert value.item() == pytest.approx(losses.cross_entropy(logits.float(), labels).item(), rel=1e-6)


def test_mse_ab_matches_definition_and_mask():
    gen = torch.Generator().manual_seed(8)
    pred, target = torch.randn(B, 2, H, W, generator=gen), torch.randn(B, 2, H, W, generator=gen)
    assert losses.mse_ab(pred, target).item() == pytest.approx(((pred - target) ** 2).mean().item(), rel=1e-6)
    mask = torch.zeros(B, H, W, dtype=torch.bool)
    mask[1, :2] = True
    expected = ((pred - target) ** 2)[1, :, :2].mean()
    assert losses.mse_ab(pred, target, mask=mask).item() == pytest.approx(expected.item(), rel=1e-6)


def test_boundary_errors_show_the_value():
    logits = torch.zeros(1, Q, 2, 2)
    with pytest.raises(ValueError, match=r"\[0, 7\).*\[9, 9\]"):
        losses.cross_entropy(logits, torch.full((1, 2, 2), 9))
    with pytest.raises(ValueError, match=r"\(1, 3, 3\)"):
        losses.cross_entropy(logits, torch.zeros(1, 3, 3, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"\(3,\)"):
        losses.cross_entropy(logits, torch.zeros(1, 2, 2, dtype=torch.int64), class_weights=np.ones(3))
    with pytest.raises(ValueError, match="bool"):
        losses.cross_entropy(logits, torch.zeros(1, 2, 2, dtype=torch.int64), mask=torch.ones(1, 2, 2))
    with pytest.raises(ValueError, match=r"\(B, Q, h, w\)"):
        losses.cross_entropy(torch.zeros(Q, 2, 2), torch.zeros(1, 2, 2, dtype=torch.int64))
