"""colorclass.photos: everything about photos before they become training targets.

Pipeline position: [this: photos] -> quantize (fit bins) -> encode targets -> network -> loss
-> decode -> colour image -> metrics / reports.

Layers (imports go one way, left to right; nothing here imports a higher layer):

    read (load_rgb, UnreadableImage), colourless (the colourless rule), colorfulness (scores)
      <- scan (list_images, check_file, scan_images, SkipReport, split_files)
      <- sample (sample_pixels), augment + cache <- dataset (ImageFolderDataset)
      <- inspect (describe_folder, rank_folder);   write (save_image: atomic PNG / JPEG output)

Every reader returns 8-bit sRGB as ``np.ndarray (H, W, 3) uint8``. Files that cannot be used are
never fatal: ``load_rgb`` raises ``UnreadableImage`` with a short ``reason`` and the scanners count
the reasons in a ``SkipReport``.
"""

import importlib
from typing import Any

# name -> submodule; imported on first use, so that reading and writing photos (read, scan,
# write: numpy and Pillow only) never imports torch (dataset, augment, cache and sample do)
_HOMES = {
    "augment": ("CropParams", "apply_crop", "center_crop", "sample_crop", "working_image"),
    "colorfulness": ("channel_variance", "colorfulness_scores", "hasler_susstrunk"),
    "colourless": ("COLOURLESS_FRACTION", "COLOURLESS_TOL", "is_colourless", "is_colourless_batch"),
    "dataset": ("ImageFolderDataset",),
    "inspect": ("describe_folder", "rank_folder"),
    "read": ("GRAY_MODES", "IMAGE_EXTENSIONS", "STATS_SIZE", "UnreadableImage", "load_for_stats", "load_rgb"),
    "sample": ("sample_pixels",),
    "scan": ("FileCheck", "SkipReport", "check_file", "list_images", "scan_images", "split_files"),
    "write": ("JPEG_QUALITY", "save_image"),
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    if name in _MODULE_OF:
        value = getattr(importlib.import_module(f"colorclass.photos.{_MODULE_OF[name]}"), name)
        globals()[name] = value
        return value
    if name in _HOMES:
        return importlib.import_module(f"colorclass.photos.{name}")
    raise AttributeError(f"module 'colorclass.photos' has no attribute {name!r}")


__all__ = [
    "IMAGE_EXTENSIONS", "GRAY_MODES", "STATS_SIZE", "UnreadableImage", "load_rgb", "load_for_stats",
    "COLOURLESS_TOL", "COLOURLESS_FRACTION", "is_colourless", "is_colourless_batch",
    "channel_variance", "hasler_susstrunk", "colorfulness_scores",
    "list_images", "SkipReport", "FileCheck", "check_file", "scan_images", "split_files",
    "sample_pixels", "CropParams", "apply_crop", "center_crop", "sample_crop", "working_image",
    "ImageFolderDataset", "describe_folder", "rank_folder", "save_image", "JPEG_QUALITY",
]
