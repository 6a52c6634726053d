"""What a classifier's distributions say, per photo and per bin: the report's analysis figures.

    photos -> Predictor.predict (the one path) -> softmax over the Q bins
        -> *label_stats*: confusion (target bin x predicted bin), target frequencies, entropy maps,
           average-region colours of the predicted and target labels
        -> PNG figures (palette with priors, confusions, entropy, regions) for reports.page

Pure parts first (entropy, top confusions); drawing functions take arrays and write one PNG each.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from colorclass.evaluation.grids import gray_of
from colorclass.support.files import atomic_path

__all__ = ["entropy_map", "top_confusions", "label_stats", "draw_palette_priors", "draw_confusions",
           "draw_entropy", "draw_regions", "draw_triplets", "bin_colours"]


def entropy_map(logits: torch.Tensor) -> torch.Tensor:
    """Per-pixel entropy (nats) of softmax(logits): (B, Q, h, w) -> (B, h, w), in [0, log Q]."""
    logp = logits.float().log_softmax(1)
    return -(logp.exp() * logp).sum(1)


def top_confusions(confusion: np.ndarray, top: int = 12) -> list[tuple[int, int, int]]:
    """Most frequent off-diagonal (target bin, predicted bin, count), largest first, count > 0."""
    c = np.array(confusion, dtype=np.int64, copy=True)
    np.fill_diagonal(c, 0)
    order = np.argsort(c.ravel())[::-1][:top]
    q = c.shape[1]
    return [(int(i // q), int(i % q), int(c.ravel()[i])) for i in order if c.ravel()[i] > 0]


def bin_colours(bins) -> np.ndarray:
    """(Q, 3) float sRGB in [0, 1] of every bin: its own colour for RGB / Lab bins, else its centre's
    ab at L = 65 (the palette's convention for chroma-only bins)."""
    from colorclass.color import lab_to_rgb_with_gamut

    space = getattr(bins, "space", "")
    if space == "rgb":
        return np.clip(np.asarray(bins.centers, dtype=np.float64), 0, 1)
    if space == "lab":
        lab = torch.as_tensor(np.asarray(bins.centers), dtype=torch.float32)
        return lab_to_rgb_with_gamut(lab, dim=-1)[0].numpy()
    ab = torch.as_tensor(np.asarray(bins.centers_ab), dtype=torch.float32)
    lab = torch.cat([torch.full_like(ab[:, :1], 65.0), ab], -1)
    return lab_to_rgb_with_gamut(lab, dim=-1)[0].numpy()


@torch.no_grad()
def label_stats(predictor, photos: list[np.ndarray], n_show: int = 6) -> dict:
    """Confusion (Q, Q) [target, predicted], target counts (Q,), and for the first ``n_show``
    photos (truth, entropy (h, w), region colours by predicted / target labels) at network scale."""
    from colorclass.decoding.decoders import region_average
    q = predictor.bins.n_bins
    encoder = predictor.bins.encoder(device=str(predictor.device))
    confusion = np.zeros((q, q), dtype=np.int64)
    shown = []
    for i, rgb in enumerate(photos):
        p = predictor.predict(predictor.photo(rgb))
        label = p.output.argmax(1)                                                 # (1, h, w)
        truth = torch.from_numpy(rgb).permute(2, 0, 1)[None].float().to(predictor.device)
        truth = F.interpolate(truth, size=label.shape[1:], mode="area")
        target = encoder.hard(truth.round().clamp(0, 255).byte())
        confusion += np.bincount((target * q + label).cpu().numpy().ravel(), minlength=q * q).reshape(q, q)
        if i < n_show:
            regions = [region_average(lab, truth / 255)[0].permute(1, 2, 0).clamp(0, 1).cpu().numpy()
                       for lab in (label, target)]
            shown.append((rgb, entropy_map(p.output)[0].cpu().numpy(), *regions))
    return {"confusion": confusion, "target_counts": confusion.sum(1), "shown": shown, "n_photos": len(photos)}


def _figure(w: float, h: float, rows: int = 1, cols: int = 1):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h))
    return fig, fig.subplots(rows, cols, squeeze=False)


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=80)
    return Path(path)


def draw_palette_priors(bins, prior: np.ndarray, source: str, path: Path) -> Path:
    """Bars: one per bin, in the bin's colour, height = its prior (frequency), sorted by prior."""
    colours, order = bin_colours(bins), np.argsort(prior)[::-1]
    fig, ax = _figure(12, 3.2)
    ax = ax[0, 0]
    ax.bar(range(len(order)), 100 * prior[order], color=colours[order], edgecolor="#444", linewidth=0.3)
    ax.set_xticks(range(len(order)), [str(i) for i in order], fontsize=6 if len(order) > 40 else 8)
    ax.set_xlabel("bin index (sorted by prior)")
    ax.set_ylabel("prior %")
    ax.set_title(f"{bins.n_bins} bins in their colours; prior {source}", fontsize=10)
    return _save(fig, path)


def draw_confusions(bins, pairs: list[tuple[int, int, int]], total: int, path: Path) -> Path:
    """Swatch pairs target -> predicted with counts (share of all labelled pixels)."""
    from matplotlib.patches import Rectangle

    colours = bin_colours(bins)
    n = max(len(pairs), 1)
    fig, ax = _figure(7, 0.45 * n + 0.8)
    ax = ax[0, 0]
    for r, (t, p, c) in enumerate(pairs):
        ax.add_patch(Rectangle((0, -r - 0.9), 1, 0.8, color=colours[t], ec="#444"))
        ax.text(1.15, -r - 0.5, "->", va="center", fontsize=10)
        ax.add_patch(Rectangle((1.6, -r - 0.9), 1, 0.8, color=colours[p], ec="#444"))
        ax.text(2.8, -r - 0.5, f"target bin {t} predicted as {p}: {c} px ({100 * c / max(total, 1):.1f} %)",
                va="center", fontsize=9)
    ax.set_xlim(0, 9)
    ax.set_ylim(-n - 0.1, 0.1)
    ax.set_axis_off()
    ax.set_title("most frequent confusions (target colour -> predicted colour), network resolution", fontsize=10)
    return _save(fig, path)


def draw_entropy(shown: list, n_bins: int, path: Path) -> Path:
    """Photo beside its per-pixel entropy map, one shared scale 0..log Q nats."""
    n = max(len(shown), 1)
    fig, axes = _figure(2.2 * n + 1.0, 4.6, 2, n)
    vmax, im = math.log(n_bins), None
    for j, (rgb, ent, _, _) in enumerate(shown):
        axes[0, j].imshow(rgb, interpolation="nearest")
        im = axes[1, j].imshow(ent, cmap="magma", vmin=0, vmax=vmax, interpolation="nearest")
    for ax in axes.ravel():
        ax.set_xticks([]), ax.set_yticks([])
    axes[0, 0].set_ylabel("photo"), axes[1, 0].set_ylabel("entropy")
    if im is not None:
        fig.colorbar(im, ax=list(axes[1]), fraction=0.03, label=f"nats (max log {n_bins} = {vmax:.2f})")
    return _save_no_layout(fig, path)


def _save_no_layout(fig, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=80, bbox_inches="tight")
    return Path(path)


def draw_triplets(rows: list[tuple[np.ndarray, np.ndarray]], path: Path) -> Path:
    """Compact gray | predicted | truth figure: one column per photo, rows (gray, predicted, truth).
    rows: (predicted, truth) (H, W, 3) uint8 pairs."""
    n = max(len(rows), 1)
    fig, axes = _figure(1.8 * n + 0.6, 5.8, 3, n)
    for j, (pred, truth) in enumerate(rows):
        for i, img in enumerate((gray_of(truth), pred, truth)):
            axes[i, j].imshow(img, interpolation="nearest")
    for ax in axes.ravel():
        ax.set_xticks([]), ax.set_yticks([])
    for i, name in enumerate(("gray input", "predicted", "truth")):
        axes[i, 0].set_ylabel(name, fontsize=10)
    return _save(fig, path)


def draw_regions(shown: list, path: Path) -> Path:
    """Truth | true colour averaged over the regions of the target labels | of the predicted labels."""
    n = max(len(shown), 1)
    fig, axes = _figure(2.0 * n, 6.2, 3, n)
    for j, (rgb, _, by_pred, by_target) in enumerate(shown):
        for i, img in enumerate((rgb, by_target, by_pred)):
            axes[i, j].imshow(img, interpolation="nearest")
    for ax in axes.ravel():
        ax.set_xticks([]), ax.set_yticks([])
    for i, name in enumerate(("truth", "target labels", "predicted labels")):
        axes[i, 0].set_ylabel(name, fontsize=9)
    return _save(fig, path)
