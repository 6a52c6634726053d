"""Loss curves from a run's log.csv (``colorclass plot RUN_DIR``), regenerable at any time.

    trainer -> log.csv -> *loss.png* (train/val loss, pixel accuracy and mIoU, learning rate)
"""
from __future__ import annotations

import csv
from pathlib import Path

__all__ = ["read_log", "plot_log"]


def read_log(path: str | Path) -> dict[str, list[tuple[float, float]]]:
    """log.csv -> {column: [(iteration, value), ...]} for every non-empty numeric value."""
    series: dict[str, list[tuple[float, float]]] = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            it = float(row["iteration"])
            for k, v in row.items():
                if k in ("iteration", "epoch") or v in ("", None):
                    continue
                try:
                    series.setdefault(k, []).append((it, float(v)))
                except ValueError:
                    continue
    return series


def plot_log(run_dir_or_csv: str | Path, out_png: str | Path | None = None) -> Path:
    """Draw loss.png beside log.csv (or at ``out_png``); returns the PNG path."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    src = Path(run_dir_or_csv)
    csv_path = src / "log.csv" if src.is_dir() else src
    if not csv_path.is_file():
        raise FileNotFoundError(f"no log.csv at {str(csv_path)!r}; is it a run folder?")
    out = Path(out_png) if out_png else csv_path.parent / "loss.png"
    s = read_log(csv_path)
    fig, (ax_loss, ax_acc, ax_lr) = plt.subplots(1, 3, figsize=(14, 4))
    for key, style in (("train_loss", "-"), ("val_loss", "o-")):
        if s.get(key):
            x, y = zip(*s[key])
            ax_loss.plot(x, y, style, label=key.replace("_", " "), markersize=4)
    ax_loss.set(title="loss", xlabel="iteration")
    ax_loss.legend() if ax_loss.lines else None
    for key in ("pixel_acc", "miou"):
        if s.get(key):
            x, y = zip(*s[key])
            ax_acc.plot(x, y, "o-", label={"pixel_acc": "pixel accuracy", "miou": "mean IoU"}[key], markersize=4)
    ax_acc.set(title="validation accuracy", xlabel="iteration", ylim=(0, 1))
    ax_acc.legend() if ax_acc.lines else ax_acc.text(0.5, 0.5, "no validation yet", ha="center")
    if s.get("lr"):
        x, y = zip(*s["lr"])
        ax_lr.plot(x, y)
    ax_lr.set(title="learning rate", xlabel="iteration")
    for ax in (ax_loss, ax_acc, ax_lr):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out
