"""Picture grids: one row per photo, one labelled column per picture of it.

    ... -> decode -> colour image -> *grids* (training samples, ``evaluate --grid``, the demo,
    report.html)

Imports only ``color`` and the atomic writer, so every stage that draws a grid (evaluate, the
reports, the demo) sits above it.
"""
from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from colorclass.support.files import atomic_path

__all__ = ["GRID_MAX_ROWS", "GRID_MAX_ASPECT", "gray_of", "save_columns_grid"]

GRID_MAX_ROWS = 32      # a grid shows at most this many photos ...
GRID_MAX_ASPECT = 4.0   # ... each cell between 1:4 and 4:1, so a 4000x10 photo cannot make a huge figure


def gray_of(rgb_u8: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> (H, W, 3) uint8 showing only the Lab lightness (what the network sees)."""
    from colorclass.color import lab_to_rgb_with_gamut, rgb_to_lab

    lab = rgb_to_lab(torch.from_numpy(rgb_u8).float().div(255), dim=-1)
    lab[..., 1:] = 0
    return (lab_to_rgb_with_gamut(lab, dim=-1)[0] * 255).round().byte().numpy()


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
            if i == 0:   # long labels (run names with their decoding) wrap instead of overlapping
                ax.set_title(textwrap.fill(label, 24), fontsize=10)
            if j == 0:
                ax.set_ylabel(name, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=12)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100)
    return path
