"""ColorizationTask: targets, losses at the logits' resolution, masks, metrics, inference and
learning on a synthetic shapes task. A small fake Bins (nearest bin in ab) stands in for
quantize; one test uses real k-means bins when quantize provides them."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import colorclass.training.losses as losses
from colorclass.color import rgb_to_lab
from colorclass.training.colorization_task import ColorizationTask

RED, BLUE, GRAY, BACKGROUND = (217, 61, 54), (67, 114, 222), (119, 119, 119), (198, 198, 198)


class FakeEncoder:
    """Nearest bins in Lab ab; soft weights exp(-d^2 / 2 sigma^2) over the n nearest."""

    def __init__(self, centers_ab, n, sigma):
        self.centers, self.n, self.sigma = torch.as_tensor(centers_ab), n, sigma

    def _dist(self, rgb_u8):
        ab = rgb_to_lab(rgb_u8.float() / 255)[:, 1:]
        return (ab[:, None] - self.centers[None, :, :, None, None]).square().sum(2)  # (B, Q, H, W)

    def hard(self, rgb_u8):
        return self._dist(rgb_u8).argmin(1)

    def soft(self, rgb_u8):
        d2, idx = self._dist(rgb_u8).topk(self.n, dim=1, largest=False)
        weight = torch.softmax(-d2 / (2 * self.sigma ** 2), dim=1)
        return idx, weight


class FakeBins:
    decode_space, centers_hc = "ab", None

    def __init__(self, rgb_colours, prior=None):
        rgb = torch.tensor(rgb_colours, dtype=torch.float32) / 255
        self.centers_ab = rgb_to_lab(rgb, dim=-1)[:, 1:].numpy()
        self.n_bins = len(rgb_colours)
        self.prior = prior

    def encoder(self, *, device="cpu", n=5, sigma=5.0):
        return FakeEncoder(self.centers_ab, min(n, self.n_bins), sigma)


class FixedOutput(nn.Module):
    """A 'model' returning a given tensor (for exact metric checks)."""

    def __init__(self, output):
        super().__init__()
        self.output = output

    def forward(self, x):
        return self.output


def _image(colour, size=8):
    return torch.tensor(colour, dtype=torch.uint8).view(3, 1, 1).expand(3, size, size).clone()


def test_prepare_gives_l_input_labels_soft_targets_and_mask():
    bins = FakeBins([GRAY, RED, BLUE])
    rgb = torch.stack([_image(RED), _image(BACKGROUND)])
    rgb[0, :, :, 4:] = torch.tensor(BLUE, dtype=torch.uint8).view(3, 1, 1)
    task = ColorizationTask(bins, loss="kl", n_neighbors=2)
    l_input, targets = task.prepare({"rgb": rgb})
    lab = rgb_to_lab(rgb.float() / 255)
    torch.testing.assert_close(l_input, lab[:, :1] / 50 - 1)
    assert l_input.shape == (2, 1, 8, 8) and l_input.min() >= -1 and l_input.max() <= 1
    assert targets["labels"][0, :, :4].eq(1).all() and targets["labels"][0, :, 4:].eq(2).all()
    assert targets["idx"].shape == targets["weight"].shape == (2, 2, 8, 8)
    torch.testing.assert_close(targets["weight"].sum(1), torch.ones(2, 8, 8))
    assert targets["mask"][0].all() and not targets["mask"][1].any()  # second image is gray
    torch.testing.assert_close(targets["ab"], lab[:, 1:])


def test_low_resolution_targets_and_lowpass_pooling_of_logits():
    bins = FakeBins([GRAY, RED, BLUE])
    gen = torch.Generator().manual_seed(0)
    rgb = torch.randint(0, 256, (2, 3, 16, 16), generator=gen, dtype=torch.uint8)
    task = ColorizationTask(bins, loss="ce", output_stride=2, lowpass=2)
    l_input, targets = task.prepare({"rgb": rgb})
    assert l_input.shape == (2, 1, 16, 16) and targets["labels"].shape == (2, 4, 4)
    small = F.interpolate(rgb.float(), size=(4, 4), mode="area").round().byte()
    torch.testing.assert_close(targets["labels"], FakeEncoder(bins.centers_ab, 1, 1).hard(small))
    logits = torch.randn(2, 3, 8, 8, generator=gen)
    expected = losses.cross_entropy(F.avg_pool2d(logits, 2), targets["labels"], mask=targets["mask"])
    assert task.loss_from_output(logits, targets).item() == pytest.approx(expected.item(), rel=1e-6)
    with pytest.raises(ValueError, match="output_stride"):
        task.loss_from_output(torch.randn(2, 3, 16, 16), targets)
    with pytest.raises(ValueError, match="divisible by .* = 4"):
        task.prepare({"rgb": rgb[:, :, :14, :14]})


def test_kl_loss_uses_encoder_soft_targets_and_gray_images_are_ignored():
    bins = FakeBins([GRAY, RED, BLUE])
    rgb = torch.stack([_image(RED), _image(BACKGROUND)])
    task = ColorizationTask(bins, loss="kl", n_neighbors=3, sigma=20.0)
    logits = torch.randn(2, 3, 8, 8, requires_grad=True)
    loss, logs = task.training_loss(FixedOutput(logits), {"rgb": rgb})
    _, t = task.prepare({"rgb": rgb[:1]})
    expected = losses.kl_divergence(logits[:1], t["idx"], t["weight"])
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6) and logs["loss"] == pytest.approx(loss.item())
    loss.backward()
    assert logits.grad[1].abs().sum() == 0 and logits.grad[0].abs().sum() > 0
    gray_only, _ = task.training_loss(FixedOutput(logits[1:]), {"rgb": rgb[1:]})
    assert gray_only.item() == 0.0


def test_rebalancing_requires_a_prior():
    with pytest.raises(ValueError, match="prior"):
        ColorizationTask(FakeBins([GRAY, RED]), rebalance=True)
    with pytest.raises(ValueError, match="'l1'"):
        ColorizationTask(FakeBins([GRAY, RED]), loss="l1")


def test_rebalancing_uses_quantize_weights():
    quantize = pytest.importorskip("quantize")
    if not hasattr(quantize, "rebalance_weights"):
        pytest.skip("quantize.rebalance_weights not available yet")
    prior = np.array([0.8, 0.15, 0.05])
    task = ColorizationTask(FakeBins([GRAY, RED, BLUE], prior=prior), rebalance=True, lam=0.5)
    weights = quantize.rebalance_weights(prior, lam=0.5)
    torch.testing.assert_close(task.class_weights, torch.as_tensor(weights, dtype=torch.float32))
    rgb = _image(RED)[None]
    logits = torch.randn(1, 3, 8, 8)
    plain = ColorizationTask(FakeBins([GRAY, RED, BLUE]))
    _, t = plain.prepare({"rgb": rgb})
    assert task.loss_from_output(logits, t).item() == pytest.approx(
        weights[1] * plain.loss_from_output(logits, t).item(), rel=1e-5)


def test_validation_metrics_on_a_constructed_prediction():
    bins = FakeBins([GRAY, RED, BLUE])
    rgb = _image(RED, 4)[None].repeat(2, 1, 1, 1)
    rgb[:, :, 2:] = torch.tensor(BLUE, dtype=torch.uint8).view(3, 1, 1)  # targets: rows 0-1 red, 2-3 blue
    predicted = torch.ones(2, 4, 4, dtype=torch.int64)  # everything red
    predicted[:, 3] = 2  # last row blue
    logits = F.one_hot(predicted, 3).permute(0, 3, 1, 2).float() * 50
    task = ColorizationTask(bins)
    sums = task.validation_stats(FixedOutput(logits), {"rgb": rgb})
    more = task.validation_stats(FixedOutput(logits[:1]), {"rgb": rgb[:1]})
    total = {k: sums[k] + more[k] for k in sums}  # aggregated by addition
    result = task.finalize_stats(total)
    assert result["pixel_acc"] == pytest.approx(12 / 16)
    # red: I = 8, U = 12; blue: I = 4, U = 8; gray absent from both -> not counted.
    assert result["bin_miou"] == pytest.approx((8 / 12 + 4 / 8) / 2)
    assert result["val_loss"] == pytest.approx(50 / 4, rel=1e-4)  # wrong pixels cost 50 nats
    ab_error = np.linalg.norm(bins.centers_ab[1] - bins.centers_ab[2])
    assert result["ab_rmse"] == pytest.approx(ab_error / 2, rel=1e-3)


def test_mse_task_regresses_ab_and_reports_rmse():
    rgb = _image(RED)[None]
    task = ColorizationTask(None, loss="mse")
    lab = rgb_to_lab(rgb.float() / 255)
    prediction = lab[:, 1:] + torch.tensor([3.0, 4.0]).view(1, 2, 1, 1)  # error of 5 Lab units
    stats = task.validation_stats(FixedOutput(prediction), {"rgb": rgb})
    result = task.finalize_stats(stats)
    assert result["ab_rmse"] == pytest.approx(5.0, rel=1e-4)
    assert result["val_loss"] == pytest.approx((9 + 16) / 2 / 100 ** 2, rel=1e-4)
    assert set(result) == {"val_loss", "ab_rmse"}
    out, _, _ = task.predictor(FixedOutput(prediction)).colorize_tensor(rgb)
    torch.testing.assert_close(task.predictor(FixedOutput(prediction)).predict(rgb).output, prediction)


def test_predict_rgb_keeps_lightness_and_decodes_the_bins():
    bins = FakeBins([GRAY, RED, BLUE])
    logits = torch.zeros(1, 3, 4, 4)
    logits[:, 1] = 30.0  # confidently red, at 1/2 resolution
    task = ColorizationTask(bins, output_stride=2, method="mode")
    rgb = _image(RED)[None]
    out, _, _ = task.predictor(FixedOutput(logits)).colorize_tensor(rgb)
    assert out.shape == (1, 3, 8, 8)
    torch.testing.assert_close(out * 255, rgb.float(), atol=1.0, rtol=0)


def _shapes_batch(gen, n, size=24):
    """Discs are red, squares blue (same Lab L = 50) on a light gray background (L = 80)."""
    rgb = torch.tensor(BACKGROUND, dtype=torch.uint8).view(1, 3, 1, 1).repeat(n, 1, size, size)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    for i in range(n):
        cy, cx = torch.randint(7, size - 7, (2,), generator=gen).tolist()
        if torch.rand(1, generator=gen).item() < 0.5:
            shape, colour = (yy - cy) ** 2 + (xx - cx) ** 2 <= 36, RED
        else:
            shape, colour = ((yy - cy).abs() <= 5) & ((xx - cx).abs() <= 5), BLUE
        rgb[i][:, shape] = torch.tensor(colour, dtype=torch.uint8).view(3, 1)
    return {"rgb": rgb}


class ShapeNet(nn.Module):
    """Dilated convs (receptive field 15) plus a global max-pooled context feature."""

    def __init__(self, q=3, c=16):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, c, 3, padding=1), nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=2, dilation=2), nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=4, dilation=4), nn.ReLU(),
        )
        self.head = nn.Conv2d(2 * c, q, 1)

    def forward(self, x):
        features = self.body(x)
        context = features.amax(dim=(2, 3), keepdim=True).expand_as(features)
        return self.head(torch.cat([features, context], dim=1))


@pytest.mark.parametrize("loss", ["ce", "kl"])
def test_learning_colour_from_shape(loss):
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    task = ColorizationTask(FakeBins([BACKGROUND, RED, BLUE]), loss=loss, n_neighbors=2, sigma=10.0)
    model = ShapeNet()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    val = _shapes_batch(torch.Generator().manual_seed(99), 32)
    first = task.finalize_stats(task.validation_stats(model, val))
    for _ in range(100):
        loss_value, _ = task.training_loss(model, _shapes_batch(gen, 16))
        optimizer.zero_grad()
        loss_value.backward()
        optimizer.step()
    last = task.finalize_stats(task.validation_stats(model, val))
    assert last["val_loss"] < 0.2 * first["val_loss"]
    # Shapes cover ~20% of the pixels: background-only prediction scores ~0.8 accuracy, bin_miou ~0.27.
    assert last["pixel_acc"] > 0.97 and last["bin_miou"] > 0.85
    with torch.no_grad():
        l_input, targets = task.prepare(val)
        object_pixels = targets["labels"] > 0
        hits = model(l_input).argmax(1)[object_pixels] == targets["labels"][object_pixels]
    assert hits.float().mean() > 0.9  # red vs blue decided by shape alone (chance 0.5)


def _random_pixels(seed, n=3000):
    return np.random.default_rng(seed).integers(0, 256, size=(n, 3), dtype=np.uint8)


def test_real_kmeans_bins_with_prior_and_rebalancing():
    quantize = pytest.importorskip("quantize")
    bins = quantize.KMeansBins(k=8, space="rgb", seed=0).fit(_random_pixels(0))
    bins.prior = quantize.compute_prior(bins, _random_pixels(1))
    rgb = torch.from_numpy(np.random.default_rng(2).integers(0, 256, size=(2, 3, 8, 8), dtype=np.uint8))
    flat = rgb.permute(0, 2, 3, 1).reshape(-1, 3).numpy().astype(np.float32) / 255
    exact = torch.from_numpy(bins.encode_hard_exact(flat)).view(2, 8, 8)
    for loss in ("ce", "kl"):
        task = ColorizationTask(bins, loss=loss, n_neighbors=3, rebalance=True, lam=0.5)
        _, targets = task.prepare({"rgb": rgb})
        assert (targets["labels"] == exact).float().mean() > 0.95  # LUT vs exact nearest bin
        logits = torch.randn(2, bins.n_bins, 8, 8, requires_grad=True)
        value, _ = task.training_loss(FixedOutput(logits), {"rgb": rgb})
        value.backward()
        assert math.isfinite(value.item()) and logits.grad.abs().sum() > 0
        result = task.finalize_stats(task.validation_stats(FixedOutput(logits.detach()), {"rgb": rgb}))
        assert 0 <= result["pixel_acc"] <= 1 and 0 <= result["bin_miou"] <= 1
    weights = torch.as_tensor(quantize.rebalance_weights(bins.prior, lam=0.5), dtype=torch.float32)
    torch.testing.assert_close(task.class_weights, weights)


def test_real_gmm_bins_decode_in_hue_chroma():
    quantize = pytest.importorskip("quantize")
    bins = quantize.GMMBins(k=6, seed=0).fit(_random_pixels(3))
    assert bins.decode_space == "hc"
    task = ColorizationTask(bins, loss="kl", n_neighbors=3)
    rgb = torch.from_numpy(np.random.default_rng(4).integers(0, 256, size=(1, 3, 8, 8), dtype=np.uint8))
    _, targets = task.prepare({"rgb": rgb})
    torch.testing.assert_close(targets["weight"].sum(1), torch.ones(1, 8, 8))
    # A confident one-bin prediction decodes to that bin's hue and chroma at each pixel's lightness.
    q = 2
    logits = torch.full((1, bins.n_bins, 8, 8), -30.0)
    logits[:, q] = 30.0
    out, _, _ = task.predictor(FixedOutput(logits)).colorize_tensor(rgb)
    hue, chroma = bins.centers_hc[q]
    from colorclass.color import rgb_to_hcl
    hcl = rgb_to_hcl(out)
    reachable = (chroma / 2 < hcl[:, 2]) & (hcl[:, 2] < 1 - chroma / 2)
    assert reachable.float().mean() > 0.5
    torch.testing.assert_close(hcl[:, 1][reachable], torch.full_like(hcl[:, 1][reachable], float(chroma)),
                               atol=0.02, rtol=0)
    hue_error = torch.remainder(hcl[:, 0][reachable] - float(hue) + math.pi, 2 * math.pi) - math.pi
    assert hue_error.abs().max() < 0.05
    result = task.finalize_stats(task.validation_stats(FixedOutput(logits), {"rgb": rgb}))
    assert math.isfinite(result["ab_rmse"]) and math.isfinite(result["val_loss"])
