"""Training callbacks: what happens around the optimisation loop (logging, plots, TensorBoard).

    Trainer -> *callbacks* -> log.csv, loss.png, TensorBoard (and the runner's own, e.g. sample grids)

Generic: nothing here knows about colour. Every hook receives the trainer; only rank 0
runs callbacks under DDP. log.csv columns: the engine's (``epoch, iteration, train_loss,
val_loss``), then the task's ``metric_names``, then ``lr, images_per_s, elapsed_s``, then any
other validation metric in sorted order (a results-file contract: keep it stable).
"""
from __future__ import annotations

import csv
import io
import math
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from colorclass.support.files import atomic_write_text
from colorclass.support.records import read_csv

__all__ = ["Callback", "EveryN", "CSVLogger", "PlotCallback", "TensorBoardCallback", "ENGINE_COLUMNS",
           "log_columns"]

_HEAD = ("epoch", "iteration", "train_loss", "val_loss")
_TAIL = ("lr", "images_per_s", "elapsed_s")
ENGINE_COLUMNS = _HEAD + _TAIL


def log_columns(metric_names: Sequence[str] = ()) -> list[str]:
    """log.csv's fixed columns: the engine's, with the task's metrics after ``val_loss``."""
    return [*_HEAD, *(m for m in metric_names if m not in ENGINE_COLUMNS), *_TAIL]


def _csv_text(rows: list[list[str]]) -> str:
    buf = io.StringIO(newline="")
    csv.writer(buf).writerows(rows)
    return buf.getvalue()


class Callback:
    """Base class: override the hooks you need. ``logs`` and ``metrics`` are dicts of floats."""

    def on_train_start(self, trainer) -> None:
        pass

    def on_iteration_end(self, trainer, logs: dict[str, float]) -> None:
        pass

    def on_validation_end(self, trainer, metrics: dict[str, float]) -> None:
        pass

    def on_epoch_end(self, trainer, metrics: dict[str, float]) -> None:
        pass

    def on_train_end(self, trainer, summary: dict[str, Any]) -> None:
        pass


class EveryN(Callback):
    """Run ``fn(trainer, when)`` every ``every`` iterations (0 = never) and, with
    ``at_epoch_end``, after each epoch's validation; ``when`` is "iteration" or "epoch".
    Fires at most once per iteration (an epoch ending on a multiple of ``every`` fires once).
    Subclasses may override :meth:`fire` instead of passing ``fn``."""

    def __init__(self, fn: Callable[[Any, str], None] | None = None, *, every: int = 0,
                 at_epoch_end: bool = True) -> None:
        if every < 0:
            raise ValueError(f"every must be >= 0 iterations, got {every}")
        if fn is None and type(self).fire is EveryN.fire:
            raise TypeError("EveryN needs fn(trainer, when) or a subclass that overrides fire()")
        self.fn, self.every, self.at_epoch_end = fn, every, at_epoch_end
        self._last_fired: int | None = None

    def fire(self, trainer, when: str) -> None:
        if self.fn is None:   # __init__ allows this only for subclasses that override fire()
            raise TypeError("EveryN needs fn(trainer, when) or a subclass that overrides fire()")
        self.fn(trainer, when)

    def _maybe_fire(self, trainer, when: str) -> None:
        if self._last_fired != trainer.iteration:
            self._last_fired = trainer.iteration
            self.fire(trainer, when)

    def on_iteration_end(self, trainer, logs) -> None:
        if self.every and trainer.iteration % self.every == 0:
            self._maybe_fire(trainer, "iteration")

    def on_epoch_end(self, trainer, metrics) -> None:
        if self.at_epoch_end:
            self._maybe_fire(trainer, "epoch")


class CSVLogger(Callback):
    """Append rows to ``RUN_DIR/log.csv``: training rows every ``log_every`` iterations,
    validation rows after each validation. Columns: ``log_columns(metric_names)``, then any
    extra metrics of the first validation (a resumed run keeps the file's header and appends)."""

    def __init__(self, run_dir: str | Path, *, log_every: int = 20, metric_names: Sequence[str] = ()) -> None:
        self.path = Path(run_dir) / "log.csv"
        self.log_every = max(1, log_every)
        self.base_columns = log_columns(metric_names)
        self.columns: list[str] | None = None
        self._loss_sum, self._loss_n = 0.0, 0
        self._pending: list[dict[str, Any]] = []

    def _write(self, row: dict[str, Any], *, header_from: dict[str, Any] | None = None) -> None:
        """Append ``row``. The header is fixed at the first validation (so that the task's extra
        metrics become columns); training rows before it wait in memory."""
        if self.columns is None and self.path.is_file() and self.path.stat().st_size:
            self.columns = _read(self.path)[0] or None  # resumed run: keep its header
        if self.columns is None:
            self._pending.append(row)
            if header_from is None:
                return
            self.columns = self.base_columns + sorted(k for k in header_from if k not in self.base_columns)
            rows, self._pending = self._pending, []
            atomic_write_text(self.path, _csv_text([self.columns, *self._cells(rows, self.columns)]))
            return
        try:
            with open(self.path, "a", newline="") as f:
                csv.writer(f).writerows(self._cells([row], self.columns))
        except OSError as e:   # a full disk raises without the file's name: name it
            if e.filename is None:
                raise OSError(e.errno, e.strerror or str(e), str(self.path)) from e
            raise

    @staticmethod
    def _cells(rows: list[dict[str, Any]], columns: list[str]) -> list[list[str]]:
        return [[_fmt(r.get(c)) for c in columns] for r in rows]

    def on_train_start(self, trainer) -> None:
        """A fresh run starts a fresh file; a resumed one drops the rows written after its
        checkpoint (they are about to be trained again), so iterations stay increasing."""
        if not self.path.is_file():
            return
        if not getattr(trainer, "resumed", False):
            self.path.unlink()  # left by a run that died before its first checkpoint
            return
        header, body = _read(self.path)
        if not header:
            return
        col = header.index("iteration") if "iteration" in header else None
        keep = [r for r in body if col is None or _iteration(r, col) <= trainer.iteration]
        if len(keep) < len(body):
            atomic_write_text(self.path, _csv_text([header, *keep]))

    def _base(self, trainer) -> dict[str, Any]:
        # epoch column: 1-based epoch the row belongs to (in progress, or just finished)
        epoch = trainer.epoch + (1 if getattr(trainer, "batch_in_epoch", 0) else 0)
        return {"epoch": epoch, "iteration": trainer.iteration, "lr": trainer.current_lr(),
                "images_per_s": trainer.images_per_second(), "elapsed_s": trainer.elapsed()}

    def on_iteration_end(self, trainer, logs) -> None:
        self._loss_sum += logs["train_loss"]
        self._loss_n += 1
        if trainer.iteration % self.log_every == 0:
            self._flush_train(trainer)

    def _flush_train(self, trainer) -> None:
        if self._loss_n:
            self._write({**self._base(trainer), "train_loss": self._loss_sum / self._loss_n})
            self._loss_sum, self._loss_n = 0.0, 0

    def on_validation_end(self, trainer, metrics) -> None:
        self._flush_train(trainer)
        row = {**self._base(trainer), **metrics}
        self._write(row, header_from=row)

    def on_train_end(self, trainer, summary) -> None:
        self._flush_train(trainer)
        if self._pending:  # no validation ever ran
            self._write(self._pending.pop(), header_from={})


def _read(path: Path) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of a log.csv, bounded (support.records: size, field length, text)."""
    return read_csv(path, what="log.csv", fix="move it away to resume without its history")


def _iteration(row: list[str], col: int) -> float:
    """The iteration of a log.csv row; -inf (kept) when the cell is empty or not a number."""
    try:
        return float(row[col]) if row[col] else -math.inf
    except (IndexError, ValueError):
        return -math.inf


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


class PlotCallback(Callback):
    """Redraw ``RUN_DIR/loss.png`` from log.csv after validations (at most every
    ``min_seconds``) and at the end; ``metric_names`` (the task's) get the metrics panel."""

    def __init__(self, run_dir: str | Path, *, min_seconds: float = 20.0,
                 metric_names: Sequence[str] | None = None) -> None:
        self.run_dir, self.min_seconds, self._last = Path(run_dir), min_seconds, -math.inf
        self.metric_names = metric_names

    def _plot(self) -> None:
        from colorclass.engine.plots import plot_log

        if (self.run_dir / "log.csv").is_file():
            plot_log(self.run_dir, metrics=self.metric_names)

    def on_validation_end(self, trainer, metrics) -> None:
        if time.monotonic() - self._last >= self.min_seconds:
            self._plot()
            self._last = time.monotonic()

    def on_train_end(self, trainer, summary) -> None:
        self._plot()


class TensorBoardCallback(Callback):
    """Scalars (and images through ``add_image``) when the optional ``tensorboard`` package is
    installed; use :meth:`available` before adding it."""

    def __init__(self, run_dir: str | Path) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(Path(run_dir) / "tensorboard"))

    @staticmethod
    def available() -> bool:
        try:
            import tensorboard  # noqa: F401
        except ImportError:
            return False
        return True

    def on_iteration_end(self, trainer, logs) -> None:
        for k, v in logs.items():
            self.writer.add_scalar(f"train/{k}", v, trainer.iteration)

    def on_validation_end(self, trainer, metrics) -> None:
        for k, v in metrics.items():
            self.writer.add_scalar(f"val/{k}", v, trainer.iteration)

    def add_image(self, tag: str, image_hwc_u8, iteration: int) -> None:
        self.writer.add_image(tag, image_hwc_u8, iteration, dataformats="HWC")

    def on_train_end(self, trainer, summary) -> None:
        self.writer.close()
