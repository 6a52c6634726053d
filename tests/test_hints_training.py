"""Training with simulated hints (issue 19): model.hints gives a 4-plane network, the task joins
seeded simulated hint planes to the lightness input, and a tiny hint-aware U-Net learns to follow a
hint on a two-colour problem that lightness alone cannot solve."""
from pathlib import Path

import numpy as np
import torch

import quantize
from colorclass.color import lab_to_rgb, rgb_to_lab
from colorclass.hints.points import Hint
from colorclass.inference.predictor import Predictor
from colorclass.models import build_model
from colorclass.runs.experiment import load_config
from colorclass.runs.loading import model_from_config
from colorclass.training.colorization_task import ColorizationTask, hint_step_seed

BINS = Path(__file__).resolve().parents[1] / "colorclass" / "builtin" / "general" / "bins.npz"
COLOURS = ((50.0, 30.0), (-40.0, 40.0))   # same lightness, opposite hues: only a hint can tell them apart


def two_colour_batch(n: int, seed: int, size: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, 3, size, size) uint8 photos, each one colour of COLOURS over a textured lightness; labels (n,)."""
    g = torch.Generator().manual_seed(seed)
    which = torch.randint(0, 2, (n,), generator=g)
    lab = torch.empty(n, 3, size, size)
    lab[:, 0] = 55 + 8 * torch.rand(n, size, size, generator=g)
    ab = torch.tensor(COLOURS)[which]
    lab[:, 1:] = ab[:, :, None, None]
    rgb = (lab_to_rgb(lab) * 255).round().clamp(0, 255).to(torch.uint8)
    return rgb, which


def test_model_hints_builds_a_four_plane_network():
    cfg = load_config(None, ["model.hints=true", "model.width=8"])
    assert cfg.model.hints and model_from_config(cfg, 313).in_channels == 4
    assert model_from_config(load_config(None, ["model.width=8"]), 313).in_channels == 1


def test_prepare_joins_seeded_hint_planes_at_the_input_resolution():
    bins = quantize.load_bins(BINS)
    task = ColorizationTask(bins, hints=True, hint_seed=7, hint_zero_fraction=0.0)
    rgb, _ = two_colour_batch(4, seed=0)
    x, targets = task.prepare({"rgb": rgb}, hint_seed=hint_step_seed(7, 0))
    assert x.shape == (4, 4, 16, 16) and targets["mask"].shape == (4, 16, 16)
    assert (x[:, 3].flatten(1).amax(1) == 1).all()   # zero_fraction 0: every crop has a hint
    again, _ = task.prepare({"rgb": rgb}, hint_seed=hint_step_seed(7, 0))
    assert torch.equal(x, again)
    assert not torch.equal(x, task.prepare({"rgb": rgb}, hint_seed=hint_step_seed(7, 1))[0])
    val_one, val_two = task.prepare({"rgb": rgb})[0], task.prepare({"rgb": rgb})[0]
    assert torch.equal(val_one, val_two)             # validation: a fixed seed
    plain = ColorizationTask(bins).prepare({"rgb": rgb})[0]
    assert plain.shape == (4, 1, 16, 16) and torch.equal(plain[:, 0], x[:, 0])


def test_training_loss_counts_iterations_so_the_run_seed_fixes_the_hints():
    bins = two_colour_bins()
    torch.manual_seed(0)
    model = build_model("unet", out_channels=bins.n_bins, width=8, in_channels=4)
    rgb, _ = two_colour_batch(2, seed=1)
    losses = []
    for _ in range(2):
        task = ColorizationTask(bins, hints=True, hint_seed=3)
        losses.append([float(task.training_loss(model, {"rgb": rgb})[0].detach()) for _ in range(3)])
        assert task.iteration == 3
    assert losses[0] == losses[1]


def two_colour_bins():
    """A coarse ab grid (40 bins) fitted on the problem's own pixels: a fast 40-way classifier."""
    bins = quantize.ABGridBins(step=30.0)
    rgb, _ = two_colour_batch(64, seed=0)
    return bins.fit(rgb.permute(0, 2, 3, 1).reshape(-1, 3).numpy())


def train_two_colour_model(bins, *, steps: int = 150, width: int = 8, seed: int = 0) -> torch.nn.Module:
    """A hint-aware U-Net trained ``steps`` Adam steps (batches of 8) on the two-colour problem (eval mode)."""
    torch.manual_seed(seed)
    model = build_model("unet", out_channels=bins.n_bins, width=width, in_channels=4)
    task = ColorizationTask(bins, hints=True, hint_seed=seed, hint_zero_fraction=0.2)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for step in range(steps):
        rgb, _ = two_colour_batch(8, seed=100 + step)
        loss, _ = task.training_loss(model, {"rgb": rgb})
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def test_a_hint_aware_unet_learns_to_follow_a_hint():
    bins = two_colour_bins()
    predictor = Predictor.for_model(train_two_colour_model(bins), bins, method="mean")
    rgb, _ = two_colour_batch(16, seed=9)
    true_ab = rgb_to_lab(rgb.float() / 255)[:, 1:]
    err_hint, err_none = [], []
    for k in range(len(rgb)):
        truth = true_ab[k, :, 5:12, 5:12]   # the hinted region and its surroundings
        hint = [Hint(x=8, y=8, ab=tuple(true_ab[k, :, 8, 8].tolist()), size=3)]
        for hints, errors in ((hint, err_hint), (None, err_none)):
            ab = predictor.ab(predictor.predict(rgb[k:k + 1], hints=hints))[0]   # (2, 16, 16)
            errors.append(float((ab[:, 5:12, 5:12] - truth).norm(dim=0).mean()))
    assert np.mean(err_hint) < 15 and np.mean(err_hint) < 0.4 * np.mean(err_none), (err_hint, err_none)
