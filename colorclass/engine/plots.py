"""Loss curves from a run's log.csv (``colorclass plot RUN_DIR``), regenerable at any time.

    Trainer -> CSVLogger -> log.csv -> *loss.png* (train/val loss, the task's metrics, learning rate)

The metrics panel shows the task's metric columns: by default those between ``val_loss`` and
``lr`` in log.csv's header (where the engine puts ``task.metric_names``). Drawn with
matplotlib's object API on an Agg canvas (no pyplot state, no global backend switch, safe
from a training loop or a notebook) and written atomically.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from colorclass.support.errors import InputFileError
from colorclass.support.files import atomic_path
from colorclass.support.records import read_csv

__all__ = ["read_log", "plot_log", "metric_columns"]


_FIX = "it is not a log.csv written by train-classifier; restore it or retrain"


def read_log(path: str | Path) -> dict[str, list[tuple[float, float]]]:
    """log.csv -> {column: [(iteration, value), ...]} for every non-empty finite numeric value.
    The file is read with ``support.records.read_csv`` (a regular text file within the size
    and field limits, else one InputFileError naming it)."""
    header, rows = read_csv(path, what="log.csv", fix=_FIX)
    if header and "iteration" not in header:
        raise InputFileError(f"{str(path)!r} is not a valid log.csv (no 'iteration' column); {_FIX}")
    series: dict[str, list[tuple[float, float]]] = {}
    for row in rows:
        cells = dict(zip(header, row))
        try:
            it = float(cells["iteration"])
        except (KeyError, ValueError):
            continue
        for k, v in cells.items():
            if k in ("iteration", "epoch") or not v:
                continue
            try:
                value = float(v)
            except ValueError:
                continue
            if math.isfinite(value) and math.isfinite(it):
                series.setdefault(k, []).append((it, value))
    return series


def metric_columns(path: str | Path) -> list[str]:
    """The task's metric columns of a log.csv: those between ``val_loss`` and ``lr``."""
    header, _ = read_csv(path, what="log.csv", fix=_FIX)
    if "val_loss" not in header or "lr" not in header:
        return []
    return header[header.index("val_loss") + 1: header.index("lr")]


def _moving_average(y: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over ``window`` points (shorter at the start)."""
    c = np.cumsum(np.insert(y, 0, 0.0))
    idx = np.arange(1, len(y) + 1)
    lo = np.maximum(idx - window, 0)
    return (c[idx] - c[lo]) / (idx - lo)


def _draw_loss(ax, s) -> None:
    train = s.get("train_loss", [])
    if train:
        x, y = map(np.asarray, zip(*train))
        if len(y) > 30:  # noisy: faint raw curve and a running mean over ~5% of the points
            ax.plot(x, y, color="tab:blue", alpha=0.25, linewidth=0.8)
            ax.plot(x, _moving_average(y, max(3, len(y) // 20)), color="tab:blue", label="train loss (smoothed)")
        else:
            ax.plot(x, y, color="tab:blue", label="train loss")
    if s.get("val_loss"):
        val_x, val_y = zip(*s["val_loss"])
        ax.plot(val_x, val_y, "o-", color="tab:orange", markersize=4, label="validation loss")
    values = [v for _, v in train + s.get("val_loss", [])]
    if values and min(values) > 0 and max(values) / min(values) > 30:
        ax.set_yscale("log")
    ax.set(title="loss", xlabel="iteration")
    if ax.lines:
        ax.legend()


def _draw_metrics(ax, s, metrics: Sequence[str]) -> None:
    values: list[float] = []
    for key in metrics:
        if s.get(key):
            x, y = zip(*s[key])
            ax.plot(x, y, "o-", markersize=4, label=key.replace("_", " "))
            values += y
    ax.set(title="validation metrics", xlabel="iteration")
    if values and 0 <= min(values) and max(values) <= 1:  # fractions (accuracy, IoU, ...)
        ax.set_ylim(0, 1)
    if ax.lines:
        ax.legend()
    else:
        ax.text(0.5, 0.5, "no task metrics in log.csv", ha="center", transform=ax.transAxes)


def _draw_lr(ax, s) -> None:
    if s.get("lr"):
        x, y = zip(*s["lr"])
        ax.plot(x, y, color="tab:green")
        positive = [v for v in y if v > 0]
        if positive and max(positive) / min(positive) > 10:
            ax.set_yscale("log")
    ax.set(title="learning rate", xlabel="iteration")


def plot_log(run_dir_or_csv: str | Path, out_png: str | Path | None = None, *,
             metrics: Sequence[str] | None = None) -> Path:
    """Draw loss.png beside log.csv (or at ``out_png``); returns the PNG path. ``metrics``:
    the columns of the metrics panel (default: :func:`metric_columns` of the file)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    src = Path(run_dir_or_csv)
    csv_path = src / "log.csv" if src.is_dir() else src
    if not os.path.lexists(csv_path):   # a FIFO or a folder in its place: read_csv says so
        raise FileNotFoundError(f"no log.csv at {str(csv_path)!r}; pass a run folder or its log.csv")
    out = Path(out_png) if out_png else csv_path.parent / "loss.png"
    s = read_log(csv_path)
    metrics = metric_columns(csv_path) if metrics is None else list(metrics)
    fig = Figure(figsize=(14, 4))
    FigureCanvasAgg(fig)
    ax_loss, ax_acc, ax_lr = fig.subplots(1, 3)
    _draw_loss(ax_loss, s)
    _draw_metrics(ax_acc, s, metrics)
    _draw_lr(ax_lr, s)
    for ax in (ax_loss, ax_acc, ax_lr):
        ax.grid(alpha=0.3)
    fig.suptitle(csv_path.parent.name, fontsize=10)
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=90)
    return out
