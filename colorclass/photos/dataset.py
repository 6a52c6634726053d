"""``ImageFolderDataset``: validated photos -> deterministic augmented RGB crops (uint8 tensors).

Pipeline position: photos -> [this: dataset of colour crops] -> quantize / encode targets -> network
-> loss -> decode -> colour image -> metrics / reports. Layer: above ``scan`` (with ``augment`` for
the crop geometry and ``cache`` for decoded photos). The L/ab split and target encoding happen
later, in ``colorclass/training/colorization_task.py``; this module only yields colour.

Determinism: the augmentation of item ``i`` is drawn from ``np.random.default_rng([seed, epoch,
i])``, so an item depends only on (seed, epoch, index) - not on worker count, batch order or
which items were read before. Call ``set_epoch`` at the start of every epoch, before the
DataLoader iterator is created (workers copy the dataset then; with ``persistent_workers=True``
they would keep the old epoch).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset
from tqdm import tqdm

from colorclass.photos.augment import apply_crop, center_crop, sample_crop, working_image
from colorclass.photos.cache import open_or_build_cache
from colorclass.photos.read import UnreadableImage, load_rgb
from colorclass.photos.scan import list_images, scan_images
from colorclass.support.errors import ColorclassError

__all__ = ["ImageFolderDataset"]


def _check_options(crop_size: int, resize: int, min_scale: float, rotate: float, shear: float,
                   seed: int) -> None:
    if not (isinstance(crop_size, int) and crop_size >= 1):
        raise ValueError(f"crop_size must be a positive int (pixels), got {crop_size!r}")
    if not (isinstance(resize, int) and resize >= 0):
        raise ValueError(f"resize must be an int >= 0 (0 keeps the photo's size), got {resize!r}")
    if not 0.0 < min_scale <= 1.0:
        raise ValueError(f"min_scale must be in (0, 1] (1 = plain random crop), got {min_scale}")
    if not 0.0 <= rotate <= 90.0:
        raise ValueError(f"rotate must be in [0, 90] degrees (0 disables it), got {rotate}")
    if not 0.0 <= shear < 60.0:
        raise ValueError(f"shear must be in [0, 60) degrees (0 disables it), got {shear}")
    if not (isinstance(seed, int) and seed >= 0):
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")


class ImageFolderDataset(Dataset):
    """Colour crops of the usable photos of a folder or file list.

    Args:
        files_or_root: a folder (searched recursively) or a sequence of photo paths.
        crop_size: output side S. Photos smaller than S are upscaled first.
        resize: shorter side of the working image (0 keeps the photo's size); large JPEGs are
            decoded at reduced size (draft mode) when it is set.
        flip, min_scale, rotate, shear: train-mode augmentation (see ``augment.sample_crop``).
        seed: augmentation seed (item = f(seed, epoch, index)).
        min_colorfulness: skip photos below this Hasler-Suesstrunk colourfulness.
        cache: ``True`` keeps the decoded working images in memory (small-image data sets);
            a path keeps them in a memory-mapped ``.npy`` file (built once, reused while the file
            list and options match; all working images must share one shape).
        train: ``False`` gives the deterministic centre crop without augmentation.
        repeat: each photo appears ``repeat`` times per epoch, each time with its own random
            crop (item ``i`` shows photo ``i % n_photos``); useful for a handful of large photos.

    Items: ``{"rgb": Tensor (3, S, S) uint8, "index": int}``.
    Attributes: ``files`` (validated), ``skip_report`` (what was left out and why).
    """

    def __init__(self, files_or_root: str | Path | Sequence[str | Path], *, crop_size: int,
                 resize: int = 0, flip: bool = True, min_scale: float = 1.0, rotate: float = 0.0,
                 shear: float = 0.0, seed: int = 0, min_colorfulness: float = 0.0,
                 cache: bool | str | Path = False, train: bool = True, progress: bool = True,
                 repeat: int = 1):
        _check_options(crop_size, resize, min_scale, rotate, shear, seed)
        if not (isinstance(repeat, int) and repeat >= 1):
            raise ValueError(f"repeat must be an int >= 1, got {repeat!r}")
        self.repeat = repeat
        self.crop_size, self.resize, self.flip = crop_size, resize, flip
        self.min_scale, self.rotate, self.shear = min_scale, rotate, shear
        self.seed, self.train, self.epoch = seed, train, 0
        if isinstance(files_or_root, (str, Path)):
            files = list_images(files_or_root)
        else:
            files = [Path(f) for f in files_or_root]
        self.files, self.skip_report = scan_images(files, min_colorfulness=min_colorfulness,
                                                   progress=progress)
        if not self.files:
            where = files_or_root if isinstance(files_or_root, (str, Path)) else f"{len(files)} files"
            raise ColorclassError(f"no usable photos in {where}; skipped: {self.skip_report.summary()}")
        self._cache: list[np.ndarray] | np.ndarray | None = None
        if cache is True:
            self._cache = [self._decode(i) for i in tqdm(range(len(self.files)), desc="caching photos",
                                                         unit="img", disable=not progress)]
        elif cache:
            self._cache = open_or_build_cache(Path(cache), self, progress=progress)

    def set_epoch(self, epoch: int) -> None:
        """Select the augmentation stream of ``epoch`` (call before each epoch)."""
        if int(epoch) < 0:
            raise ValueError(f"epoch must be >= 0, got {epoch}")
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.files) * self.repeat

    def _decode(self, i: int) -> np.ndarray:
        """Working image of photo ``i`` (H', W', 3) uint8: decoded, resized, at least S wide."""
        rgb = load_rgb(self.files[i], draft_size=self.resize or None)
        return working_image(rgb, resize=self.resize, crop_size=self.crop_size)

    def _working(self, i: int) -> np.ndarray:
        if self._cache is not None:
            return np.asarray(self._cache[i])
        for step in range(len(self.files)):   # a photo changed since the scan: use the next one
            j = (i + step) % len(self.files)
            try:
                return self._decode(j)
            except UnreadableImage as e:
                warnings.warn(f"photo became unreadable after the scan, using the next one: {e}")
        raise RuntimeError("every photo of the data set became unreadable after the scan")

    def __getitem__(self, i: int) -> dict:
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for a data set of {len(self)} photos")
        i = int(i) % len(self)
        rgb = self._working(i % len(self.files))
        h, w = rgb.shape[:2]
        if self.train:
            rng = np.random.default_rng([self.seed, self.epoch, i])
            params = sample_crop(rng, w, h, crop_size=self.crop_size, min_scale=self.min_scale,
                                 rotate=self.rotate, shear=self.shear, flip=self.flip)
        else:
            params = center_crop(w, h, crop_size=self.crop_size)
        crop = apply_crop(Image.fromarray(rgb), params, self.crop_size)
        return {"rgb": torch.from_numpy(np.ascontiguousarray(crop.transpose(2, 0, 1))), "index": i}
