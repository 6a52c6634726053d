"""Uploaded photos: the checks a file passes before the page's server decodes it.

    request body (bytes) + the browser's file name -> *read_upload* -> Upload(rgb (H, W, 3) uint8,
        output suffix) or UploadError (one line: too large, too many pixels, empty, not an image,
        corrupt or truncated)

Limits are checked cheapest first: the byte count (before the body is read, by the HTTP handler),
then the pixel count from the header (Pillow reads only the header; a 60,000 x 60,000 PNG is refused
without decoding it), then the full decode through ``photos.load_rgb`` -- the same reader as
``colorize``, so the page sees the same pixels as ``colorize`` for the same file (EXIF orientation,
modes, 16-bit). The file name only decides the output format (as ``colorize --format auto``: a JPEG
for .jpg / .jpeg / .jpe, else a PNG); it is never used as a path.
"""
from __future__ import annotations

import io
import os
import re
import tempfile
import warnings
from dataclasses import dataclass

import numpy as np

from colorclass.support.errors import ColorclassError

__all__ = ["MAX_UPLOAD_BYTES", "MAX_UPLOAD_PIXELS", "RequestError", "UploadError", "Upload", "read_upload",
           "output_suffix", "display_name", "check_size"]

MAX_UPLOAD_BYTES = 20_000_000     # 20 MB: a 40 MP JPEG of quality 95 is about 15 MB
MAX_UPLOAD_PIXELS = 40_000_000    # 40 megapixels (the decoded photo alone is 120 MB)
_JPEG_INPUTS = (".jpg", ".jpeg", ".jpe")   # colorize_files: these give a JPEG output, the rest a PNG
_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"II*\x00", b"MM\x00*", b"BM", b"GIF8")


class RequestError(ColorclassError):
    """A request the page's server refuses, in one line; ``status`` is the HTTP status."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class UploadError(RequestError):
    """A file the page cannot use as a photo (HTTP 400, or 413 when too large)."""


@dataclass(frozen=True)
class Upload:
    """A decoded photo: ``rgb`` (H, W, 3) uint8, ``suffix`` of ``colorize``'s output (".jpg" or
    ".png"), ``name`` as shown on the page."""

    rgb: np.ndarray
    suffix: str
    name: str


def display_name(name: str | None) -> str:
    """The browser's file name reduced to a harmless label (no folders, at most 80 characters)."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(c for c in base if c.isprintable()).strip() or "photo"
    return base[:80]


def output_suffix(name: str) -> str:
    """``colorize --format auto``'s output suffix for an input called ``name``."""
    return ".jpg" if os.path.splitext(name)[1].lower() in _JPEG_INPUTS else ".png"


def check_size(n_bytes: int) -> None:
    """Refuse a body over MAX_UPLOAD_BYTES (before reading it) or an empty one."""
    if n_bytes > MAX_UPLOAD_BYTES:
        raise UploadError(f"the file is {n_bytes / 1e6:.1f} MB, over the {MAX_UPLOAD_BYTES // 1_000_000} MB "
                          "limit of this page; upload a smaller photo", status=413)
    if n_bytes <= 0:
        raise UploadError("the file is empty (0 bytes); choose a photo (JPEG, PNG, TIFF, BMP or WebP)")


def _header_size(data: bytes, name: str) -> tuple[int, int]:
    """(width, height) from the header only; refuses non-images and decompression bombs."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                return im.size
    except Image.DecompressionBombError as e:
        found = re.search(r"\((\d+) pixels\)", str(e))
        what = f"{int(found.group(1)) / 1e6:,.0f} megapixels" if found else "too many pixels"
        raise UploadError(f"{name}: the photo has {what}, over the {MAX_UPLOAD_PIXELS // 1_000_000} megapixel "
                          "limit of this page; resize it first", status=413) from None
    except UnidentifiedImageError:
        if data.startswith(_SIGNATURES) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP"):
            raise UploadError(f"{name} is corrupt or truncated (its header cannot be read); choose another "
                              "photo") from None
        raise UploadError(f"{name} is not an image this page can read; choose a JPEG, PNG, TIFF, BMP or "
                          "WebP photo") from None
    except Exception as e:  # noqa: BLE001 -- any header failure is a broken file, never a crash
        raise UploadError(f"{name} is corrupt ({type(e).__name__}); choose another photo") from None


def read_upload(data: bytes, name: str | None) -> Upload:
    """Check and decode an uploaded file (rules: module docstring); raises UploadError."""
    from colorclass.photos import UnreadableImage, load_rgb
    from colorclass.support.limits import photo_limit

    label = display_name(name)
    check_size(len(data))
    width, height = _header_size(data, label)
    if width * height > MAX_UPLOAD_PIXELS:
        raise UploadError(f"{label}: the photo is {width:,} x {height:,} pixels ({width * height / 1e6:,.0f} "
                          f"megapixels), over the {MAX_UPLOAD_PIXELS // 1_000_000} megapixel limit of this "
                          "page; resize it first", status=413)
    reason = photo_limit(width, height)
    if reason:
        raise UploadError(f"{label}: {reason} ({width} x {height} pixels); crop or resize the photo")
    suffix = output_suffix(label)
    # photos.load_rgb reads files: a private temporary file (removed at once) keeps one reader for
    # colorize and the page; its name is never shown to the browser
    fd, tmp = tempfile.mkstemp(prefix="colorclass-upload-", suffix=os.path.splitext(label)[1][:8] or ".img")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        rgb = load_rgb(tmp)
    except UnreadableImage as e:
        what = {"corrupt": "is corrupt or truncated", "not an image": "is not an image", "empty file": "is empty",
                "too large": "has too many pixels"}.get(e.reason, f"cannot be read ({e.reason})")
        raise UploadError(f"{label} {what}; choose another photo (JPEG, PNG, TIFF, BMP or WebP)") from None
    finally:
        os.unlink(tmp)
    return Upload(rgb=rgb, suffix=suffix, name=label)
