"""Atomic file writes: the one home of the rule "a file is either the old one or the new one".

    any writer (checkpoints, log.csv, bins, pictures, colourised photos, reports)
        -> *atomic_write_bytes* / *atomic_path* -> temp file in the same folder
        -> flush + fsync -> os.replace (or, exclusive: os.link + unlink) -> fsync the folder

A crash, a full disk, Ctrl-C or SIGTERM (inside ``sigterm_as_interrupt``) in the middle leaves
the previous file (or no file) and never a 0-byte or half-written one; the temporary file is
removed on any failure, KeyboardInterrupt included. ``atomic_path(path, overwrite=False)`` never
replaces a file that appeared meanwhile (another process writing the same name): it raises
FileExistsError instead. The rest of colorclass imports these helpers from here (the engine may
import nothing outside itself).
"""
from __future__ import annotations

import contextlib
import errno
import os
import signal
import threading
from pathlib import Path
from typing import Iterator

from colorclass.support.errors import UsageError

__all__ = ["atomic_write_bytes", "atomic_write_text", "atomic_path", "temp_name", "sigterm_as_interrupt",
           "check_output_file"]

# os.link failures that mean "this file system has no hard links" (FAT, exFAT, some network shares)
_NO_HARD_LINKS = {errno.EPERM, errno.EACCES, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS,
                  errno.EXDEV}


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


def _publish_exclusive(tmp: Path, path: Path) -> None:
    """``tmp`` becomes ``path`` unless ``path`` exists: FileExistsError then (``tmp`` is left for
    the caller to remove). os.link fails atomically when ``path`` exists; on a file system
    without hard links the check and the rename are two steps (a tiny window, documented)."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise FileExistsError(errno.EEXIST, "appeared while it was being written; not replaced",
                              str(path)) from None
    except OSError as e:
        if e.errno not in _NO_HARD_LINKS:
            raise
        if os.path.lexists(path):
            raise FileExistsError(errno.EEXIST, "appeared while it was being written; not replaced",
                                  str(path)) from None
        os.replace(tmp, path)
        return
    tmp.unlink()


@contextlib.contextmanager
def atomic_path(path: str | Path, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on a clean exit it becomes ``path`` atomically.

    For writers that want a file name (``Image.save``, ``savefig``, ``np.save``): write the
    whole file to the yielded path. On an exception (KeyboardInterrupt too) the temporary file
    is removed and ``path`` is left as it was. The temporary keeps ``path``'s suffix so format
    sniffing works. ``overwrite=False``: never replace an existing ``path`` -- a file that
    appeared while this one was written raises FileExistsError (the new file is dropped).
    """
    path = Path(path)
    tmp = temp_name(path)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            _publish_exclusive(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        if e.filename is None:   # a full disk (ENOSPC from write or fsync) names no file: name the destination
            raise OSError(e.errno, e.strerror or str(e), str(path)) from e
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Inside the block SIGTERM raises KeyboardInterrupt (as Ctrl-C does), so ``atomic_path``
    removes its temporary file and the command line exits 130 with one line; the previous
    handler is restored on leaving. Does nothing outside the main thread or without SIGTERM."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGTERM"):
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def atomic_write_bytes(path: str | Path, data: bytes, *, overwrite: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically (temp file, fsync, rename, fsync folder);
    ``overwrite=False``: FileExistsError rather than replace an existing ``path``."""
    path = Path(path)
    with atomic_path(path, overwrite=overwrite) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """``atomic_write_bytes`` for UTF-8 text."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def check_output_file(path: str | Path | None, what: str) -> None:
    """The one output-path check, before any work: an output file's path must not be a folder, and
    its folder must exist and be a folder (UsageError naming the option, the path and the fix).
    None passes."""
    if path is None:
        return
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"{what} {str(path)!r} is a folder; pass a file name, e.g. {p / 'out'}")
    for parent in p.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UsageError(f"{what} {str(path)!r}: {str(parent)!r} is a file, not a folder")
            break
    if not p.parent.is_dir():
        raise UsageError(f"{what} {str(path)!r}: folder {str(p.parent)!r} does not exist; create it first")
