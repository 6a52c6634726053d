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

from colorclass.engine.callbacks import Callback
from colorclass.evaluation.grids import gray_of, save_columns_grid
from colorclass.support.files import atomic_write_bytes

__all__ = ["gray_of", "save_comparison_grid", "save_columns_grid", "SampleGridCallback", "build_run_report"]


def save_comparison_grid(rows: Sequence[tuple[str, np.ndarray, np.ndarray]], path: str | Path,
                         *, title: str = "") -> Path:
    """Write a grid: one row per photo, columns gray | predicted | truth.

    rows: (name, predicted (H, W, 3) uint8, truth (H, W, 3) uint8); sizes may differ per row.
    """
    return save_columns_grid([(name, [gray_of(truth), pred, truth]) for name, pred, truth in rows],
                             ["gray input", "predicted", "truth"], path, title=title)


class SampleGridCallback(Callback):
    """Export colourised validation samples every ``every`` iterations and at each epoch end.

    Writes ``RUN_DIR/samples/iter_XXXXXXX.png`` and keeps ``RUN_DIR/samples.png`` as the latest.
    """

    def __init__(self, task, dataset, run_dir: str | Path, *, every: int = 0, n: int = 6) -> None:
        self.task, self.dataset, self.run_dir, self.every = task, dataset, Path(run_dir), every
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
            pred, _, _ = self.task.predictor(model).colorize_tensor(rgb)
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
    from colorclass.reports.page import build_run_report as build

    return build(run_dir, images=images, data=data, activations=activations, extra_sections=extra_sections)
