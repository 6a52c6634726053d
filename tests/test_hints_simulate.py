"""Simulated users (Zhang et al. 2017): determinism, patch means, the zero-hint share, the geometric
counts, and the fixed-seed evaluation points."""
import numpy as np
import pytest
import torch

from colorclass.hints.points import AB_SCALE, hint_maps, hints_to_planes
from colorclass.hints.simulate import (
    draw_counts,
    draw_patches,
    make_generator,
    patch_means,
    simulate_hint_planes,
    simulate_points,
)
from colorclass.support.errors import ColorclassError


def _true_ab(b=4, h=24, w=32, seed=0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 2, h, w, generator=g) * 200 - 100


def test_same_seed_same_hints_other_seed_other_hints():
    ab = _true_ab(8)
    one = simulate_hint_planes(ab, seed=3, zero_fraction=0.0)
    assert one.shape == (8, 3, 24, 32) and one.dtype == torch.float32
    assert torch.equal(one, simulate_hint_planes(ab, seed=3, zero_fraction=0.0))
    assert torch.equal(one, simulate_hint_planes(ab, generator=torch.Generator().manual_seed(3), zero_fraction=0.0))
    assert not torch.equal(one, simulate_hint_planes(ab, seed=4, zero_fraction=0.0))
    g = torch.Generator().manual_seed(3)
    first, second = simulate_hint_planes(ab, generator=g), simulate_hint_planes(ab, generator=g)
    assert not torch.equal(first, second)   # the generator moves on


def test_each_patch_reveals_the_mean_true_ab_over_the_whole_patch():
    ab = _true_ab(64, 20, 20, seed=1)
    planes = simulate_hint_planes(ab, seed=0, p=1.0, zero_fraction=0.0)   # p = 1: exactly one point each
    sizes = []
    for k in range(len(ab)):
        mask = planes[k, 2]
        assert set(mask.unique().tolist()) == {0.0, 1.0}
        rows, cols = mask.nonzero().unbind(1)
        y0, y1, x0, x1 = int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1
        assert y1 - y0 == x1 - x0 and mask.sum() == (y1 - y0) ** 2   # one full square
        sizes.append(y1 - y0)
        true_mean = ab[k, :, y0:y1, x0:x1].double().mean((1, 2))
        np.testing.assert_allclose(planes[k, :2, y0:y1, x0:x1].double().numpy() * AB_SCALE,
                                   true_mean[:, None, None].expand(2, y1 - y0, x1 - x0).numpy(), atol=1e-3)
        assert (planes[k, :2][:, mask == 0] == 0).all()
    assert min(sizes) == 1 and max(sizes) == 9


def test_patch_means_golden():
    ab = torch.arange(2 * 4 * 5, dtype=torch.float32).view(1, 2, 4, 5)
    patches = draw_patches(torch.tensor([3]), 4, 5, generator=torch.Generator().manual_seed(0), max_patch=3)
    means = patch_means(ab, patches)
    for i in range(3):
        y0, x0, s = int(patches.y0[i]), int(patches.x0[i]), int(patches.size[i])
        np.testing.assert_allclose(means[i].numpy(), ab[0, :, y0:y0 + s, x0:x0 + s].mean((1, 2)).numpy())
    whole = draw_patches(torch.tensor([1]), 3, 3, generator=torch.Generator().manual_seed(0), max_patch=64)
    assert int(whole.size[0]) <= 3   # patch side capped at the photo's shorter side


def test_zero_share_and_geometric_counts():
    g = torch.Generator().manual_seed(0)
    counts = draw_counts(40000, generator=g)
    zero_share = float((counts == 0).double().mean())
    assert abs(zero_share - 0.5) < 0.015
    nonzero = counts[counts > 0].double()
    assert abs(float(nonzero.mean()) - 8.0) < 0.3          # Geometric(1/8) on {1, 2, ...}: mean 8
    assert abs(float((nonzero == 1).double().mean()) - 1 / 8) < 0.01
    other = draw_counts(20000, generator=g, p=0.5, zero_fraction=0.2)
    assert abs(float((other == 0).double().mean()) - 0.2) < 0.015
    assert abs(float(other[other > 0].double().mean()) - 2.0) < 0.05


def test_share_of_hintless_samples_in_the_planes():
    planes = simulate_hint_planes(torch.zeros(2000, 2, 8, 8), seed=5)
    empty = (planes[:, 2].flatten(1).sum(1) == 0).double().mean()
    assert abs(float(empty) - 0.5) < 0.05
    assert torch.equal(simulate_hint_planes(_true_ab(3), seed=1, zero_fraction=1.0), torch.zeros(3, 3, 24, 32))


def test_patch_sizes_and_positions_are_uniform_and_inside():
    p = draw_patches(torch.tensor([30000]), 20, 30, generator=torch.Generator().manual_seed(2))
    sizes = np.bincount(p.size.numpy(), minlength=10)[1:]
    assert (abs(sizes / sizes.sum() - 1 / 9) < 0.012).all()
    assert (p.y0 >= 0).all() and (p.x0 >= 0).all()
    assert (p.y0 + p.size <= 20).all() and (p.x0 + p.size <= 30).all()
    assert int(p.y0.max()) == 19 and int(p.x0.max()) == 29   # size-1 patches reach the last row / column


def test_bad_settings_are_user_errors():
    with pytest.raises(ColorclassError, match="p=0"):
        draw_counts(3, p=0)
    with pytest.raises(ColorclassError, match="zero_fraction=1.5"):
        draw_counts(3, zero_fraction=1.5)
    with pytest.raises(ValueError, match=r"\(B, 2, H, W\)"):
        simulate_hint_planes(torch.zeros(2, 3, 4, 4))
    assert make_generator(None, None) is None


def test_simulate_points_fixed_seed_same_for_every_method():
    ab = _true_ab(1, 30, 40, seed=7)[0].numpy()
    hints = simulate_points(ab, 12, seed=42)
    assert len(hints) == 12 and hints == simulate_points(ab, 12, seed=42)
    other_ab = np.zeros_like(ab)
    assert [(h.x, h.y, h.size) for h in simulate_points(other_ab, 12, seed=42)] == [(h.x, h.y, h.size) for h in hints]
    assert [(h.x, h.y) for h in simulate_points(ab, 12, seed=43)] != [(h.x, h.y) for h in hints]
    for h in hints:   # hint_maps paints back exactly the sampled patch, with its mean
        _, mask = hint_maps([h], 30, 40)
        rows, cols = np.nonzero(mask[0])
        patch = ab[:, rows.min():rows.max() + 1, cols.min():cols.max() + 1]
        assert patch.shape[1] == patch.shape[2] == h.size and mask.sum() == h.size ** 2
        np.testing.assert_allclose(h.ab, patch.astype(np.float64).mean((1, 2)), atol=1e-3)
    assert hints_to_planes(hints, 30, 40).shape == (3, 30, 40)
    assert simulate_points(ab, 0, seed=1) == []
    with pytest.raises(ColorclassError, match="n_points=-1"):
        simulate_points(ab, -1, seed=1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_same_hints_on_the_gpu():
    ab = _true_ab(4)
    cpu = simulate_hint_planes(ab, seed=9)
    gpu = simulate_hint_planes(ab.cuda(), seed=9)
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-5, rtol=0)
