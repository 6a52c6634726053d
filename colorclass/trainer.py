"""The trainer: a generic optimisation loop that knows nothing about colour.

    model + task (loss and metrics) + datasets + config -> *Trainer.fit()* -> run folder

The ``task`` implements the Trainer protocol of docs/ARCHITECTURE.md (``training_loss``,
``validation_stats``, ``finalize_stats``). The trainer owns devices (CUDA when present, AMP,
channels-last, ``torch.compile``), DDP under ``torchrun``, the data order (a function of
(seed, epoch) only, so resumed runs are exact), schedules, early stopping, time budgets,
crash-safe checkpoints and callbacks.

``train.batch_size`` is per process: under DDP the global batch is ``batch_size * world``.
A run stops cleanly (checkpoint at that iteration, then the summary) on the time budget,
``trainer.request_stop(reason)`` from a callback, or the first Ctrl-C; every rank agrees on
the iteration. A NaN/inf loss raises :class:`NonFiniteLossError` before the optimiser step,
leaving the last checkpoint as it was. Only rank 0 runs callbacks and writes files.
"""
from __future__ import annotations

import json
import math
import os
import shlex
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader
from tqdm import tqdm

from .callbacks import Callback, CSVLogger, PlotCallback, TensorBoardCallback
from .checkpoint import capture_rng, load_checkpoint, restore_rng, save_checkpoint, save_weights
from .config import ExperimentConfig, config_to_toml
from .distributed import ShardedEpochSampler, agree, all_reduce_sums, init_distributed
from .training_utils import build_optimizer, build_scheduler, collate_sum, git_revision, improved, seed_everything

__all__ = ["Trainer", "NonFiniteLossError"]


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is left as it was."""


class Trainer:
    """Train ``model`` on ``task``; see the module docstring. ``resume=True`` continues from
    ``run_dir/checkpoint.safetensors``."""

    def __init__(self, model: torch.nn.Module, task, train_set, val_set, config: ExperimentConfig, *,
                 run_dir: str | Path, callbacks: Sequence[Callback] = (), command: str = "",
                 resume: bool = False, collate_fn=None) -> None:
        self.cfg, self.task, self.run_dir = config, task, Path(run_dir)
        self.train_set, self.val_set, self.collate_fn = train_set, val_set, collate_fn
        if not resume and (self.run_dir / "checkpoint.safetensors").is_file():
            raise ValueError(f"run folder {str(self.run_dir)!r} already holds a run; continue it with "
                             f"--resume {self.run_dir} or choose another --out")
        self.rank, self.world, self._owns_group = init_distributed(self._device_type())
        self.is_main_process = self.rank == 0
        self.device = self._device()
        seed_everything(config.train.seed + self.rank)  # independent dropout streams per rank
        self.raw_model = model.to(self.device)
        if config.train.channels_last:
            self.raw_model = self.raw_model.to(memory_format=torch.channels_last)
        self.model = self._wrap(self.raw_model)
        self.optimizer = build_optimizer(self.raw_model.parameters(), config.optim)
        self.scheduler = self._scheduler()
        self.amp_dtype = self._amp_dtype()
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.epoch, self.iteration, self.batch_in_epoch = 0, 0, 0
        self.best: float | None = None
        self.bad_epochs, self.images_seen, self.finished = 0, 0, False
        self.stop_reason: str | None = None
        self.resumed = resume
        self._start = time.time()
        self._elapsed_before = 0.0
        self._rate = (time.time(), 0)
        self.callbacks: list[Callback] = []
        if self.is_main_process:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self.callbacks = [CSVLogger(self.run_dir, log_every=config.train.log_every),
                              PlotCallback(self.run_dir), *callbacks]
            if TensorBoardCallback.available():
                self.callbacks.append(TensorBoardCallback(self.run_dir))
            self._write_run_records(command, resume)
        if resume:
            self._restore()

    # ------------------------------------------------------------------ setup
    def _device_type(self) -> str:
        name = self.cfg.train.device
        if name == "cuda" and not torch.cuda.is_available():
            raise ValueError("train.device 'cuda' but no CUDA GPU is available; use 'auto' or 'cpu'")
        return "cpu" if name == "cpu" or not torch.cuda.is_available() else "cuda"

    def _device(self) -> torch.device:
        if self._device_type() == "cpu":
            return torch.device("cpu")
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        torch.backends.cudnn.benchmark = not self.cfg.train.deterministic
        torch.backends.cudnn.deterministic = self.cfg.train.deterministic
        return torch.device("cuda", local)

    def _scheduler(self):
        # "plateau" watches the early-stopping metric, in its direction
        return build_scheduler(self.optimizer, self.cfg.optim, epochs=self.cfg.train.epochs,
                               mode=self.cfg.train.early_stop_mode)

    def _amp_dtype(self) -> torch.dtype | None:
        amp = self.cfg.train.amp
        if self.device.type != "cuda" or amp == "off":
            return None
        if amp == "fp16" or (amp == "auto" and not torch.cuda.is_bf16_supported()):
            return torch.float16
        return torch.bfloat16

    def _wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        if self.cfg.train.compile:
            model = torch.compile(model)
        if self.world > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            if self.cfg.train.sync_bn and self.device.type == "cuda":
                model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
            model = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)
        return model

    def _write_run_records(self, command: str, resume: bool) -> None:
        from . import __version__

        (self.run_dir / "config.toml").write_text(config_to_toml(self.cfg))
        with open(self.run_dir / "command.txt", "a" if resume else "w") as f:
            f.write((command or shlex.join(sys.argv)) + "\n")
        session = {"colorclass_version": __version__, "git_revision": git_revision(),
                   "torch_version": torch.__version__, "device": str(self.device), "world_size": self.world,
                   "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        meta_path = self.run_dir / "meta.json"
        if resume and meta_path.is_file():  # keep the first session's record, list the resumptions
            meta = json.loads(meta_path.read_text())
            meta["resumed"] = True
            meta.setdefault("resumptions", []).append(session)
        else:
            meta = {**session, "resumed": False}
        meta_path.write_text(json.dumps(meta, indent=2))

    # ------------------------------------------------------------------ progress info
    def current_lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def elapsed(self) -> float:
        return self._elapsed_before + time.time() - self._start

    def images_per_second(self) -> float:
        t0, n0 = self._rate
        dt = time.time() - t0
        return (self.images_seen - n0) / dt if dt > 0 else 0.0

    def _out_of_time(self) -> bool:
        limit = self.cfg.train.max_minutes
        return bool(limit) and time.time() - self._start > limit * 60

    def request_stop(self, reason: str = "requested") -> None:
        """Stop cleanly after the current iteration and checkpoint there (callbacks may call it;
        under DDP every rank stops at the same iteration)."""
        self.stop_reason = self.stop_reason or reason

    # ------------------------------------------------------------------ data
    def _loader(self, dataset, *, epoch: int, start_batch: int = 0, shuffle: bool = True,
                training: bool = True) -> DataLoader:
        t = self.cfg.train
        n = len(dataset)
        if t.overfit_batches:
            n, shuffle = min(n, t.overfit_batches * t.batch_size * self.world), False
        sampler = ShardedEpochSampler(n, seed=t.seed, epoch=epoch, shuffle=shuffle, rank=self.rank,
                                      world=self.world, batch_size=t.batch_size, start_batch=start_batch,
                                      pad=training)
        if training and hasattr(dataset, "set_epoch"):
            dataset.set_epoch(0 if t.overfit_batches else epoch)
        workers = self.cfg.data.num_workers
        return DataLoader(dataset, batch_size=t.batch_size, sampler=sampler, num_workers=workers,
                          pin_memory=self.device.type == "cuda", collate_fn=self.collate_fn,
                          drop_last=False, persistent_workers=False,
                          # own generator: creating an iterator must not touch the global RNG
                          generator=torch.Generator().manual_seed(t.seed))

    def _to_device(self, batch: Any) -> Any:
        if torch.is_tensor(batch):
            return batch.to(self.device, non_blocking=True)
        if isinstance(batch, dict):
            return {k: self._to_device(v) for k, v in batch.items()}
        if isinstance(batch, (list, tuple)):
            return type(batch)(self._to_device(v) for v in batch)
        return batch

    # ------------------------------------------------------------------ steps
    def _train_step(self, batch) -> dict[str, float]:
        self.model.train()
        with torch.autocast(self.device.type, dtype=self.amp_dtype or torch.float32,
                            enabled=self.amp_dtype is not None):
            loss, logs = self.task.training_loss(self.model, batch)
        value, n = float(loss.detach()), _batch_len(batch)
        # one collective per step under DDP: the global mean loss, and whether any rank saw NaN/inf
        loss_n, total_n, bad = agree([value * n if math.isfinite(value) else 0.0, float(n),
                                      float(not math.isfinite(value))], self.device)
        if bad:
            shown = value if not math.isfinite(value) else "non-finite on another rank"
            raise NonFiniteLossError(
                f"loss became {shown} at epoch {self.epoch + 1}, iteration {self.iteration + 1}; stopped. "
                "The last good checkpoint is intact: lower optim.lr or set optim.grad_clip, then --resume")
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.cfg.optim.grad_clip:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.raw_model.parameters(), self.cfg.optim.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return {"train_loss": loss_n / total_n, **{k: v for k, v in logs.items() if k != "loss"}}

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Run the task's validation over the whole validation set (all ranks), return metrics."""
        if self.val_set is None or len(self.val_set) == 0:
            return {}
        self.model.eval()
        sums: dict[str, Any] = {}
        loader = self._loader(self.val_set, epoch=0, shuffle=False, training=False)
        for batch in tqdm(loader, desc="validate", leave=False, disable=not self.is_main_process):
            with torch.autocast(self.device.type, dtype=self.amp_dtype or torch.float32,
                                enabled=self.amp_dtype is not None):
                stats = self.task.validation_stats(self.raw_model, self._to_device(batch))
            sums = collate_sum(sums, stats)
        return self.task.finalize_stats(all_reduce_sums(sums, self.device))

    # ------------------------------------------------------------------ loop
    def fit(self) -> dict[str, Any]:
        """Train until ``train.epochs``, the time budget, early stopping, ``request_stop`` or
        Ctrl-C (the first one stops cleanly after the current iteration and checkpoints);
        returns a summary (also printed on one screen)."""
        try:
            with _GracefulInterrupt(self):
                return self._fit()
        finally:
            if self._owns_group and dist.is_initialized():
                dist.destroy_process_group()

    def _fit(self) -> dict[str, Any]:
        t = self.cfg.train
        for cb in self.callbacks:
            cb.on_train_start(self)
        self._start, self._rate = time.time(), (time.time(), self.images_seen)
        stop = "done" if self.finished or self.epoch >= t.epochs else "epochs"
        while stop == "epochs" and self.epoch < t.epochs:
            if agree([float(self.stop_reason is not None)], self.device)[0]:  # e.g. Ctrl-C in validation
                stop = self.stop_reason or "stopped on another rank"
                break  # the epoch-end checkpoint was just written
            if self._train_epoch():
                stop = self.stop_reason or "stopped"
                if stop == "time budget":  # report where a short run got to
                    self._validate_and_save(epoch_done=False)
                else:
                    self._save()
                break
            self.epoch, self.batch_in_epoch = self.epoch + 1, 0
            self._validate_and_save(epoch_done=True)
            if self.finished:
                stop = "early stopping"
        if stop in ("epochs", "early stopping"):
            self.finished = True
            self._save()
        summary = self._summary(stop)
        for cb in self.callbacks:
            cb.on_train_end(self, summary)
        if self.is_main_process:
            print(self._summary_text(summary))
        return summary

    def _train_epoch(self) -> bool:
        """One (possibly resumed) epoch; True when asked to stop inside it (time budget,
        ``request_stop``, Ctrl-C) -- every rank agrees on the iteration."""
        t = self.cfg.train
        loader = self._loader(self.train_set, epoch=self.epoch, start_batch=self.batch_in_epoch)
        bar = tqdm(loader, desc=f"epoch {self.epoch + 1}/{t.epochs}", unit="batch",
                   initial=self.batch_in_epoch, total=self.batch_in_epoch + len(loader),
                   disable=not self.is_main_process, dynamic_ncols=True)
        for batch in bar:
            logs = self._train_step(self._to_device(batch))
            self.iteration += 1
            self.batch_in_epoch += 1
            self.images_seen += _batch_len(batch) * self.world
            bar.set_postfix(loss=f"{logs['train_loss']:.4f}", img_s=f"{self.images_per_second():.0f}")
            for cb in self.callbacks:
                cb.on_iteration_end(self, logs)
            if t.checkpoint_every and self.iteration % t.checkpoint_every == 0:
                self._save()
            if self._out_of_time():
                self.request_stop("time budget")
            if agree([float(self.stop_reason is not None)], self.device)[0]:
                self.stop_reason = self.stop_reason or "stopped on another rank"
                bar.close()
                return True
        return False

    def _step_scheduler(self, metrics: dict[str, float]) -> None:
        if self.scheduler is None:
            return
        if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            value = metrics.get(self.cfg.train.early_stop_metric)
            if value is not None and math.isfinite(value):
                self.scheduler.step(value)
        else:
            self.scheduler.step()

    def _validate_and_save(self, *, epoch_done: bool) -> None:
        """Validate, step the schedule (epoch ends), track the best metric and early stopping,
        run the callbacks, then checkpoint. Validation and callbacks leave the RNG untouched,
        so the training stream (dropout, ...) never depends on them and resumes exactly."""
        rng = capture_rng()
        metrics = self.validate()
        is_best = self._track_best(metrics, epoch_done=epoch_done)
        for cb in self.callbacks:
            cb.on_validation_end(self, metrics)
        if epoch_done:
            for cb in self.callbacks:
                cb.on_epoch_end(self, metrics)
            self._step_scheduler(metrics)  # after the callbacks: log.csv shows the lr the epoch used
        restore_rng(rng)
        if is_best and self.is_main_process:
            save_weights(self.run_dir / "best.safetensors", self.raw_model.state_dict())
        self._save()

    def _track_best(self, metrics: dict[str, float], *, epoch_done: bool) -> bool:
        t = self.cfg.train
        if metrics and t.early_stop_metric not in metrics:
            raise ValueError(f"train.early_stop_metric {t.early_stop_metric!r} is not among the validation "
                             f"metrics {sorted(metrics)}; set --set train.early_stop_metric=val_loss")
        value = metrics.get(t.early_stop_metric)
        is_best = value is not None and math.isfinite(value) and improved(value, self.best, t.early_stop_mode)
        if is_best:
            self.best, self.bad_epochs = value, 0
        elif epoch_done and value is not None:
            self.bad_epochs += 1
            if t.early_stop_patience and self.bad_epochs >= t.early_stop_patience:
                self.finished = True
        return is_best

    # ------------------------------------------------------------------ checkpoints
    def _state(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "iteration": self.iteration, "batch_in_epoch": self.batch_in_epoch,
                "best": self.best, "bad_epochs": self.bad_epochs, "images_seen": self.images_seen,
                "elapsed": self.elapsed(), "finished": self.finished,
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
                "scaler": self.scaler.state_dict(), "rng": capture_rng()}

    def _save(self) -> None:
        """Checkpoint (everything needed to resume) then latest weights; rank 0 only."""
        if not self.is_main_process:
            return
        save_checkpoint(self.run_dir / "checkpoint.safetensors", model_state=self.raw_model.state_dict(),
                        state=self._state())
        save_weights(self.run_dir / "model.safetensors", self.raw_model.state_dict())

    def _restore(self) -> None:
        model_state, s = load_checkpoint(self.run_dir / "checkpoint.safetensors")
        self.raw_model.load_state_dict(model_state)
        self.optimizer.load_state_dict(s["optimizer"])
        if self.scheduler is not None and s["scheduler"] is not None:
            self.scheduler.load_state_dict(s["scheduler"])
        if s["scaler"]:
            self.scaler.load_state_dict(s["scaler"])
        restore_rng(s["rng"])
        if self.rank:  # only rank 0's RNG is saved; the other ranks get fresh, distinct streams
            seed_everything(self.cfg.train.seed + 1_000_003 * self.rank + s["iteration"])
        self.epoch, self.iteration, self.batch_in_epoch = s["epoch"], s["iteration"], s["batch_in_epoch"]
        self.best, self.bad_epochs, self.images_seen = s["best"], s["bad_epochs"], s["images_seen"]
        self._elapsed_before, self.finished = s["elapsed"], s["finished"]
        if self.is_main_process:
            print(f"resuming {self.run_dir} at epoch {self.epoch + 1}, iteration {self.iteration}"
                  + (" (run already finished)" if self.finished else ""))

    # ------------------------------------------------------------------ summary
    def _summary(self, stop: str) -> dict[str, Any]:
        return {"stopped_by": stop, "epochs_done": self.epoch, "iterations": self.iteration,
                "best_metric": self.cfg.train.early_stop_metric, "best_value": self.best,
                "elapsed_s": self.elapsed(), "images_per_s": self.images_seen / max(self.elapsed(), 1e-9),
                "run_dir": str(self.run_dir), "device": str(self.device)}

    @staticmethod
    def _summary_text(s: dict[str, Any]) -> str:
        best = "n/a" if s["best_value"] is None else f"{s['best_value']:.4f}"
        return "\n".join([
            "-" * 60,
            f"training finished ({s['stopped_by']}) on {s['device']}",
            f"  epochs {s['epochs_done']}, iterations {s['iterations']}, "
            f"{s['elapsed_s'] / 60:.1f} min, {s['images_per_s']:.0f} images/s",
            f"  best {s['best_metric']}: {best}",
            f"  run folder: {s['run_dir']} (log.csv, loss.png, model.safetensors, best.safetensors)",
            f"  resume with: train-classifier --resume {s['run_dir']}",
            "-" * 60])


class _GracefulInterrupt:
    """While training: the first Ctrl-C asks the trainer to stop after the current iteration
    (with a checkpoint); a second one aborts at once. Only in the main thread."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer, self.previous = trainer, None

    def __enter__(self) -> "_GracefulInterrupt":
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.trainer.stop_reason == "interrupted":
            raise KeyboardInterrupt
        self.trainer.request_stop("interrupted")
        if self.trainer.is_main_process:
            print("\nstopping after this iteration (Ctrl-C again to abort)", file=sys.stderr)

    def __exit__(self, *exc) -> bool:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False


def _batch_len(batch: Any) -> int:
    if torch.is_tensor(batch):
        return len(batch)
    if isinstance(batch, dict):
        return _batch_len(next(iter(batch.values())))
    if isinstance(batch, (list, tuple)):
        return _batch_len(batch[0])
    return 1
