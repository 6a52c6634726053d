"""Palette pictures of fitted bins (written beside every bins file as ``<stem>.png``).

Pipeline: photos -> **quantize (fit bins)** -> ... -> metrics / reports

k-means: colour swatches with index and prior; GMM: the Hue-Chroma plane with 2-sigma component
ellipses; Hue-Chroma grid: the same plane with the bin centres; ab grid: the ab plane, one square
per bin, and a second panel shaded by the prior when it is known.

Figures are drawn on a plain ``matplotlib.figure.Figure`` with the Agg canvas, so no global
backend is selected (``matplotlib.use``) and pyplot's figure registry is never touched.
``palette_png_bytes`` renders to bytes; the caller decides how to write them (``Bins.save``).
"""
from __future__ import annotations

import io
import math

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PatchCollection
from matplotlib.figure import Figure
from matplotlib.patches import Ellipse, Rectangle

from colorclass.color import hcl_to_rgb, lab_to_rgb_with_gamut


def _subplots(figsize: tuple[float, float], nrows: int = 1, ncols: int = 1, **kw):
    """``(Figure, axes)`` like ``pyplot.subplots``, on an Agg canvas and outside pyplot."""
    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig, fig.subplots(nrows, ncols, **kw)


def _lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    return lab_to_rgb_with_gamut(torch.from_numpy(np.asarray(lab, np.float32)), dim=-1)[0].numpy()


def _prior_label(bins, q: int) -> str:
    return f"{q}\n{100 * bins.prior[q]:.1f}%" if bins.prior is not None else str(q)


def _kmeans_figure(bins):
    rgb = bins.centers if bins.space == "rgb" else _lab_to_rgb(bins.centers)
    cols = min(8, bins.n_bins)
    rows = math.ceil(bins.n_bins / cols)
    fig, ax = _subplots((1.1 * cols + 0.4, 1.25 * rows + 0.7))
    for q, colour in enumerate(rgb):
        r, c = divmod(q, cols)
        ax.add_patch(Rectangle((c, -r - 0.8), 0.92, 0.8, color=colour))
        dark = colour @ np.array([0.299, 0.587, 0.114]) < 0.5
        ax.text(c + 0.46, -r - 0.4, _prior_label(bins, q), ha="center", va="center", fontsize=8,
                color="white" if dark else "black")
    ax.set_xlim(-0.05, cols)
    ax.set_ylim(-rows - 0.05, 0.05)
    ax.set_axis_off()
    ax.set_title(f"k-means bins in {bins.space.upper()}, Q={bins.n_bins} (index, prior)", fontsize=10)
    return fig


def _hc_background(ax, size: int = 300) -> None:
    xs = np.linspace(-1.05, 1.05, size, dtype=np.float32)
    x, y = np.meshgrid(xs, -xs)
    hcl = np.stack([np.mod(np.arctan2(y, x), 2 * np.pi), np.hypot(x, y), np.full_like(x, 0.5)], -1)
    rgb = hcl_to_rgb(torch.from_numpy(hcl), dim=-1).numpy()
    rgb[np.hypot(x, y) > 1] = 1.0
    ax.imshow(rgb, extent=(-1.05, 1.05, -1.05, 1.05), alpha=0.55)
    ax.set_xlabel("chroma · cos(hue)")
    ax.set_ylabel("chroma · sin(hue)")


def _gmm_figure(bins):
    fig, ax = _subplots((7, 7))
    _hc_background(ax)
    for q in range(bins.n_bins):
        values, vectors = np.linalg.eigh(bins.covariances[q])
        angle = math.degrees(math.atan2(vectors[1, 1], vectors[0, 1]))
        width, height = 4 * np.sqrt(values[::-1])   # 2 sigma along each axis
        ax.add_patch(Ellipse(bins.means[q], width, height, angle=angle, fill=False, lw=1.2,
                             color="black", alpha=0.35 + 0.65 * bins.weights[q] / bins.weights.max()))
        ax.text(*bins.means[q], str(q), fontsize=7, ha="center", va="center")
    ax.set_title(f"GMM Hue-Chroma bins, Q={bins.n_bins} (2-sigma ellipses, darker = heavier)", fontsize=10)
    return fig


def _hcgrid_figure(bins):
    fig, ax = _subplots((7, 7))
    _hc_background(ax)
    xy = np.stack([bins.centers_hc[:, 1] * np.cos(bins.centers_hc[:, 0]),
                   bins.centers_hc[:, 1] * np.sin(bins.centers_hc[:, 0])], 1)
    ax.scatter(xy[:, 0], xy[:, 1], s=12, c="black")
    for q, (x, y) in enumerate(xy):
        ax.text(x, y + 0.03, str(q), fontsize=7, ha="center")
    ax.set_title(f"Hue-Chroma grid, Q={bins.n_bins} ({bins.n_chroma} chroma rings x {bins.n_hue} hues)",
                 fontsize=10)
    return fig


def _grid_figure(bins):
    step = bins.step
    panels = 2 if bins.prior is not None else 1
    fig, axes = _subplots((6.5 * panels, 6.5), 1, panels, squeeze=False)
    ab = bins.centers_ab
    squares = [Rectangle((a - step / 2, b - step / 2), step, step) for a, b in ab]
    colours = _lab_to_rgb(np.concatenate([np.full((len(ab), 1), 60.0), ab], 1))
    axes[0, 0].add_collection(PatchCollection(squares, facecolors=colours, edgecolors="white", linewidths=0.3))
    axes[0, 0].set_title(f"ab grid bins, Q={bins.n_bins}, step {step:g} (L=60, clipped)", fontsize=10)
    if bins.prior is not None:
        log_p = np.log10(np.maximum(bins.prior, 1e-8))
        coll = PatchCollection([Rectangle(r.get_xy(), step, step) for r in squares], cmap="viridis",
                               edgecolors="white", linewidths=0.3)
        coll.set_array(log_p)
        axes[0, 1].add_collection(coll)
        fig.colorbar(coll, ax=axes[0, 1], fraction=0.046, label="log10 prior")
        axes[0, 1].set_title("empirical prior", fontsize=10)
    for ax in axes[0]:
        ax.set_xlim(-120, 120)
        ax.set_ylim(-120, 120)
        ax.set_aspect("equal")
        ax.set_xlabel("a")
        ax.set_ylabel("b")
    return fig


_FIGURES = {"kmeans": _kmeans_figure, "gmm": _gmm_figure, "hcgrid": _hcgrid_figure, "grid": _grid_figure}


def palette_png_bytes(bins) -> bytes:
    """The palette picture suited to ``bins.family``, rendered as PNG bytes."""
    fig = _FIGURES[bins.family](bins)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()
