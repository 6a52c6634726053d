"""Built-in baselines for evaluation: what a model must beat.

    training photos -> *mean_ab_of_files* -> RUN/data_stats.json (written at training time)
    RUN -> *run_mean_ab* -> evaluate's ``mean`` baseline;  gray photo -> *baseline_prediction*

``gray`` predicts ab = 0 everywhere (the input lightness only); ``mean`` predicts the mean ab
of the run's training data everywhere. Both keep the photo's own L, like every colouriser.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from colorclass.support.errors import ColorclassError

__all__ = ["BASELINES", "DATA_STATS_FILE", "mean_ab_of_files", "write_data_stats", "run_mean_ab",
           "read_data_stats", "baseline_prediction", "AB_RANGE"]

BASELINES = ("gray", "mean")
DATA_STATS_FILE = "data_stats.json"
STATS_SAMPLE = 1000  # photos, evenly spaced over the training list: cheap and stable to ~0.1 ab
AB_RANGE = 128.0     # |a|, |b| of any sRGB colour is below this: a mean_ab outside it is a broken file


def mean_ab_of_files(files, max_photos: int = STATS_SAMPLE) -> tuple[np.ndarray, int, int]:
    """Mean Lab ab over the pixels of (an evenly spaced sample of) ``files``.

    Returns (mean_ab (2,) float64, n_pixels, n_photos). Unreadable files are skipped.
    """
    from colorclass.color import rgb_u8_to_lab_np
    from colorclass.photos import UnreadableImage, load_rgb

    files = list(files)
    if max_photos and len(files) > max_photos:
        files = [files[i] for i in np.linspace(0, len(files) - 1, max_photos).round().astype(int)]
    total, n_pix, n_photos = np.zeros(2), 0, 0
    for f in files:
        try:
            ab = rgb_u8_to_lab_np(load_rgb(f))[..., 1:].reshape(-1, 2)
        except UnreadableImage:
            continue
        total += ab.sum(0)
        n_pix += ab.shape[0]
        n_photos += 1
    if not n_pix:
        raise ColorclassError("no readable photos to compute the mean ab from")
    return total / n_pix, n_pix, n_photos


def write_data_stats(run_dir: str | Path, files, source: str, max_photos: int = STATS_SAMPLE) -> dict:
    """Record the training data's mean ab in ``RUN/data_stats.json`` (atomic) and return it."""
    from colorclass.support.files import atomic_write_text

    files = list(files)
    mean, n_pix, n_photos = mean_ab_of_files(files, max_photos)
    stats = {"mean_ab": [round(float(v), 4) for v in mean], "n_pixels": n_pix, "n_photos": n_photos,
             "n_training_photos": len(files), "source": str(source),
             "sample": f"{n_photos} of {len(files)} training photos, evenly spaced"}
    atomic_write_text(Path(run_dir) / DATA_STATS_FILE, json.dumps(stats, indent=2))
    return stats


def read_data_stats(path: str | Path) -> np.ndarray:
    """The ``mean_ab`` (2,) float64 of a data_stats.json, checked: a regular file of at most
    ``MAX_RECORD_BYTES``, a JSON object whose ``mean_ab`` is two finite numbers in
    [-AB_RANGE, AB_RANGE]; else one InputFileError naming the file."""
    from colorclass.support.records import numbers, read_json

    stats = read_json(path, what=DATA_STATS_FILE, fix="delete it and evaluate again (it is recomputed from "
                      "data.train), or retrain", check=lambda d: numbers(d, "mean_ab", length=2, low=-AB_RANGE,
                                                                          high=AB_RANGE))
    return np.asarray(stats["mean_ab"], dtype=np.float64)


def run_mean_ab(run) -> tuple[np.ndarray | None, str]:
    """The ``mean`` baseline's ab for a loaded run, and where it came from (or why it is skipped).

    Reads RUN/data_stats.json; for older runs computes it from the run's training photos
    (``runs.photo_split``, as the runner chose them).
    """
    from colorclass.runs.photo_split import run_photos

    stats_path = Path(run.run_dir) / DATA_STATS_FILE if run.run_dir else None
    if stats_path is not None and os.path.lexists(stats_path):
        return read_data_stats(stats_path), str(stats_path)
    train = run.config.data.train
    if not train or not Path(train).is_dir():
        return None, f"no {DATA_STATS_FILE} in the run and its data.train {train!r} is not a folder"
    files = run_photos(run.config, progress=False).train
    if not files:
        return None, f"no {DATA_STATS_FILE} in the run and no usable photos in data.train {train!r}"
    mean, _, n = mean_ab_of_files(files)
    return mean, f"computed now from {n} photos of data.train {train!r} (the run has no {DATA_STATS_FILE})"


def baseline_prediction(truth_u8: np.ndarray, ab: np.ndarray) -> tuple[np.ndarray, int]:
    """The photo's own L with a constant ``ab`` (2,), recombined exactly like a run's prediction
    (``decode.recombine_full_resolution``). Returns ((H, W, 3) uint8, n_clipped)."""
    import torch

    from colorclass.decoding.decoders import recombine_full_resolution
    from colorclass.inference.network import lightness_of, photo_tensor, to_uint8

    l_full = lightness_of(photo_tensor(truth_u8))
    ab_t = torch.as_tensor(np.asarray(ab, dtype=np.float32)).reshape(1, 2, 1, 1)
    rgb, n_clipped = recombine_full_resolution(l_full, ab_t)
    return to_uint8(rgb)[0], int(n_clipped)
