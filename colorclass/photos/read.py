"""Reading one photo as 8-bit sRGB: EXIF orientation, Pillow modes, bit depths.

Pipeline position: [this: photos (read)] -> quantize (fit bins) -> encode targets -> network
-> loss -> decode -> colour image -> metrics / reports. The lowest layer of ``colorclass.photos``
(imports nothing of colorclass); re-exported by ``colorclass.photos``.

Conversions (``load_rgb``): EXIF orientation applied; palette -> RGB; transparency (RGBA, LA, PA,
palette with a transparent index) is composited on WHITE and dropped; CMYK and YCbCr -> RGB with
Pillow's conversion (ICC profiles are not applied); 16-bit gray (``I;16``) is scaled with
``round(v / 257)``; 48/64-bit RGB(A) PNG/TIFF are decoded by Pillow from the high byte (within one
8-bit level of exact rounding); 32-bit integer gray is read as 16-bit when its maximum exceeds 255;
float gray as [0, 1] when its maximum is <= 1, else clipped to [0, 255]; gray modes are replicated
to three channels.
"""

from __future__ import annotations

import os
import stat
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".tif", ".tiff", ".bmp", ".webp"})
GRAY_MODES: frozenset[str] = frozenset(
    {"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"})
STATS_SIZE = 256            # scans score photos on a decode whose shorter side is about this size


_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"II*\x00", b"MM\x00*", b"BM", b"GIF8")


class UnreadableImage(ValueError):
    """A file that cannot be used as a photo; ``reason`` is short ("corrupt", "not an image", ...)."""

    def __init__(self, path: str | Path, reason: str, detail: str = ""):
        self.path, self.reason = Path(path), reason
        super().__init__(f"{path}: {reason}" + (f" ({detail})" if detail else ""))


def shown(path: str | bytes | os.PathLike) -> str:
    """A path as printable text: bytes of a file name that are not valid UTF-8 appear as
    escapes (``\\udcff``) instead of breaking a print or a UTF-8 file."""
    text = os.fsdecode(path) if isinstance(path, (bytes, os.PathLike)) else str(path)
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


# ----------------------------------------------------------------------------- reading

def _open_image(path: Path) -> Image.Image:
    try:
        st = path.stat()
    except OSError as e:
        raise UnreadableImage(path, "missing file" if isinstance(e, FileNotFoundError)
                              else "permission denied" if isinstance(e, PermissionError)
                              else "unreadable", str(e)) from None
    if not stat.S_ISREG(st.st_mode):   # a FIFO would block the read, a device never end
        raise UnreadableImage(path, "not a regular file")
    if st.st_size == 0:
        raise UnreadableImage(path, "empty file")
    try:
        with warnings.catch_warnings():   # between 1x and 2x the pixel limit Pillow only warns
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(path)
    except PermissionError as e:
        raise UnreadableImage(path, "permission denied", str(e)) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise UnreadableImage(path, "too large", str(e)) from None
    except UnidentifiedImageError:
        with open(path, "rb") as fh:
            head = fh.read(12)
        looks_like_image = head.startswith(_SIGNATURES) or (head[:4] == b"RIFF" and head[8:] == b"WEBP")
        raise UnreadableImage(path, "corrupt" if looks_like_image else "not an image") from None
    except (OSError, SyntaxError, ValueError, struct.error, EOFError) as e:
        raise UnreadableImage(path, "corrupt", str(e)) from None


def _oriented_size(im: Image.Image) -> tuple[int, int]:
    """(width, height) of the full-resolution image after EXIF orientation."""
    w, h = im.size
    try:
        orientation = im.getexif().get(0x0112, 1)
    except Exception:  # malformed EXIF blocks must not make a photo unreadable
        orientation = 1
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


def _to_rgb(im: Image.Image, path: Path) -> Image.Image:
    """Any Pillow mode -> 8-bit RGB (conversions documented in the module docstring)."""
    mode = im.mode
    if mode == "RGB":
        return im
    if mode in ("RGBA", "RGBa", "LA", "La", "PA") or (mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if mode in ("1", "L", "P", "CMYK", "YCbCr", "HSV"):
        return im.convert("RGB")
    if mode.startswith("I") or mode == "F":
        a = np.asarray(im)
        if mode == "F":
            a = np.nan_to_num(a.astype(np.float64))
            a = a * 255.0 if a.max(initial=0.0) <= 1.0 else a
        elif mode != "I" or a.max(initial=0) > 255:
            a = np.clip(a.astype(np.float64), 0, 65535) / 257.0
        gray = np.clip(np.rint(a), 0, 255).astype(np.uint8)
        return Image.fromarray(np.repeat(gray[..., None], 3, axis=2))
    try:
        return im.convert("RGB")
    except (ValueError, OSError) as e:
        raise UnreadableImage(path, f"unsupported mode {mode}", str(e)) from None


def load_with_info(path: str | Path, draft_size: int | None) -> tuple[np.ndarray, str, tuple[int, int]]:
    """(rgb (H, W, 3) uint8, the file's own Pillow mode, full (width, height) after orientation)."""
    path = Path(path)
    im = _open_image(path)
    with im:
        mode = im.mode
        try:
            size = _oriented_size(im)
            if draft_size and im.format == "JPEG":
                im.draft(None, (int(draft_size), int(draft_size)))
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                im.load()
        except PermissionError as e:
            raise UnreadableImage(path, "permission denied", str(e)) from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise UnreadableImage(path, "too large", str(e)) from None
        except (OSError, SyntaxError, ValueError, struct.error, EOFError, zlib.error) as e:
            raise UnreadableImage(path, "corrupt", str(e)) from None
        try:
            im = ImageOps.exif_transpose(im) or im
        except Exception:  # keep the stored orientation when the EXIF block is malformed
            pass
        if im.width == 0 or im.height == 0:
            raise UnreadableImage(path, "empty image")
        rgb = np.array(_to_rgb(im, path), dtype=np.uint8)
    return rgb, mode, size


def load_rgb(path: str | Path, *, draft_size: int | None = None) -> np.ndarray:
    """Read a photo as ``(H, W, 3) uint8`` sRGB; raises ``UnreadableImage`` (see ``.reason``).

    ``draft_size``: for JPEGs, decode at a reduced scale (1/2, 1/4 or 1/8) whose shorter side is
    still at least ``draft_size`` (Pillow draft mode; much faster for large photos). Other formats
    are always decoded at full size.
    """
    if draft_size is not None and draft_size < 1:
        raise ValueError(f"draft_size must be a positive number of pixels or None, got {draft_size}")
    return load_with_info(path, draft_size)[0]


def stats_view(rgb: np.ndarray) -> np.ndarray:
    """Strided subsample so that the shorter side is about STATS_SIZE (scores need no more)."""
    step = max(1, min(rgb.shape[:2]) // STATS_SIZE)
    return rgb[::step, ::step]


def load_for_stats(path: str | Path) -> np.ndarray:
    """The reduced-size decode (shorter side ~``STATS_SIZE``) on which scans score a photo."""
    return stats_view(load_rgb(path, draft_size=STATS_SIZE))

