"""Bins: the base class of every colour-bin family, its file format and the exact encoders.

Pipeline: photos -> **quantize (fit bins) -> encode targets** -> network -> loss -> decode -> ...

A bins object maps a colour to one of Q classes (hard label) or to a sparse distribution over
its n most likely classes (soft target). Families (k-means, GMM, grids) subclass :class:`Bins`
and say in which feature space they measure distances; the exact encoders here work for all of
them, and :class:`quantize.encoder.Encoder` turns them into fast lookup tables.

Bins file: one ``.npz`` of plain arrays (``centers``, ``centers_ab``, optional ``centers_hc``,
``prior``, family arrays) plus ``meta``, a 0-d string array holding JSON. Loaded with
``allow_pickle=False``; every array is checked against the metadata.
"""
from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import Callable, ClassVar

import numpy as np

from quantize.features import check_pixels_u8, check_rgb01, gaussian_weights

FORMAT_NAME = "colorclass-bins"
FORMAT_VERSION = 1
FAMILIES: dict[str, type["Bins"]] = {}   # filled by register_family


class BinsFileError(ValueError):
    """A bins file is unreadable, corrupt or does not match what its metadata says."""


def register_family(cls: type["Bins"]) -> type["Bins"]:
    FAMILIES[cls.family] = cls
    return cls


# ----------------------------------------------------------------------------- base class
class Bins:
    """Q colour bins. Subclasses set ``family``, ``spaces`` and implement ``_fit``, ``_params``
    and the two feature spaces (``_hard_features``, ``_soft_features``).

    Attributes (after ``fit`` or ``load``): ``centers (Q, d)`` in the space's own units,
    ``centers_ab (Q, 2)`` float32, ``centers_hc (Q, 2)`` or None, ``prior (Q,)`` or None, ``meta``.
    """

    family: ClassVar[str] = ""
    spaces: ClassVar[tuple[str, ...]] = ()
    decode_space: ClassVar[str] = "ab"
    center_dims: ClassVar[dict[str, int]] = {"rgb": 3, "lab": 3, "hc": 2, "ab": 2}
    soft_sigma_scale: ClassVar[float] = 1.0   # sigma (Lab units) -> units of the soft feature space
    lut_hard_bits: ClassVar[int] = 8          # default hard lookup-table resolution (bits per channel)

    def __init__(self, *, space: str, seed: int = 0) -> None:
        if space not in self.spaces:
            raise ValueError(f"family {self.family!r} works in space {' or '.join(self.spaces)}, got "
                             f"space={space!r}; pass space={self.spaces[0]!r} or leave it unset")
        self.space, self.seed = space, int(seed)
        self.centers: np.ndarray | None = None
        self._centers_ab: np.ndarray | None = None
        self.centers_hc: np.ndarray | None = None
        self.prior: np.ndarray | None = None
        self.meta: dict = {}

    # -- to implement --------------------------------------------------------------------
    def _fit(self, pixels_u8: np.ndarray) -> None:
        raise NotImplementedError

    def _params(self) -> dict:
        """Constructor options, JSON-ready (saved in meta["params"])."""
        return {"space": self.space, "seed": self.seed}

    def _hard_features(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(pixel features (N, d), centre features (Q, d)) for the nearest-bin label."""
        raise NotImplementedError

    def _soft_features(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Same, for soft targets; distances there are in Lab units / ``soft_sigma_scale``."""
        return self._hard_features(rgb)

    def _family_arrays(self) -> dict[str, np.ndarray]:
        return {}

    def _restore(self, arrays: dict[str, np.ndarray], path: str) -> None:
        """Set family state from loaded arrays (already shape-checked by ``_expected_shapes``)."""

    def _expected_shapes(self, q: int) -> dict[str, tuple[int, ...]]:
        return {}

    # -- public API ----------------------------------------------------------------------
    @property
    def centers_ab(self) -> np.ndarray:
        """(Q, 2) float32 Lab chroma of each bin; like ``n_bins``, raises before ``fit`` / ``load``."""
        return self._fitted(self._centers_ab)

    @centers_ab.setter
    def centers_ab(self, value: np.ndarray) -> None:
        self._centers_ab = value

    @property
    def n_bins(self) -> int:
        return int(len(self._fitted(self.centers)))

    def fit(self, pixels_rgb_u8: np.ndarray) -> "Bins":
        """Fit on a pixel sample ``(N, 3) uint8``; returns self. Deterministic given ``seed``."""
        self._fit(check_pixels_u8(pixels_rgb_u8))
        self.prior = None
        self.meta = self._base_meta() | {"n_fit_pixels": int(len(pixels_rgb_u8))}
        return self

    def encode_hard_exact(self, rgb: np.ndarray) -> np.ndarray:
        """Nearest bin. rgb: (N, 3) float in [0, 1] -> (N,) int64 in [0, Q)."""
        feats, centers = self._hard_features(check_rgb01(self._require_fitted(rgb)))
        from scipy.spatial import cKDTree  # lazy: 0.7 s of start-up for every command otherwise

        _, idx = cKDTree(centers).query(feats, k=1)
        return idx.astype(np.int64)

    def encode_soft_exact(self, rgb: np.ndarray, *, n: int = 5, sigma: float = 5.0
                          ) -> tuple[np.ndarray, np.ndarray]:
        """Gaussian weights (``sigma`` Lab units) over the n nearest bins.

        rgb: (N, 3) float in [0, 1]. Returns idx (N, n) int64 sorted nearest first and
        weight (N, n) float32 summing to 1 per row.
        """
        rgb = check_rgb01(self._require_fitted(rgb))
        n = self._check_n_sigma(n, sigma)
        feats, centers = self._soft_features(rgb)
        from scipy.spatial import cKDTree

        dist, idx = cKDTree(centers).query(feats, k=n)
        dist, idx = dist.reshape(len(rgb), n), idx.reshape(len(rgb), n)
        return idx.astype(np.int64), gaussian_weights(dist, sigma * self.soft_sigma_scale)

    def encoder(self, *, device: str = "cpu", n: int = 5, sigma: float = 5.0, bits: int | None = None,
                hard_bits: int | None = None):
        """Fast lookup-table encoder (:class:`quantize.encoder.Encoder`) for uint8 images."""
        from quantize.encoder import Encoder
        return Encoder(self, device=device, n=n, sigma=sigma, soft_bits=bits, hard_bits=hard_bits)

    def to_npz_bytes(self) -> bytes:
        """The bins file (``.npz``: arrays + ``meta`` JSON) as bytes, ready to write anywhere."""
        arrays = {"centers": self._fitted(self.centers), "centers_ab": self.centers_ab} | self._family_arrays()
        if self.centers_hc is not None:
            arrays["centers_hc"] = self.centers_hc
        if self.prior is not None:
            arrays["prior"] = self.prior
        buf = io.BytesIO()
        # ignore: numpy's stub makes mypy match **arrays against savez's allow_pickle: bool (none is so named)
        np.savez(buf, meta=np.array(json.dumps(self.full_meta())), **arrays)  # type: ignore[arg-type]
        return buf.getvalue()

    def full_meta(self) -> dict:
        """The metadata saved with the bins: format, family, space, Q, params, then ``meta``'s extras."""
        self._require_fitted()
        base = self._base_meta()
        return base | {k: v for k, v in self.meta.items() if k not in base}

    def meta_json(self) -> str:
        """Text of the human-readable ``<stem>.json`` sidecar (never read back)."""
        return json.dumps(self.full_meta(), indent=2) + "\n"

    def save(self, path: str | os.PathLike, *, palette: bool = True,
             write_bytes: Callable[[Path, bytes], object] | None = None) -> Path:
        """Write ``path`` (.npz), ``<stem>.json`` (metadata copy) and ``<stem>.png`` (palette).

        ``write_bytes(path, data)`` writes each file (default: ``Path.write_bytes``); pass an
        atomic writer (``colorclass.binning.save_bins`` does) so a crash never leaves half a file.
        """
        self._require_fitted()
        path = Path(path)
        write = write_bytes or (lambda p, data: Path(p).write_bytes(data))
        path.parent.mkdir(parents=True, exist_ok=True)
        write(path, self.to_npz_bytes())
        write(path.with_suffix(".json"), self.meta_json().encode("utf-8"))
        if palette:
            from quantize.palette import palette_png_bytes
            write(path.with_suffix(".png"), palette_png_bytes(self))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Bins":
        """Read a bins file written by :meth:`save`; raises :class:`BinsFileError` if invalid."""
        bins = load_bins(path)
        if cls is not Bins and not isinstance(bins, cls):
            raise BinsFileError(f"{path} holds {bins.family!r} bins, not {cls.family!r}; "
                                f"use quantize.load_bins({str(path)!r})")
        return bins

    def __repr__(self) -> str:
        q = len(self.centers) if self.centers is not None else "unfitted"
        return f"{type(self).__name__}(family={self.family!r}, space={self.space!r}, Q={q})"

    # -- helpers -------------------------------------------------------------------------
    def _base_meta(self) -> dict:
        return {"format": FORMAT_NAME, "version": FORMAT_VERSION, "family": self.family,
                "space": self.space, "n_bins": self.n_bins, "decode_space": self.decode_space,
                "params": self._params()}

    def _require_fitted(self, passthrough=None):
        self._fitted(self.centers)
        return passthrough

    def _fitted(self, array: np.ndarray | None) -> np.ndarray:
        """``array`` (set by ``fit`` / ``load``, e.g. ``self.centers``); raises while it is still None."""
        if array is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted; call .fit(pixels) or quantize.load_bins(path)")
        return array

    def _check_n_sigma(self, n: int, sigma: float) -> int:
        """Validate the soft-target options; returns n capped at Q (fewer bins than n)."""
        if int(n) != n or n < 1:
            raise ValueError(f"n (soft-target neighbours) must be an integer >= 1, got {n!r}")
        if not sigma > 0:
            raise ValueError(f"sigma must be > 0 (Lab units), got {sigma!r}")
        return min(int(n), self.n_bins)


# ----------------------------------------------------------------------------- loading
def _read_npz(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    if not path.is_file():
        raise FileNotFoundError(f"bins file not found: {path}; create one with `fit-bins DIR -o {path}`")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {name: z[name] for name in z.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as e:
        raise BinsFileError(f"{path} is not a readable bins file ({type(e).__name__}: {e}); "
                            "re-create it with `fit-bins`") from e
    if "meta" not in arrays or arrays["meta"].ndim != 0 or arrays["meta"].dtype.kind != "U":
        raise BinsFileError(f"{path} has no JSON 'meta' entry, so it is not a colorclass bins file; "
                            "re-create it with `fit-bins`")
    try:
        meta = json.loads(str(arrays.pop("meta")))
    except json.JSONDecodeError as e:
        raise BinsFileError(f"{path}: metadata is not valid JSON ({e}); re-create it with `fit-bins`") from e
    return meta, arrays


def _check_meta(meta: dict, path: Path) -> type[Bins]:
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise BinsFileError(f"{path}: meta format is {meta.get('format') if isinstance(meta, dict) else meta!r}, "
                            f"expected {FORMAT_NAME!r}; re-create it with `fit-bins`")
    if meta.get("version") != FORMAT_VERSION:
        raise BinsFileError(f"{path}: bins format version {meta.get('version')!r} is not supported "
                            f"(this colorclass reads version {FORMAT_VERSION}); re-fit with this version's `fit-bins`")
    family = meta.get("family")
    if family not in FAMILIES:
        raise BinsFileError(f"{path}: unknown bins family {family!r}; expected one of {sorted(FAMILIES)}")
    if meta.get("space") not in FAMILIES[family].spaces:
        raise BinsFileError(f"{path}: family {family!r} cannot use space {meta.get('space')!r} "
                            f"(expected {FAMILIES[family].spaces})")
    q = meta.get("n_bins")
    if not isinstance(q, int) or q < 2:
        raise BinsFileError(f"{path}: n_bins must be an integer >= 2, got {q!r}")
    return FAMILIES[family]


def _check_array(path: Path, arrays: dict, name: str, shape: tuple[int, ...], required: bool = True) -> None:
    if name not in arrays:
        if required:
            raise BinsFileError(f"{path}: array {name!r} is missing; re-create the file with `fit-bins`")
        return
    a = arrays[name]
    if a.shape != shape or a.dtype.kind not in "fiu" or not np.isfinite(a).all():
        raise BinsFileError(f"{path}: array {name!r} has shape {a.shape} dtype {a.dtype}, expected finite "
                            f"numbers of shape {shape} (Q={shape[0]} from the metadata); the file is corrupt "
                            "or was edited; re-create it with `fit-bins`")


def load_bins(path: str | os.PathLike) -> Bins:
    """Read and validate a bins file; returns the family's :class:`Bins` subclass."""
    path = Path(path)
    meta, arrays = _read_npz(path)
    cls = _check_meta(meta, path)
    q = meta["n_bins"]
    bins = cls.__new__(cls)
    params = meta.get("params", {})
    try:
        cls.__init__(bins, **params)
    except (TypeError, ValueError) as e:
        raise BinsFileError(f"{path}: invalid family parameters {params!r} ({e})") from e
    shapes = {"centers": (q, cls.center_dims[meta["space"]]), "centers_ab": (q, 2)} | bins._expected_shapes(q)
    for name, shape in shapes.items():
        _check_array(path, arrays, name, shape)
    _check_array(path, arrays, "prior", (q,), required=False)
    _check_array(path, arrays, "centers_hc", (q, 2), required=cls.decode_space == "hc")
    if "prior" in arrays and (arrays["prior"].min() < 0 or abs(arrays["prior"].sum() - 1) > 1e-4):
        raise BinsFileError(f"{path}: prior must be non-negative and sum to 1, got sum "
                            f"{arrays['prior'].sum():.6g}; re-compute it with `fit-bins`")
    bins.centers = arrays["centers"].astype(np.float32)
    bins.centers_ab = arrays["centers_ab"].astype(np.float32)
    bins.centers_hc = arrays["centers_hc"].astype(np.float32) if "centers_hc" in arrays else None
    bins.prior = arrays["prior"].astype(np.float64) if "prior" in arrays else None
    bins._restore(arrays, str(path))
    bins.meta = meta
    return bins
