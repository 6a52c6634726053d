"""Reports: pictures of what a run learned, the last stage of the pipeline.

    ... -> decode -> colour image -> *grids (gray | predicted | truth), report.html*

``SampleGridCallback`` exports a grid of colourised validation samples during training;
``save_comparison_grid`` draws any list of photos; ``build_run_report`` writes a
self-contained ``report.html`` (built by ``colorclass.reports``: evaluation, grids, entropy,
confusions, regions, palette, curves, calibration, activations, config).
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from .decode_rules import DEFAULT_METHOD, DEFAULT_TEMPERATURE
from .engine.callbacks import Callback
from .engine.files import atomic_path, atomic_write_bytes
from .reports.analysis import gray_of

__all__ = ["gray_of", "save_comparison_grid", "save_columns_grid", "SampleGridCallback", "build_run_report"]


GRID_MAX_ROWS = 32      # a grid shows at most this many photos ...
GRID_MAX_ASPECT = 4.0   # ... each cell between 1:4 and 4:1, so a 4000x10 photo cannot make a huge figure


def save_comparison_grid(rows: Sequence[tuple[str, np.ndarray, np.ndarray]], path: str | Path,
                         *, title: str = "") -> Path:
    """Write a grid: one row per photo, columns gray | predicted | truth.

    rows: (name, predicted (H, W, 3) uint8, truth (H, W, 3) uint8); sizes may differ per row.
    """
    return save_columns_grid([(name, [gray_of(truth), pred, truth]) for name, pred, truth in rows],
                             ["gray input", "predicted", "truth"], path, title=title)


def save_columns_grid(rows: Sequence[tuple[str, Sequence[np.ndarray]]], labels: Sequence[str],
                      path: str | Path, *, title: str = "") -> Path:
    """Write a grid with one row per photo and one labelled column per picture of it.

    rows: (name, [(H, W, 3) uint8 per column]); sizes may differ per row. The picture is bounded:
    the first ``GRID_MAX_ROWS`` rows, cell aspect clipped to [1 / GRID_MAX_ASPECT, GRID_MAX_ASPECT].
    """
    from matplotlib.figure import Figure  # object API: no pyplot state, no global backend change

    rows = list(rows)[:GRID_MAX_ROWS]
    n, cols = len(rows), len(labels)
    aspect = max(r[1][-1].shape[1] / r[1][-1].shape[0] for r in rows) if rows else 1.0
    aspect = min(max(aspect, 1 / GRID_MAX_ASPECT), GRID_MAX_ASPECT)
    fig = Figure(figsize=(cols * 2.6 * aspect, 2.6 * n + 0.4))
    axes = fig.subplots(n, cols, squeeze=False)
    for i, (name, images) in enumerate(rows):
        for j, (img, label) in enumerate(zip(images, labels)):
            ax = axes[i, j]
            ax.imshow(img, interpolation="nearest" if img.shape[0] < 96 else "antialiased")
            ax.set_xticks([]), ax.set_yticks([])
            if i == 0:
                ax.set_title(label, fontsize=11)
            if j == 0:
                ax.set_ylabel(name, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=12)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100)
    return path


class SampleGridCallback(Callback):
    """Export colourised validation samples every ``every`` iterations and at each epoch end.

    Writes ``RUN_DIR/samples/iter_XXXXXXX.png`` and keeps ``RUN_DIR/samples.png`` as the latest.
    """

    def __init__(self, task, dataset, run_dir: str | Path, *, every: int = 0, n: int = 6,
                 method: str = DEFAULT_METHOD, temperature: float = DEFAULT_TEMPERATURE) -> None:
        self.task, self.dataset, self.run_dir = task, dataset, Path(run_dir)
        self.every, self.method, self.temperature = every, method, temperature
        idx = np.linspace(0, len(dataset) - 1, num=min(n, len(dataset))).round().astype(int)
        self.indices = sorted(set(int(i) for i in idx))

    def _export(self, trainer) -> None:
        if not getattr(trainer, "is_main_process", True) or not self.indices:
            return
        rgb = torch.stack([self.dataset[i]["rgb"] for i in self.indices])
        model = getattr(trainer, "raw_model", trainer.model)
        was_training = model.training
        model.eval()
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # gamut clipping is expected early in training
            pred = self.task.predict_rgb(model, rgb, method=self.method, temperature=self.temperature)
        model.train(was_training)
        pred_u8 = (pred.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()
        truth = rgb.permute(0, 2, 3, 1).numpy()
        rows = [(f"#{i}", p, t) for i, p, t in zip(self.indices, pred_u8, truth)]
        folder = self.run_dir / "samples"
        folder.mkdir(parents=True, exist_ok=True)
        it = int(getattr(trainer, "iteration", 0))
        out = save_comparison_grid(rows, folder / f"iter_{it:07d}.png", title=f"iteration {it}")
        atomic_write_bytes(self.run_dir / "samples.png", out.read_bytes())
        for cb in getattr(trainer, "callbacks", []):
            if hasattr(cb, "add_image"):  # TensorBoard, when installed
                from PIL import Image
                cb.add_image("samples", np.asarray(Image.open(out).convert("RGB")), it)

    def on_iteration_end(self, trainer, logs) -> None:
        it = int(getattr(trainer, "iteration", 0))
        if self.every and it > 0 and it % self.every == 0:
            self._export(trainer)

    def on_epoch_end(self, trainer, *args, **kwargs) -> None:
        self._export(trainer)


def build_run_report(run_dir: str | Path, *, images: str | Path | None = None, data: str | Path | None = None,
                     activations: str | Path | None = None,
                     extra_sections: Sequence[tuple[str, Path]] = ()) -> Path:
    """Write ``RUN_DIR/report.html``; see :func:`colorclass.reports.page.build_run_report`."""
    from .reports.page import build_run_report as build

    return build(run_dir, images=images, data=data, activations=activations, extra_sections=extra_sections)
