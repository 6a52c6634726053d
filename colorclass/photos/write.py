"""Writing photos: the one place where a colour image becomes a file.

    colour image (H, W, 3) uint8 -> *save_image* -> PNG / JPEG file (atomic: temp file + rename)

A crash, Ctrl-C or a full disk leaves either the previous file or none, never a partial one
(``colorclass.support.files.atomic_path``). The format follows the destination's suffix.
``overwrite=False`` never replaces a file that exists when the write ends (another job may have
written it meanwhile): FileExistsError instead. Every photo written here is marked as made by
colorclass (PNG text / EXIF "Software" = ``SOFTWARE``), so that ``made_by_colorclass`` can tell
earlier outputs from a user's own photos.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from colorclass.support.files import atomic_path

__all__ = ["save_image", "made_by_colorclass", "JPEG_QUALITY", "JPEG_SUFFIXES", "SOFTWARE"]

JPEG_QUALITY = 95
JPEG_SUFFIXES = (".jpg", ".jpeg")
SOFTWARE = "colorclass"      # the mark of an output: PNG tEXt "Software", JPEG EXIF Software (0x0131)
_EXIF_SOFTWARE = 0x0131


def _mark(suffix: str) -> dict:
    if suffix in JPEG_SUFFIXES:
        exif = Image.Exif()
        exif[_EXIF_SOFTWARE] = SOFTWARE
        return {"quality": JPEG_QUALITY, "exif": exif.tobytes()}
    if suffix == ".png":
        info = PngImagePlugin.PngInfo()
        info.add_text("Software", SOFTWARE)
        return {"pnginfo": info}
    return {}


def save_image(rgb_u8: np.ndarray, dst: str | Path, *, overwrite: bool = True) -> Path:
    """Write ``rgb_u8: (H, W, 3) uint8`` to ``dst`` atomically; JPEG (quality 95) for .jpg/.jpeg,
    else the format Pillow infers from the suffix (PNG for .png). ``overwrite=False``: raise
    FileExistsError instead of replacing a ``dst`` that exists when the file is complete."""
    dst = Path(dst)
    with atomic_path(dst, overwrite=overwrite) as tmp:
        Image.fromarray(rgb_u8).save(tmp, **_mark(dst.suffix.lower()))
    return dst


def made_by_colorclass(path: str | Path) -> bool:
    """True when ``path`` is a PNG / JPEG written by ``save_image`` (reads the header only);
    False for anything else, unreadable files included."""
    try:
        with Image.open(path) as im:
            if im.format == "PNG":
                return im.info.get("Software") == SOFTWARE
            if im.format == "JPEG":
                return im.getexif().get(_EXIF_SOFTWARE) == SOFTWARE
    except Exception:  # noqa: BLE001 -- any unreadable file is not one of ours
        return False
    return False
