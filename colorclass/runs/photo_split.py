"""Which photos a run trains and validates on: the one derivation, from its config.

    config [data] (train, val, val_fraction, max_images, min_colorfulness) + train.seed
        -> *run_photos* -> RunPhotos(train, val, skipped)
        -> the runner's datasets, calibrate's "never on training photos" check, the mean-ab baseline

Torch-free (photos.scan reads headers and pixels with numpy and Pillow only).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["RunPhotos", "run_photos"]


@dataclass
class RunPhotos:
    """train / val: photo paths in the order the runner uses them; skipped_train / skipped_val:
    ``photos.SkipReport`` of the files that cannot be used (with reasons)."""

    train: list[Path]
    val: list[Path]
    skipped_train: Any = None
    skipped_val: Any = field(default=None)


def run_photos(cfg: Any, *, progress: bool = True) -> RunPhotos:
    """The training and validation photos of the experiment ``cfg`` (an ``ExperimentConfig``):
    data.train scanned (colourless and unreadable files skipped, ``min_colorfulness`` applied),
    cut to ``max_images``; validation from data.val, else a seeded ``val_fraction`` split."""
    from colorclass.photos import SkipReport, list_images, scan_images, split_files

    d = cfg.data
    folders = SkipReport()   # symlink loops, unreadable folders
    files, report = scan_images(list_images(d.train, folders), min_colorfulness=d.min_colorfulness,
                                progress=progress)
    report.merge(folders)
    files = files[: d.max_images] if d.max_images else files
    if d.val:
        val, vreport = scan_images(list_images(d.val), min_colorfulness=d.min_colorfulness, progress=progress)
        return RunPhotos(list(files), list(val), report, vreport)
    train, val = split_files(files, val_fraction=d.val_fraction, seed=cfg.train.seed)
    return RunPhotos(list(train), list(val), report, None)
