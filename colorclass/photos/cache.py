"""Memory-mapped uint8 cache of decoded working images for ``ImageFolderDataset(cache=PATH)``.

Pipeline position: photos -> [this: decoded-photo cache] -> dataset crops -> encode targets ->
network -> loss -> decode -> colour image -> metrics / reports. Layer: used by ``dataset`` (it gets
the dataset object, duck-typed: ``files``, ``resize``, ``crop_size``, ``_decode(i)``); writes go
through ``colorclass.support.files`` (a crash never leaves a half-written cache).

The cache is one plain ``.npy`` array ``(N, H, W, 3) uint8`` (no pickle) plus a ``.json`` sidecar
listing the files (with modification times and sizes) and the options it was built with; it is
rebuilt whenever the sidecar does not match. All working images must share one shape (true for
CIFAR-10 or Tiny ImageNet; otherwise use ``cache=True``, the in-memory cache).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

from colorclass.support.errors import ColorclassError
from colorclass.support.files import atomic_path, atomic_write_text

__all__ = ["open_or_build_cache"]


def _signature(ds) -> dict:
    stamps = []
    for f in ds.files:
        st = Path(f).stat()
        stamps.append([str(f), st.st_mtime_ns, st.st_size])
    return {"version": 1, "resize": ds.resize, "crop_size": ds.crop_size, "files": stamps}


def _open_if_fresh(path: Path, meta_path: Path, signature: dict, n_files: int) -> np.ndarray | None:
    """The memory map of ``path`` when its sidecar matches ``signature``, else None."""
    if not (path.is_file() and meta_path.is_file()):
        return None
    try:
        if json.loads(meta_path.read_text()) == signature:
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
            if arr.shape[0] == n_files and arr.dtype == np.uint8:
                return arr
    except (ValueError, OSError):
        pass  # unreadable or stale cache: rebuild it
    return None


def _fill(tmp: Path, ds, *, progress: bool) -> None:
    """Decode every working image of ``ds`` into a new ``.npy`` memory map at ``tmp``."""
    first = ds._decode(0)
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(ds.files),) + first.shape)
    try:
        for i in tqdm(range(len(ds.files)), desc="building cache", unit="img", disable=not progress):
            img = first if i == 0 else ds._decode(i)
            if img.shape != first.shape:
                raise ColorclassError(f"a memory-mapped cache needs working images of one shape: "
                                 f"{ds.files[i]} gives {img.shape}, {ds.files[0]} gives {first.shape}; "
                                 "use cache=True (in memory) for photos of mixed sizes")
            out[i] = img
        out.flush()
    finally:
        del out


def open_or_build_cache(path: Path, ds, *, progress: bool = True) -> np.ndarray:
    """Open ``path`` read-only as a memory map, building it first if missing or stale."""
    if path.suffix != ".npy":
        raise ColorclassError(f"cache file must end in .npy, got {str(path)!r}")
    meta_path = path.with_suffix(".json")
    signature = _signature(ds)
    arr = _open_if_fresh(path, meta_path, signature, len(ds.files))
    if arr is not None:
        return arr
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        _fill(tmp, ds, progress=progress)
    atomic_write_text(meta_path, json.dumps(signature))
    return np.load(path, mmap_mode="r", allow_pickle=False)
