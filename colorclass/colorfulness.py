"""Per-image colourfulness scores and a ranked list of a folder.

Pipeline position: photos -> [this: score / filter photos] -> quantize -> encode targets -> network
-> loss -> decode -> colour image -> metrics / reports.

Two scores, both computed on 8-bit RGB in 0..255 units and both exactly 0 for a gray image:

* ``channel_variance``: the variance of the three channel values of each pixel, averaged over the
  image (``mean_p var(R_p, G_p, B_p)``). It is a saturation-like measure that ignores lightness.
* ``hasler_susstrunk``: the colourfulness metric of Hasler and Suesstrunk (2003),
  ``M = sqrt(std_rg^2 + std_yb^2) + 0.3 * sqrt(mean_rg^2 + mean_yb^2)`` with ``rg = R - G`` and
  ``yb = (R + G) / 2 - B``. Their perceptual scale: 0 not colourful, 15 slightly, 33 moderately,
  45 averagely, 59 quite, 82 highly, 109 extremely colourful.

``ImageFolderDataset(min_colorfulness=...)`` and ``scan_images`` filter on ``hasler_susstrunk``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from tqdm import tqdm

__all__ = ["channel_variance", "hasler_susstrunk", "colorfulness_scores", "rank_folder"]


def _as_rgb_float(rgb_u8: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 -> (N, 3) float64 pixel list in 0..255."""
    rgb = np.asarray(rgb_u8)
    if rgb.ndim < 2 or rgb.shape[-1] != 3:
        raise ValueError(f"expected an RGB array of shape (..., 3), got shape {rgb.shape}; "
                         "load photos with colorclass.data.load_rgb")
    if rgb.size == 0:
        raise ValueError(f"expected a non-empty RGB array, got shape {rgb.shape}")
    return rgb.reshape(-1, 3).astype(np.float64)


def channel_variance(rgb_u8: np.ndarray) -> float:
    """Mean over pixels of the variance of (R, G, B); ``rgb_u8``: (..., 3) uint8. Gray -> 0."""
    return float(_as_rgb_float(rgb_u8).var(axis=1).mean())


def hasler_susstrunk(rgb_u8: np.ndarray) -> float:
    """Hasler-Suesstrunk colourfulness M of ``rgb_u8`` ((..., 3) uint8, 0..255 units). Gray -> 0."""
    px = _as_rgb_float(rgb_u8)
    r, g, b = px[:, 0], px[:, 1], px[:, 2]
    rg = r - g
    yb = 0.5 * (r + g) - b
    std_term = np.sqrt(rg.var() + yb.var())
    mean_term = np.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    return float(std_term + 0.3 * mean_term)


def colorfulness_scores(rgb_u8: np.ndarray) -> dict[str, float]:
    """Both scores of one image: ``{"colorfulness": M, "channel_variance": v}``."""
    return {"colorfulness": hasler_susstrunk(rgb_u8), "channel_variance": channel_variance(rgb_u8)}


def rank_folder(root: str | Path, out_path: str | Path, *, progress: bool = True
                ) -> list[tuple[Path, float]]:
    """Score every readable photo under ``root`` and write them, most colourful first.

    ``out_path`` gets a tab-separated table with a header:
    ``rank  colorfulness  channel_variance  path`` (``.csv`` suffix -> comma-separated).
    Unreadable files are left out and counted in a final ``# skipped`` comment line.
    Returns ``[(path, colorfulness M), ...]`` sorted by decreasing M (ties by path).
    Scores are computed on the same reduced-size decode that ``scan_images`` uses.
    """
    from .data import SkipReport, UnreadableImage, list_images, load_for_stats

    files = list_images(root)
    rows, report = [], SkipReport()
    for path in tqdm(files, desc="colourfulness", unit="img", disable=not progress):
        try:
            rgb = load_for_stats(path)
        except UnreadableImage as e:
            report.add(path, e.reason)
            continue
        rows.append((path, hasler_susstrunk(rgb), channel_variance(rgb)))
    rows.sort(key=lambda r: (-r[1], str(r[0])))
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    delimiter = "," if out_path.suffix.lower() == ".csv" else "\t"
    with open(out_path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, delimiter=delimiter, lineterminator="\n")
        writer.writerow(["rank", "colorfulness", "channel_variance", "path"])
        for rank, (path, m, v) in enumerate(rows, start=1):
            writer.writerow([rank, f"{m:.3f}", f"{v:.3f}", str(path)])
        if report.total:
            fh.write(f"# skipped {report.total}: {report.summary().replace(chr(10), '; ')}\n")
    return [(path, m) for path, m, _ in rows]
