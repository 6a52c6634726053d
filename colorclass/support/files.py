"""Atomic file writes: the one home of the rule "a file is either the old one or the new one".

    any writer (checkpoints, log.csv, bins, pictures, colourised photos, reports)
        -> *atomic_write_bytes* / *atomic_path* -> temp file in the same folder
        -> flush + fsync -> os.replace -> fsync the folder

A crash, a full disk or Ctrl-C in the middle leaves the previous file (or no file) and never a
0-byte or half-written one; the temporary file is removed on any failure. The rest of colorclass
imports these helpers from here (the engine may import nothing outside itself).
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

__all__ = ["atomic_write_bytes", "atomic_write_text", "atomic_path", "temp_name"]


def temp_name(path: Path) -> Path:
    """Hidden temporary name beside ``path``, unique per process, keeping the suffix so that
    writers which sniff the format from the name still work: ``.STEM.tmpPID.SUFFIX``."""
    return path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some file systems do not open folders
        return
    try:
        os.fsync(fd)
    except OSError:  # ... or do not fsync them
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on a clean exit it becomes ``path`` atomically.

    For writers that want a file name (``Image.save``, ``savefig``, ``np.save``): write the
    whole file to the yielded path. On an exception the temporary file is removed and
    ``path`` is left as it was. The temporary keeps ``path``'s suffix so format sniffing works.
    """
    path = Path(path)
    tmp = temp_name(path)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file, fsync, rename, fsync folder)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """``atomic_write_bytes`` for UTF-8 text."""
    return atomic_write_bytes(path, text.encode("utf-8"))
