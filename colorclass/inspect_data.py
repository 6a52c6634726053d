"""``describe_folder``: the text of ``colorclass data DIR`` - what the data pipeline sees in a folder.

Pipeline position: [this: debugging view of the photos] -> quantize -> encode targets -> network
-> loss -> decode -> colour image -> metrics / reports.

Reports file counts by extension, the size distribution of the usable photos, the skipped files
by reason, and shapes and value ranges of a few crops exactly as ``ImageFolderDataset`` yields
them, converted to Lab (L in [0, 100]; a, b roughly in [-128, 127]) and to the network input
``L / 50 - 1`` in [-1, 1].
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import torch

from .data import check_file, list_images, scan_images


def _size_lines(files: list[Path]) -> list[str]:
    sizes = np.array([check_file(f).size for f in files], dtype=np.int64)   # (n, 2) width, height
    lines = []
    for name, col in (("width", sizes[:, 0]), ("height", sizes[:, 1])):
        lines.append(f"  {name:6s} min {col.min()}  median {int(np.median(col))}  max {col.max()}")
    short = sizes.min(axis=1)
    lines.append(f"  shorter side < 64 px: {int((short < 64).sum())}, >= 512 px: {int((short >= 512).sum())}")
    return lines


def _sample_lines(files: list[Path], *, crop_size: int, n_samples: int, seed: int) -> list[str]:
    from .color import lab_to_l_input, rgb_to_lab
    from .dataset import ImageFolderDataset

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
    files = list_images(root)
    lines = [f"folder: {root}", f"photo files: {len(files)}"]
    by_ext = Counter(f.suffix.lower() for f in files)
    lines += [f"  {ext}: {n}" for ext, n in sorted(by_ext.items(), key=lambda kv: (-kv[1], kv[0]))]
    usable, report = scan_images(files, progress=progress)
    lines.append(f"usable: {len(usable)}, skipped: {report.total}")
    if report.total:
        lines += ["  " + line for line in report.summary().splitlines()]
    if usable:
        lines.append("sizes of usable photos (pixels, after EXIF orientation):")
        lines += _size_lines(usable)
        if crop_size is None:
            crop_size = int(min(64, np.median([min(check_file(f).size) for f in usable])))
        with torch.no_grad():
            lines += _sample_lines(usable, crop_size=crop_size, n_samples=n_samples, seed=seed)
    else:
        lines.append("no usable photos: nothing to sample")
    return "\n".join(lines)
