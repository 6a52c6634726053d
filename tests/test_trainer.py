"""The generic trainer on a toy (colour-free) task: resume, crash safety, NaN stop, logs, DDP."""
import csv
import math
import os
import signal
from pathlib import Path

import pytest
import torch
from torch import nn

from colorclass.runs.experiment import load_config
import colorclass.support.files as files
from colorclass.engine.checkpoint import load_checkpoint
from colorclass.engine.plots import plot_log
from colorclass.engine.protocol import Task
from colorclass.engine.trainer import NonFiniteLossError, Trainer
from colorclass.training.train_run import engine_config_from, write_run_records


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
    """An engine Trainer for the toy task, with the runner's run records (as run_training does)."""
    cfg = config(tmp, *extra)
    t = Trainer(toy_model(dropout=dropout), task or ToyTask(), ToyData(), ToyData(16, seed=1),
                engine_config_from(cfg), run_dir=tmp, callbacks=callbacks, resume=resume)
    if t.is_main_process:
        write_run_records(Path(tmp), cfg, resume=resume, device=t.device, world=t.world)
    return t


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
    monkeypatch.setattr(files.os, "replace", crash)
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


class MetricTask(ToyTask):
    """Declares task metric columns (like ColorizationTask) that its validation leaves empty."""

    metric_names = ("pixel_acc", "miou")


def test_log_csv_columns_and_plot(tmp_path):
    assert isinstance(MetricTask(), Task)
    summary = trainer(tmp_path, task=MetricTask()).fit()
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


class Hook:
    """Callback running ``fn(trainer)`` at one iteration."""

    def __init__(self, iteration, fn):
        self.iteration, self.fn = iteration, fn

    def on_train_start(self, t): pass
    def on_validation_end(self, t, m): pass
    def on_epoch_end(self, t, m): pass
    def on_train_end(self, t, s): pass

    def on_iteration_end(self, t, logs):
        if t.iteration == self.iteration:
            self.fn(t)


def _weights_equal(a, b):
    return all(torch.equal(x, b[k]) for k, x in a.items()) and a.keys() == b.keys()


@pytest.mark.parametrize("how", ["request_stop", "ctrl_c"])
def test_clean_stop_checkpoints_there_and_resumes_exactly(tmp_path, how):
    """No periodic checkpoints: the stop itself writes the mid-epoch checkpoint (iteration 8 of
    18; epoch 2, batch 2), and the resumed run ends bitwise equal to an uninterrupted one."""
    full = trainer(tmp_path / "full")
    full.fit()
    stop = (lambda t: t.request_stop("test")) if how == "request_stop" else \
        (lambda t: os.kill(os.getpid(), signal.SIGINT))
    summary = trainer(tmp_path / "cut", callbacks=[Hook(8, stop)]).fit()
    assert summary["stopped_by"] == ("test" if how == "request_stop" else "interrupted")
    _, state = load_checkpoint(tmp_path / "cut" / "checkpoint.safetensors")
    assert (state["iteration"], state["epoch"], state["batch_in_epoch"]) == (8, 1, 2)
    resumed = trainer(tmp_path / "cut", resume=True)
    resumed.fit()
    assert resumed.iteration == 18
    assert _weights_equal(full.raw_model.state_dict(), resumed.raw_model.state_dict())


def _log_rows(folder):
    with open(folder / "log.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_resumed_log_has_no_duplicate_rows(tmp_path):
    """A crash after the checkpoint at iteration 10 (rows 11, 12 already logged): the resumed
    run drops those rows and logs them again, so log.csv equals an uninterrupted run's."""
    full = trainer(tmp_path / "full", "train.checkpoint_every=5")
    full.fit()
    with pytest.raises(KeyboardInterrupt):
        trainer(tmp_path / "cut", "train.checkpoint_every=5", callbacks=[StopAt(12)]).fit()
    trainer(tmp_path / "cut", "train.checkpoint_every=5", resume=True).fit()
    stable = ("epoch", "iteration", "train_loss", "val_loss", "lr")
    cut = [[r[k] for k in stable] for r in _log_rows(tmp_path / "cut")]
    assert cut == [[r[k] for k in stable] for r in _log_rows(tmp_path / "full")]
    assert [r[0] for r in cut if r[3]] == ["1", "2", "3"]   # validation rows name the finished epoch


def test_time_budget_stops_validates_and_checkpoints(tmp_path):
    summary = trainer(tmp_path, "train.max_minutes=1e-9").fit()
    assert summary["stopped_by"] == "time budget" and summary["iterations"] == 1
    _, state = load_checkpoint(tmp_path / "checkpoint.safetensors")
    assert state["iteration"] == 1 and not state["finished"]
    rows = _log_rows(tmp_path)
    assert rows[-1]["val_loss"] and (tmp_path / "best.safetensors").is_file()


class ScoreTask(ToyTask):
    """Adds a higher-is-better metric."""

    def finalize_stats(self, sums):
        m = super().finalize_stats(sums)
        return {**m, "score": -m["val_loss"]}


def test_plateau_schedule_follows_the_metric_direction(tmp_path):
    """Validation loss falls every epoch, so a rising score must not count as a plateau."""
    t = trainer(tmp_path, "optim.schedule=plateau", "optim.plateau_patience=0", "optim.lr=0.002",
                "train.early_stop_metric=score", "train.early_stop_mode=max", "train.epochs=4",
                task=ScoreTask(), dropout=0.0)
    t.fit()
    scores = [-float(r["val_loss"]) for r in _log_rows(tmp_path) if r["val_loss"]]
    assert scores == sorted(scores)                      # it kept improving ...
    assert t.current_lr() == pytest.approx(0.002)        # ... so the lr was never cut
    assert t.best == pytest.approx(scores[-1], rel=1e-5)


def test_unknown_early_stop_metric_is_named(tmp_path):
    with pytest.raises(ValueError, match=r"'miou'.*\['val_loss'\]"):
        trainer(tmp_path, "train.early_stop_metric=miou").fit()


def test_every_n_fires_on_multiples_and_epoch_ends_once(tmp_path):
    from colorclass.engine.callbacks import EveryN

    fired = []
    trainer(tmp_path, callbacks=[EveryN(lambda t, when: fired.append((t.iteration, when)), every=4)]).fit()
    # 6 iterations per epoch: multiples of 4, and epoch ends (12 is both: fires once)
    assert fired == [(4, "iteration"), (6, "epoch"), (8, "iteration"), (12, "iteration"),
                     (16, "iteration"), (18, "epoch")]
    with pytest.raises(TypeError, match="fn"):
        EveryN(every=3)
