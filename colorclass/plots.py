"""Loss curves from a run's log.csv (``colorclass plot RUN_DIR``), regenerable at any time.

    trainer -> log.csv -> *loss.png* (train/val loss, pixel accuracy and mIoU, learning rate)

Drawn with matplotlib's object API on an Agg canvas: no pyplot state, no global backend
switch, safe to call from a training loop or a notebook.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

__all__ = ["read_log", "plot_log"]

_LABELS = {"train_loss": "train loss", "val_loss": "validation loss", "pixel_acc": "pixel accuracy",
           "miou": "mean IoU"}


def read_log(path: str | Path) -> dict[str, list[tuple[float, float]]]:
    """log.csv -> {column: [(iteration, value), ...]} for every non-empty numeric value."""
    series: dict[str, list[tuple[float, float]]] = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            try:
                it = float(row["iteration"])
            except (KeyError, TypeError, ValueError):
                continue
            for k, v in row.items():
                if k in ("iteration", "epoch") or v in ("", None):
                    continue
                try:
                    series.setdefault(k, []).append((it, float(v)))
                except ValueError:
                    continue
    return series


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
        x, y = zip(*s["val_loss"])
        ax.plot(x, y, "o-", color="tab:orange", markersize=4, label="validation loss")
    values = [v for _, v in train + s.get("val_loss", [])]
    if values and min(values) > 0 and max(values) / min(values) > 30:
        ax.set_yscale("log")
    ax.set(title="loss", xlabel="iteration")
    if ax.lines:
        ax.legend()


def _draw_accuracy(ax, s) -> None:
    for key in ("pixel_acc", "miou"):
        if s.get(key):
            x, y = zip(*s[key])
            ax.plot(x, y, "o-", markersize=4, label=_LABELS[key])
    ax.set(title="validation accuracy", xlabel="iteration", ylim=(0, 1))
    if ax.lines:
        ax.legend()
    else:
        ax.text(0.5, 0.5, "no pixel_acc / miou in log.csv", ha="center", transform=ax.transAxes)


def _draw_lr(ax, s) -> None:
    if s.get("lr"):
        x, y = zip(*s["lr"])
        ax.plot(x, y, color="tab:green")
        positive = [v for v in y if v > 0]
        if positive and max(positive) / min(positive) > 10:
            ax.set_yscale("log")
    ax.set(title="learning rate", xlabel="iteration")


def plot_log(run_dir_or_csv: str | Path, out_png: str | Path | None = None) -> Path:
    """Draw loss.png beside log.csv (or at ``out_png``); returns the PNG path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    src = Path(run_dir_or_csv)
    csv_path = src / "log.csv" if src.is_dir() else src
    if not csv_path.is_file():
        raise FileNotFoundError(f"no log.csv at {str(csv_path)!r}; pass a run folder or its log.csv")
    out = Path(out_png) if out_png else csv_path.parent / "loss.png"
    s = read_log(csv_path)
    fig = Figure(figsize=(14, 4))
    FigureCanvasAgg(fig)
    ax_loss, ax_acc, ax_lr = fig.subplots(1, 3)
    _draw_loss(ax_loss, s)
    _draw_accuracy(ax_acc, s)
    _draw_lr(ax_lr, s)
    for ax in (ax_loss, ax_acc, ax_lr):
        ax.grid(alpha=0.3)
    fig.suptitle(csv_path.parent.name, fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    return out
