"""The Trainer's resumable state, its end-of-run summary, and the Ctrl-C handler.

    Trainer counters + optimiser + scheduler + scaler + RNG -> *capture_state* -> checkpoint.py
    checkpoint.py -> *apply_state* -> Trainer (bit-exact resume)
    Trainer -> *summarize* -> summary dict (returned by fit) -> *summary_text* (printed)
"""
from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Any, Callable, Literal, Sequence

from colorclass.engine.checkpoint import capture_rng, restore_rng
from colorclass.engine.optim import seed_everything

__all__ = ["capture_state", "apply_state", "summarize", "summary_text", "GracefulInterrupt"]

log = logging.getLogger(__name__)


def capture_state(t) -> dict[str, Any]:
    """Everything (besides the weights) trainer ``t`` needs to resume exactly."""
    return {"epoch": t.epoch, "iteration": t.iteration, "batch_in_epoch": t.batch_in_epoch,
            "best": t.best, "bad_epochs": t.bad_epochs, "images_seen": t.images_seen,
            "elapsed": t.elapsed(), "finished": t.finished,
            "optimizer": t.optimizer.state_dict(),
            "scheduler": t.scheduler.state_dict() if t.scheduler is not None else None,
            "scaler": t.scaler.state_dict(), "rng": capture_rng()}


def apply_state(t, model_state: dict, s: dict[str, Any]) -> None:
    """Inverse of :func:`capture_state` (plus the weights) on trainer ``t``."""
    t.raw_model.load_state_dict(model_state)
    t.optimizer.load_state_dict(s["optimizer"])
    if t.scheduler is not None and s["scheduler"] is not None:
        t.scheduler.load_state_dict(s["scheduler"])
    if s["scaler"]:
        t.scaler.load_state_dict(s["scaler"])
    restore_rng(s["rng"])
    if t.rank:  # only rank 0's RNG is saved; the other ranks get fresh, distinct streams
        seed_everything(t.cfg.seed + 1_000_003 * t.rank + s["iteration"])
    t.epoch, t.iteration, t.batch_in_epoch = s["epoch"], s["iteration"], s["batch_in_epoch"]
    t.best, t.bad_epochs, t.images_seen = s["best"], s["bad_epochs"], s["images_seen"]
    t._elapsed_before, t.finished = s["elapsed"], s["finished"]


def summarize(t, stop: str) -> dict[str, Any]:
    """The summary ``fit()`` returns: why it stopped, progress, best metric, run folder, device."""
    return {"stopped_by": stop, "epochs_done": t.epoch, "iterations": t.iteration,
            "best_metric": t.cfg.early_stop_metric, "best_value": t.best,
            "elapsed_s": t.elapsed(), "images_per_s": t.images_seen / max(t.elapsed(), 1e-9),
            "run_dir": str(t.run_dir), "device": str(t.device)}


def summary_text(s: dict[str, Any], hints: Sequence[str] = ()) -> str:
    """One screen of summary; ``hints`` are extra indented lines (e.g. the runner's resume hint)."""
    best = "n/a" if s["best_value"] is None else f"{s['best_value']:.4f}"
    return "\n".join([
        "-" * 60,
        f"training finished ({s['stopped_by']}) on {s['device']}",
        f"  epochs {s['epochs_done']}, iterations {s['iterations']}, "
        f"{s['elapsed_s'] / 60:.1f} min, {s['images_per_s']:.0f} images/s",
        f"  best {s['best_metric']}: {best}",
        f"  run folder: {s['run_dir']} (log.csv, loss.png, model.safetensors, best.safetensors)",
        *(f"  {h}" for h in hints),
        "-" * 60])


class GracefulInterrupt:
    """While training: the first Ctrl-C asks the trainer to stop after the current iteration
    (with a checkpoint); a second one aborts at once. Only in the main thread."""

    def __init__(self, trainer) -> None:
        self.trainer = trainer
        self.previous: Callable[[int, FrameType | None], Any] | int | None = None   # SIGINT handler to restore

    def __enter__(self) -> "GracefulInterrupt":
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.trainer.stop_reason == "interrupted":
            raise KeyboardInterrupt
        self.trainer.request_stop("interrupted")
        if self.trainer.is_main_process:
            log.warning("\nstopping after this iteration (Ctrl-C again to abort)")

    def __exit__(self, *exc) -> Literal[False]:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False
