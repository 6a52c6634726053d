"""The trainer: a generic optimisation loop that knows nothing about colour.

    model + task (loss and metrics) + datasets + EngineConfig -> *Trainer.fit()* -> run folder

The ``task`` implements the :class:`~colorclass.engine.protocol.Task` protocol (``training_loss``,
``validation_stats``, ``finalize_stats``, ``metric_names``). The trainer owns devices (CUDA when
present, AMP, channels-last, ``torch.compile``), DDP under ``torchrun``, the data order (a
function of (seed, epoch) only, so resumed runs are exact), schedules, early stopping, time
budgets, crash-safe checkpoints and callbacks. It writes checkpoint.safetensors,
model.safetensors, best.safetensors, log.csv and loss.png; run records (config, command,
versions) and command-line wording belong to the caller (colorclass.training.train_run).

``batch_size`` is per process: under DDP the global batch is ``batch_size * world``.
A run stops cleanly (checkpoint at that iteration, then the summary) on the time budget,
``trainer.request_stop(reason)`` from a callback, or the first Ctrl-C; every rank agrees on
the iteration. A NaN/inf loss raises :class:`NonFiniteLossError` before the optimiser step,
leaving the last checkpoint as it was. Only rank 0 runs callbacks and writes files.
"""
from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.distributed as dist
from tqdm import tqdm

from colorclass.engine.callbacks import Callback, CSVLogger, PlotCallback, TensorBoardCallback
from colorclass.engine.checkpoint import capture_rng, load_checkpoint, restore_rng, save_checkpoint, save_weights
from colorclass.engine.distributed import agree, all_reduce_sums, init_distributed
from colorclass.engine.optim import build_optimizer, build_scheduler, collate_sum, improved, seed_everything
from colorclass.engine.protocol import batch_size_of, metric_names_of
from colorclass.engine.settings import EngineConfig
from colorclass.engine.state import GracefulInterrupt, apply_state, capture_state, summarize, summary_text
from colorclass.engine.steps import (
    NonFiniteLossError,
    amp_dtype,
    autocast,
    configure_cuda,
    make_loader,
    setup_device,
    to_device,
    train_step,
    wrap_model,
)
from colorclass.support.errors import ColorclassError

__all__ = ["Trainer", "NonFiniteLossError"]

log = logging.getLogger(__name__)


class Trainer:
    """Train ``model`` on ``task``; see the module docstring. ``resume=True`` continues from
    ``run_dir/checkpoint.safetensors``. ``summary_hints``: extra lines of the printed summary."""

    def __init__(self, model: torch.nn.Module, task, train_set, val_set, config: EngineConfig, *,
                 run_dir: str | Path, callbacks: Sequence[Callback] = (), resume: bool = False,
                 collate_fn=None, summary_hints: Sequence[str] = (), device: torch.device | None = None) -> None:
        self.cfg, self.task, self.run_dir = config, task, Path(run_dir)
        self.train_set, self.val_set, self.collate_fn = train_set, val_set, collate_fn
        self.summary_hints = tuple(summary_hints)
        if not resume and (self.run_dir / "checkpoint.safetensors").is_file():
            raise ColorclassError(f"run folder {str(self.run_dir)!r} already holds a checkpoint; "
                             "pass resume=True to continue it")
        self.device = device if device is not None else setup_device(config)   # the caller's, resolved once
        self.rank, self.world, self._owns_group = init_distributed(self.device.type)
        self.is_main_process = self.rank == 0
        configure_cuda(self.device, config)
        seed_everything(config.seed + self.rank)  # independent dropout streams per rank
        self.raw_model = model.to(self.device)
        if config.channels_last:
            self.raw_model = self.raw_model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch's stub lacks memory_format
        self.model = wrap_model(self.raw_model, config, self.device, self.world)
        self.optimizer = build_optimizer(self.raw_model.parameters(), config.optim)
        # "plateau" watches the early-stopping metric, in its direction
        self.scheduler = build_scheduler(self.optimizer, config.optim, epochs=config.epochs,
                                         mode=config.early_stop_mode)
        self.amp_dtype = amp_dtype(self.device, config.amp)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.epoch, self.iteration, self.batch_in_epoch = 0, 0, 0
        self.best: float | None = None
        self.bad_epochs, self.images_seen, self.finished = 0, 0, False
        self.stop_reason: str | None = None
        self.resumed = resume
        self._start, self._elapsed_before, self._rate = time.time(), 0.0, (time.time(), 0)
        self.callbacks: list[Callback] = self._default_callbacks(callbacks) if self.is_main_process else []
        if resume:
            self._restore()

    def _default_callbacks(self, extra: Sequence[Callback]) -> list[Callback]:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        names = metric_names_of(self.task)
        callbacks = [CSVLogger(self.run_dir, log_every=self.cfg.log_every, metric_names=names),
                     PlotCallback(self.run_dir, metric_names=names), *extra]
        if TensorBoardCallback.available():
            callbacks.append(TensorBoardCallback(self.run_dir))
        return callbacks

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
        limit = self.cfg.max_minutes
        return bool(limit) and time.time() - self._start > limit * 60

    def request_stop(self, reason: str = "requested") -> None:
        """Stop cleanly after the current iteration and checkpoint there (callbacks may call it;
        under DDP every rank stops at the same iteration)."""
        self.stop_reason = self.stop_reason or reason

    def _loader(self, dataset, **kw):
        return make_loader(dataset, self.cfg, rank=self.rank, world=self.world, device=self.device,
                           collate_fn=self.collate_fn, **kw)

    # ------------------------------------------------------------------ validation
    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Run the task's validation over the whole validation set (all ranks), return metrics."""
        if self.val_set is None or len(self.val_set) == 0:
            return {}
        self.model.eval()
        sums: dict[str, Any] = {}
        loader = self._loader(self.val_set, epoch=0, shuffle=False, training=False)
        for batch in tqdm(loader, desc="validate", leave=False, disable=not self.is_main_process):
            with autocast(self.device, self.amp_dtype):
                stats = self.task.validation_stats(self.raw_model, to_device(batch, self.device))
            sums = collate_sum(sums, stats)
        return self.task.finalize_stats(all_reduce_sums(sums, self.device))

    # ------------------------------------------------------------------ loop
    def fit(self) -> dict[str, Any]:
        """Train until ``epochs``, the time budget, early stopping, ``request_stop`` or Ctrl-C
        (the first one stops cleanly after the current iteration and checkpoints); returns a
        summary (``stopped_by``, ``epochs_done``, ``iterations``, ``best_metric``, ``best_value``,
        ``elapsed_s``, ``images_per_s``, ``run_dir``, ``device``), also printed on one screen."""
        try:
            with GracefulInterrupt(self):
                summary = self._fit()
            if self._owns_group and dist.is_initialized():
                dist.barrier()  # no rank closes its sockets while another still talks
            return summary
        finally:
            if self._owns_group and dist.is_initialized():
                dist.destroy_process_group()

    def _fit(self) -> dict[str, Any]:
        for cb in self.callbacks:
            cb.on_train_start(self)
        self._start, self._rate = time.time(), (time.time(), self.images_seen)
        stop = self._run_epochs()
        if stop in ("epochs", "early stopping"):
            self.finished = True
            self._save()
        summary = summarize(self, stop)
        for cb in self.callbacks:
            cb.on_train_end(self, summary)
        if self.is_main_process:
            log.info(summary_text(summary, self.summary_hints))
        return summary

    def _run_epochs(self) -> str:
        """Epoch after epoch until a stop; returns the stop reason."""
        stop = "done" if self.finished or self.epoch >= self.cfg.epochs else "epochs"
        while stop == "epochs" and self.epoch < self.cfg.epochs:
            if agree([float(self.stop_reason is not None)], self.device)[0]:  # e.g. Ctrl-C in validation
                return self.stop_reason or "stopped on another rank"  # the epoch-end checkpoint exists
            if self._train_epoch():
                stop = self.stop_reason or "stopped"
                if stop == "time budget":  # report where a short run got to
                    self._validate_and_save(epoch_done=False)
                else:
                    self._save()
                return stop
            self.epoch, self.batch_in_epoch = self.epoch + 1, 0
            self._validate_and_save(epoch_done=True)
            if self.finished:
                stop = "early stopping"
        return stop

    def _train_epoch(self) -> bool:
        """One (possibly resumed) epoch; True when asked to stop inside it (time budget,
        ``request_stop``, Ctrl-C) -- every rank agrees on the iteration."""
        loader = self._loader(self.train_set, epoch=self.epoch, start_batch=self.batch_in_epoch)
        bar = tqdm(loader, desc=f"epoch {self.epoch + 1}/{self.cfg.epochs}", unit="batch",
                   initial=self.batch_in_epoch, total=self.batch_in_epoch + len(loader),
                   disable=not self.is_main_process, dynamic_ncols=True)
        for batch in bar:
            logs = train_step(self, to_device(batch, self.device))
            self.iteration += 1
            self.batch_in_epoch += 1
            self.images_seen += batch_size_of(self.task, batch) * self.world
            bar.set_postfix(loss=f"{logs['train_loss']:.4f}", img_s=f"{self.images_per_second():.0f}")
            for cb in self.callbacks:
                cb.on_iteration_end(self, logs)
            if self.cfg.checkpoint_every and self.iteration % self.cfg.checkpoint_every == 0:
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
            value = metrics.get(self.cfg.early_stop_metric)
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
        c = self.cfg
        if metrics and c.early_stop_metric not in metrics:
            raise ColorclassError(f"train.early_stop_metric {c.early_stop_metric!r} is not among the validation "
                             f"metrics {sorted(metrics)}; set --set train.early_stop_metric=val_loss")
        value = metrics.get(c.early_stop_metric)
        is_best = value is not None and math.isfinite(value) and improved(value, self.best, c.early_stop_mode)
        if is_best:
            self.best, self.bad_epochs = value, 0
        elif epoch_done and value is not None:
            self.bad_epochs += 1
            if c.early_stop_patience and self.bad_epochs >= c.early_stop_patience:
                self.finished = True
        return is_best

    # ------------------------------------------------------------------ checkpoints
    def _save(self) -> None:
        """Checkpoint (everything needed to resume) then latest weights; rank 0 only."""
        if not self.is_main_process:
            return
        save_checkpoint(self.run_dir / "checkpoint.safetensors", model_state=self.raw_model.state_dict(),
                        state=capture_state(self))
        save_weights(self.run_dir / "model.safetensors", self.raw_model.state_dict())

    def _restore(self) -> None:
        model_state, s = load_checkpoint(self.run_dir / "checkpoint.safetensors")
        apply_state(self, model_state, s)
        if self.is_main_process:
            log.info(f"resuming {self.run_dir} at epoch {self.epoch + 1}, iteration {self.iteration}"
                  + (" (run already finished)" if self.finished else ""))
