"""Photo folders: file lists, per-file checks with skip reasons, scans and the train/val split.

Pipeline position: [this: photos (scan)] -> quantize (fit bins) -> encode targets -> network
-> loss -> decode -> colour image -> metrics / reports. Layer: ``read``, ``colourless`` and the
colourfulness scores below; ``sample``, ``dataset`` and ``inspect`` above.

Files that cannot be used are never fatal: ``load_rgb`` raises ``UnreadableImage`` with a short
``reason`` and the scanners count the reasons in a ``SkipReport``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from colorclass.photos.colorfulness import hasler_susstrunk
from colorclass.photos.colourless import is_colourless
from colorclass.photos.read import (
    GRAY_MODES,
    IMAGE_EXTENSIONS,
    STATS_SIZE,
    UnreadableImage,
    load_with_info,
    shown,
    stats_view,
)

__all__ = ["list_images", "SkipReport", "FileCheck", "check_file", "decode_and_check", "remember_check",
           "scan_images", "split_files"]

log = logging.getLogger(__name__)

# ----------------------------------------------------------------------------- file lists

def list_images(root: str | Path, skipped: SkipReport | None = None) -> list[Path]:
    """All photo files under ``root`` (recursive, sorted, by extension; hidden files left out).

    Symbolic links are followed, but each real folder (device, inode) is visited once: a link
    back into the tree is a "symlink loop" and a folder that cannot be listed is "permission
    denied" -- both counted in ``skipped`` (or, without one, summarised on stderr).
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder {shown(root)!r} does not exist or is not a folder; "
                                "pass a directory that contains photos")
    report = skipped if skipped is not None else SkipReport()
    st = root.stat()
    visited = {(st.st_dev, st.st_ino)}

    def on_error(e: OSError) -> None:
        report.add(e.filename or root, "permission denied" if isinstance(e, PermissionError) else "unreadable folder")

    found = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True, onerror=on_error):
        keep = []
        for d in sorted(dirnames):
            if d.startswith("."):
                continue
            try:
                st = os.stat(os.path.join(dirpath, d))
            except OSError as e:  # a dangling or looping link
                report.add(Path(dirpath) / d, "broken link" if isinstance(e, FileNotFoundError)
                           else "symlink loop")
                continue
            if (st.st_dev, st.st_ino) in visited:
                report.add(Path(dirpath) / d, "symlink loop")
                continue
            visited.add((st.st_dev, st.st_ino))
            keep.append(d)
        dirnames[:] = keep
        found += [Path(dirpath) / f for f in filenames
                  if not f.startswith(".") and Path(f).suffix.lower() in IMAGE_EXTENSIONS]
    if skipped is None and report.total:
        log.info(f"note: {report.total} folder(s) under {shown(root)} not searched: "
                 + report.summary().replace("\n", "; "))
    return sorted(found)


class SkipReport:
    """Counts of skipped files by reason, with a few example paths per reason."""

    def __init__(self, max_examples: int = 3):
        self.max_examples = max_examples
        self.counts: dict[str, int] = {}
        self.examples: dict[str, list[str]] = {}

    def add(self, path: str | Path, reason: str) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + 1
        ex = self.examples.setdefault(reason, [])
        if len(ex) < self.max_examples:
            ex.append(shown(path))

    def merge(self, other: SkipReport) -> SkipReport:
        for reason, n in other.counts.items():
            self.counts[reason] = self.counts.get(reason, 0) + n
            room = self.max_examples - len(self.examples.setdefault(reason, []))
            self.examples[reason] += other.examples.get(reason, [])[:max(room, 0)]
        return self

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> str:
        """One line per reason, most frequent first: ``corrupt: 2 (e.g. a.jpg, b.jpg)``."""
        if not self.counts:
            return "nothing skipped"
        order = sorted(self.counts, key=lambda r: (-self.counts[r], r))
        return "\n".join(f"{r}: {self.counts[r]} (e.g. {', '.join(self.examples[r])})" for r in order)

    def to_dict(self) -> dict:
        return {"total": self.total, "counts": dict(self.counts),
                "examples": {r: list(e) for r, e in self.examples.items()}}

    def __str__(self) -> str:
        return self.summary()


@dataclass(frozen=True)
class FileCheck:
    """What a scan learned about one file: why it is skipped (or None), its score and size."""
    reason: str | None
    colorfulness: float | None = None
    size: tuple[int, int] | None = None    # (width, height) at full resolution, after EXIF


MemoKey = tuple[str, int, int]   # (path, mtime_ns, bytes)
_CHECKS: dict[MemoKey, FileCheck] = {}   # memo: (path, mtime_ns, bytes) -> check


def _memo_key(path: Path, st: os.stat_result) -> MemoKey:
    """The memo's key: a file counts as unchanged while its path, mtime and size are."""
    return os.fsdecode(path), st.st_mtime_ns, st.st_size


def check_file(path: str | Path) -> FileCheck:
    """Decode ``path`` at reduced size and classify it (memoised while the file is unchanged)."""
    path = Path(path)
    try:
        st = path.stat()
    except OSError:
        return FileCheck("missing file")
    key = _memo_key(path, st)
    if key not in _CHECKS:
        new_key, check, _ = decode_and_check(path)
        if new_key is None:   # removed since the stat above
            return check
        remember_check(new_key, check)
        key = new_key
    return _CHECKS[key]


def decode_and_check(path: str | Path) -> tuple[MemoKey | None, FileCheck, np.ndarray | None]:
    """Classify ``path`` as :func:`check_file` does, without touching the memo (safe in worker
    processes), and keep the decode it was judged on so that callers needing pixels decode each
    file once. Returns the memo key (None for a missing file), the check, and ``rgb (H, W, 3)
    uint8`` (shorter side about ``STATS_SIZE`` for large JPEGs, else full size; None when
    unreadable)."""
    path = Path(path)
    rgb: np.ndarray | None = None
    try:
        st = path.stat()
        decoded, mode, size = load_with_info(path, STATS_SIZE)
    except UnreadableImage as e:
        check = FileCheck(e.reason)
    except OSError:
        return None, FileCheck("missing file"), None
    else:
        view = stats_view(decoded)
        reason = ("grayscale file" if mode in GRAY_MODES
                  else "no colour" if is_colourless(view) else None)
        check = FileCheck(reason, hasler_susstrunk(view), size)
        rgb = decoded
    return _memo_key(path, st), check, rgb


def remember_check(key: MemoKey, check: FileCheck) -> None:
    """Store a check made elsewhere (e.g. in a worker process) in this process's memo."""
    _CHECKS[key] = check


def scan_images(paths: Iterable[str | Path], *, min_colorfulness: float = 0.0,
                progress: bool = True) -> tuple[list[Path], SkipReport]:
    """Keep the usable photos of ``paths`` (order kept); the rest are counted in the report.

    Skipped: unreadable files (reason from ``UnreadableImage``), grayscale-mode files, RGB files
    without colour (``is_colourless``), and, when ``min_colorfulness > 0``, photos whose
    Hasler-Suesstrunk colourfulness is below it ("colourfulness below X").
    """
    if not min_colorfulness >= 0:
        raise ValueError(f"min_colorfulness must be >= 0 (0 disables the filter), got {min_colorfulness}")
    paths = [Path(p) for p in paths]
    kept, report = [], SkipReport()
    for path in tqdm(paths, desc="checking photos", unit="img", disable=not progress or len(paths) < 2):
        check = check_file(path)
        if check.reason is not None:
            report.add(path, check.reason)
        elif min_colorfulness > 0 and (check.colorfulness is None or check.colorfulness < min_colorfulness):
            report.add(path, f"colourfulness below {min_colorfulness:g}")
        else:
            kept.append(path)
    return kept, report


def split_files(files: Sequence[str | Path], *, val_fraction: float, seed: int
                ) -> tuple[list[Path], list[Path]]:
    """Deterministic random split into (train, val), both sorted; independent of input order.

    With ``val_fraction > 0`` and at least two files, each side gets at least one file.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}; e.g. 0.1 for 10 %")
    paths = sorted({Path(f) for f in files})
    n_val = int(round(len(paths) * val_fraction))
    if val_fraction > 0 and len(paths) >= 2:
        n_val = min(max(n_val, 1), len(paths) - 1)
    order = np.random.default_rng(seed).permutation(len(paths))
    val_idx = set(order[:n_val].tolist())
    train = [f for i, f in enumerate(paths) if i not in val_idx]
    val = [f for i, f in enumerate(paths) if i in val_idx]
    return train, val
