"""The generic trainer on a toy (colour-free) task: resume, crash safety, NaN stop, logs, DDP."""
import csv
import math
import os
import socket

import pytest
import torch
from torch import nn

from colorclass import checkpoint
from colorclass.checkpoint import load_checkpoint
from colorclass.config import load_config
from colorclass.plots import plot_log
from colorclass.trainer import NonFiniteLossError, Trainer


class ToyData(torch.utils.data.Dataset):
    def __init__(self, n=48, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, 6, generator=g)
        self.y = self.x @ torch.arange(1.0, 7.0) + 0.1 * torch.randn(n, generator=g)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return {"x": self.x[i], "y": self.y[i]}


class ToyTask:
    """Regression with a dropout net; ``nan_at`` makes the loss NaN at that call."""

    def __init__(self, nan_at=None):
        self.calls, self.nan_at = 0, nan_at

    def training_loss(self, model, batch):
        self.calls += 1
        loss = (model(batch["x"]).squeeze(-1) - batch["y"]).square().mean()
        if self.nan_at is not None and self.calls >= self.nan_at:
            loss = loss * float("nan")
        return loss, {}

    def validation_stats(self, model, batch):
        err = (model(batch["x"]).squeeze(-1) - batch["y"]).square()
        return {"loss_sum": float(err.sum()), "n": float(len(err))}

    def finalize_stats(self, sums):
        return {"val_loss": sums["loss_sum"] / sums["n"]}


def toy_model(seed=0, dropout=0.2):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 1))


def config(tmp, *extra):
    return load_config(None, [f"out={tmp}", "train.epochs=3", "train.batch_size=8", "optim.lr=0.01",
                              "train.log_every=1", "optim.schedule=cosine", *extra])


def trainer(tmp, *extra, task=None, callbacks=(), resume=False, dropout=0.2):
    cfg = config(tmp, *extra)
    return Trainer(toy_model(dropout=dropout), task or ToyTask(), ToyData(), ToyData(16, seed=1), cfg, run_dir=tmp,
                   callbacks=callbacks, resume=resume)


class StopAt:
    """A callback that interrupts training at a given iteration (like Ctrl-C or a crash)."""

    def __init__(self, iteration):
        self.iteration = iteration

    def on_train_start(self, t): pass
    def on_validation_end(self, t, m): pass
    def on_epoch_end(self, t, m): pass
    def on_train_end(self, t, s): pass

    def on_iteration_end(self, t, logs):
        if t.iteration == self.iteration:
            raise KeyboardInterrupt


@pytest.mark.parametrize("stop_at", [5, 12])  # mid-epoch and right after an epoch end
def test_resume_equals_uninterrupted(tmp_path, stop_at):
    full = trainer(tmp_path / "full", "train.checkpoint_every=2")
    full.fit()
    with pytest.raises(KeyboardInterrupt):
        trainer(tmp_path / "cut", "train.checkpoint_every=2", callbacks=[StopAt(stop_at)]).fit()
    resumed = trainer(tmp_path / "cut", "train.checkpoint_every=2", resume=True)
    assert resumed.iteration < stop_at
    resumed.fit()
    assert resumed.iteration == full.iteration == 18
    for (k, a), b in zip(full.raw_model.state_dict().items(), resumed.raw_model.state_dict().values()):
        assert torch.equal(a, b), k


def test_crash_while_writing_checkpoint_keeps_previous(tmp_path, monkeypatch):
    t = trainer(tmp_path, "train.epochs=1")
    t.fit()
    before, _ = load_checkpoint(tmp_path / "checkpoint.safetensors")

    def crash(src, dst):
        raise OSError("disk full (simulated)")
    monkeypatch.setattr(checkpoint.os, "replace", crash)
    with torch.no_grad():
        for p in t.raw_model.parameters():
            p.add_(1.0)
    with pytest.raises(OSError, match="simulated"):
        t._save()
    after, state = load_checkpoint(tmp_path / "checkpoint.safetensors")
    assert state["iteration"] == 6
    for k in before:
        assert torch.equal(before[k], after[k])


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    with pytest.raises(NonFiniteLossError, match="nan"):
        trainer(tmp_path, task=ToyTask(nan_at=9)).fit()
    weights, state = load_checkpoint(tmp_path / "checkpoint.safetensors")
    assert state["epoch"] == 1 and state["iteration"] == 6
    assert all(torch.isfinite(w).all() for w in weights.values())


def test_log_csv_columns_and_plot(tmp_path):
    summary = trainer(tmp_path).fit()
    with open(tmp_path / "log.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[:9] == ["epoch", "iteration", "train_loss", "val_loss", "pixel_acc", "miou",
                                 "lr", "images_per_s", "elapsed_s"]
    val = [float(r["val_loss"]) for r in rows if r["val_loss"]]
    assert len(val) == 3 and val[-1] < val[0]          # it learned
    assert math.isclose(summary["best_value"], min(val), rel_tol=1e-5)
    for name in ("config.toml", "command.txt", "meta.json", "model.safetensors", "best.safetensors"):
        assert (tmp_path / name).is_file()
    (tmp_path / "loss.png").unlink()
    assert plot_log(tmp_path).stat().st_size > 1000


def test_overfit_batches_drives_loss_down(tmp_path):
    t = trainer(tmp_path, "train.overfit_batches=1", "train.epochs=150", "optim.schedule=none",
                "optim.lr=0.03", dropout=0.0)
    t.fit()
    data = ToyData()
    x, y = data.x[:8], data.y[:8]
    t.raw_model.eval()
    with torch.no_grad():
        assert float((t.raw_model(x).squeeze(-1) - y).square().mean()) < 0.05


def test_early_stopping_on_plateau(tmp_path):
    t = trainer(tmp_path, "train.epochs=50", "optim.lr=1e-9", "optim.schedule=none",
                "train.early_stop_patience=2")
    summary = t.fit()
    assert summary["stopped_by"] == "early stopping" and t.epoch < 50


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank, world, port, out):
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    t = trainer(out, "train.batch_size=4", "train.device=cpu", dropout=0.0)
    t.fit()
    torch.distributed.destroy_process_group()


def test_ddp_two_processes_match_single_process(tmp_path):
    """2 gloo processes with batch 4 each == 1 process with batch 8 (tolerance 1e-5; no dropout,
    whose masks depend on how the batch is split)."""
    import torch.multiprocessing as mp

    single = trainer(tmp_path / "single", "train.batch_size=8", "train.device=cpu", dropout=0.0)
    single.fit()
    mp.spawn(_ddp_worker, args=(2, _free_port(), tmp_path / "ddp"), nprocs=2, join=True)
    ddp_weights, _ = load_checkpoint(tmp_path / "ddp" / "checkpoint.safetensors")
    for k, v in single.raw_model.state_dict().items():
        assert torch.allclose(v, ddp_weights[k], atol=1e-5), k

    def val_losses(folder):
        with open(folder / "log.csv", newline="") as f:
            return [float(r["val_loss"]) for r in csv.DictReader(f) if r["val_loss"]]
    assert val_losses(tmp_path / "ddp") == pytest.approx(val_losses(tmp_path / "single"), rel=1e-5)
