"""Folder reports: ``describe_folder`` (``colorclass data DIR``) and ``rank_folder`` (``rank-colorful``).

Pipeline position: [this: debugging view of the photos] -> quantize -> encode targets -> network
-> loss -> decode -> colour image -> metrics / reports. Layer: the top of ``colorclass.photos``
(uses ``scan``, ``dataset`` and the colourfulness scores; nothing in photos imports it).

Reports file counts by extension, the size distribution of the usable photos, the skipped files
by reason, and shapes and value ranges of a few crops exactly as ``ImageFolderDataset`` yields
them, converted to Lab (L in [0, 100]; a, b roughly in [-128, 127]) and to the network input
``L / 50 - 1`` in [-1, 1].
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from colorclass.photos.colorfulness import channel_variance, hasler_susstrunk
from colorclass.photos.read import UnreadableImage, load_for_stats, shown
from colorclass.photos.scan import SkipReport, check_file, list_images, scan_images
from colorclass.support.files import atomic_write_text

__all__ = ["describe_folder", "rank_folder"]


def _usable_size(path: Path) -> tuple[int, int]:
    """(width, height) of a photo that ``scan_images`` kept (its check always has a size)."""
    size = check_file(path).size
    if size is None:
        raise ValueError(f"{shown(path)} is no longer a usable photo ({check_file(path).reason}); run again")
    return size


def _size_lines(files: list[Path]) -> list[str]:
    sizes = np.array([_usable_size(f) for f in files], dtype=np.int64)   # (n, 2) width, height
    lines = []
    for name, col in (("width", sizes[:, 0]), ("height", sizes[:, 1])):
        lines.append(f"  {name:6s} min {col.min()}  median {int(np.median(col))}  max {col.max()}")
    short = sizes.min(axis=1)
    lines.append(f"  shorter side < 64 px: {int((short < 64).sum())}, >= 512 px: {int((short >= 512).sum())}")
    return lines


def _sample_lines(files: list[Path], *, crop_size: int, n_samples: int, seed: int) -> list[str]:
    from colorclass.color import lab_to_l_input, rgb_to_lab
    from colorclass.photos.dataset import ImageFolderDataset

    picks = np.random.default_rng(seed).choice(len(files), size=min(n_samples, len(files)), replace=False)
    ds = ImageFolderDataset([files[i] for i in sorted(picks.tolist())], crop_size=crop_size,
                            seed=seed, progress=False)
    lines = [f"samples as the pipeline yields them (train mode, crop_size={crop_size}):"]
    for i in range(len(ds)):
        rgb_u8 = ds[i]["rgb"]
        lab = rgb_to_lab(rgb_u8.float() / 255.0)
        l_in = lab_to_l_input(lab[0])
        (l_lo, l_hi), (a_lo, a_hi), (b_lo, b_hi) = [(float(c.min()), float(c.max())) for c in lab]
        lines.append(f"  {ds.files[i].name}: rgb {tuple(rgb_u8.shape)} {str(rgb_u8.dtype).replace('torch.', '')}"
                     f" [{int(rgb_u8.min())}, {int(rgb_u8.max())}]; L [{l_lo:.1f}, {l_hi:.1f}]"
                     f" a [{a_lo:.1f}, {a_hi:.1f}] b [{b_lo:.1f}, {b_hi:.1f}];"
                     f" net input {tuple(l_in[None].shape)} [{float(l_in.min()):.2f}, {float(l_in.max()):.2f}]")
    return lines


def describe_folder(root: str | Path, *, crop_size: int | None = None, n_samples: int = 4,
                    seed: int = 0, progress: bool = True) -> str:
    """Multi-line report of what the data pipeline sees under ``root`` (``colorclass data DIR``).

    ``crop_size`` of the sample crops defaults to ``min(64, median shorter side)``.
    """
    folders = SkipReport()
    files = list_images(root, folders)
    lines = [f"folder: {shown(root)}", f"photo files: {len(files)}"]
    by_ext = Counter(f.suffix.lower() for f in files)
    lines += [f"  {ext}: {n}" for ext, n in sorted(by_ext.items(), key=lambda kv: (-kv[1], kv[0]))]
    usable, report = scan_images(files, progress=progress)
    report.merge(folders)
    lines.append(f"usable: {len(usable)}, skipped: {report.total}")
    if report.total:
        lines += ["  " + line for line in report.summary().splitlines()]
    if usable:
        lines.append("sizes of usable photos (pixels, after EXIF orientation):")
        lines += _size_lines(usable)
        if crop_size is None:
            crop_size = int(min(64, np.median([min(_usable_size(f)) for f in usable])))
        with torch.no_grad():
            lines += _sample_lines(usable, crop_size=crop_size, n_samples=n_samples, seed=seed)
    else:
        lines.append("no usable photos: nothing to sample")
    return "\n".join(lines)


def rank_folder(root: str | Path, out_path: str | Path, *, progress: bool = True,
                skipped: SkipReport | None = None) -> list[tuple[Path, float]]:
    """Score every readable photo under ``root`` and write them, most colourful first.

    ``out_path`` gets a tab-separated table with a header:
    ``rank  colorfulness  channel_variance  path`` (``.csv`` suffix -> comma-separated).
    Unreadable files are left out and counted in a final ``# skipped`` comment line.
    Returns ``[(path, colorfulness M), ...]`` sorted by decreasing M (ties by path).
    Scores are computed on the same reduced-size decode that ``scan_images`` uses. The table is
    written atomically (a full disk leaves no partial file); file names that are not valid UTF-8
    appear with escapes. ``skipped`` (optional) receives the skip reasons.
    """
    report = skipped if skipped is not None else SkipReport()
    files = list_images(root, report)
    rows = []
    for path in tqdm(files, desc="colourfulness", unit="img", disable=not progress):
        try:
            rgb = load_for_stats(path)
        except UnreadableImage as e:
            report.add(path, e.reason)
            continue
        rows.append((path, hasler_susstrunk(rgb), channel_variance(rgb)))
    rows.sort(key=lambda r: (-r[1], str(r[0])))
    _write_ranking(Path(out_path), rows, report)
    return [(path, m) for path, m, _ in rows]


def _write_ranking(out_path: Path, rows: list[tuple[Path, float, float]], report: SkipReport) -> None:
    """The ranked table of ``rank_folder`` (tab-separated, or comma-separated for ``.csv``)."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    delimiter = "," if out_path.suffix.lower() == ".csv" else "\t"
    fh = io.StringIO()
    writer = csv.writer(fh, delimiter=delimiter, lineterminator="\n")
    writer.writerow(["rank", "colorfulness", "channel_variance", "path"])
    for rank, (path, m, v) in enumerate(rows, start=1):
        writer.writerow([rank, f"{m:.3f}", f"{v:.3f}", shown(path)])
    if report.total:
        fh.write(f"# skipped {report.total}: {report.summary().replace(chr(10), '; ')}\n")
    atomic_write_text(out_path, fh.getvalue())
