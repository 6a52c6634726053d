"""Writing photos: the one place where a colour image becomes a file.

    colour image (H, W, 3) uint8 -> *save_image* -> PNG / JPEG file (atomic: temp file + rename)

A crash, Ctrl-C or a full disk leaves either the previous file or none, never a partial one
(``colorclass.support.files.atomic_path``). The format follows the destination's suffix.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from colorclass.support.files import atomic_path

__all__ = ["save_image", "JPEG_QUALITY", "JPEG_SUFFIXES"]

JPEG_QUALITY = 95
JPEG_SUFFIXES = (".jpg", ".jpeg")


def save_image(rgb_u8: np.ndarray, dst: str | Path) -> Path:
    """Write ``rgb_u8: (H, W, 3) uint8`` to ``dst`` atomically; JPEG (quality 95) for .jpg/.jpeg,
    else the format Pillow infers from the suffix (PNG for .png)."""
    dst = Path(dst)
    options = {"quality": JPEG_QUALITY} if dst.suffix.lower() in JPEG_SUFFIXES else {}
    with atomic_path(dst) as tmp:
        Image.fromarray(rgb_u8).save(tmp, **options)
    return dst
