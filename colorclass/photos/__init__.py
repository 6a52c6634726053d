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

from colorclass.photos.augment import CropParams, apply_crop, center_crop, sample_crop, working_image
from colorclass.photos.colorfulness import channel_variance, colorfulness_scores, hasler_susstrunk
from colorclass.photos.colourless import COLOURLESS_FRACTION, COLOURLESS_TOL, is_colourless, is_colourless_batch
from colorclass.photos.dataset import ImageFolderDataset
from colorclass.photos.inspect import describe_folder, rank_folder
from colorclass.photos.read import GRAY_MODES, IMAGE_EXTENSIONS, STATS_SIZE, UnreadableImage, load_for_stats, load_rgb
from colorclass.photos.sample import sample_pixels
from colorclass.photos.scan import FileCheck, SkipReport, check_file, list_images, scan_images, split_files
from colorclass.photos.write import JPEG_QUALITY, save_image

__all__ = [
    "IMAGE_EXTENSIONS", "GRAY_MODES", "STATS_SIZE", "UnreadableImage", "load_rgb", "load_for_stats",
    "COLOURLESS_TOL", "COLOURLESS_FRACTION", "is_colourless", "is_colourless_batch",
    "channel_variance", "hasler_susstrunk", "colorfulness_scores",
    "list_images", "SkipReport", "FileCheck", "check_file", "scan_images", "split_files",
    "sample_pixels", "CropParams", "apply_crop", "center_crop", "sample_crop", "working_image",
    "ImageFolderDataset", "describe_folder", "rank_folder", "save_image", "JPEG_QUALITY",
]
