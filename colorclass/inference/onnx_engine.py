"""The torch-free engine: colourise a photo with an ONNX file made by ``colorclass export``.

    model.onnx (network + metadata_props "colorclass.*": bins, decoding settings, input multiple,
    output stride; see ``colorclass.export.onnx_export``)
        -> *OnnxPredictor.load* (settings: flags over the file's values over the defaults,
           ``inference.settings.resolve_settings``; the file's layer is named "card")
        -> *colorize*: photo (H, W, 3) uint8 [+ hint points] -> ``inference.numpy_steps`` -> onnxruntime
           -> (colour photo (H, W, 3) uint8, number of clipped pixels)

A hint-aware network (4 input planes) gets the hint planes of ``hints.points.hints_to_planes`` at
its input grid, as the torch Predictor does (zeros without hints).

Same public shape and, within float rounding, the same colours as ``Predictor.colorize``. This
module and everything it imports use NumPy and onnxruntime only, never torch (the tests check
``sys.modules``). onnxruntime is imported on ``load``: a missing package is a one-line error.
"""
from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from colorclass.hints.points import HINT_CHANNELS, check_hints_taken, hints_to_planes
from colorclass.inference import numpy_steps as steps
from colorclass.inference.settings import DecodeSettings, resolve_settings
from colorclass.support.errors import ColorclassError, GamutWarning, InputFileError
from colorclass.support.limits import network_grid

__all__ = ["OnnxPredictor", "META_PREFIX", "META_KEYS", "FORMAT_VERSION", "read_metadata", "network_grid"]

log = logging.getLogger(__name__)

META_PREFIX = "colorclass."
FORMAT_VERSION = 1
# every key an exported file carries (values are JSON); the export writes them, load reads them
META_KEYS = ("format", "version", "source", "bins_centers_ab", "decode_space", "method", "temperature",
             "size", "input_multiple", "output_stride", "input_channels")
HINT_AWARE_CHANNELS = 1 + HINT_CHANNELS   # [L, a/110, b/110, mask] (hints.points.hint_planes)
_WARN_FRACTION = 0.01   # as decoders.recombine_full_resolution: say so when > 1% of pixels were clipped


def _runtime() -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise ColorclassError("the ONNX engine needs onnxruntime: pip install 'colorclass[onnx]' "
                              "(or use --engine torch)") from None
    return onnxruntime


def _parse_metadata(raw: dict[str, str], path: Path) -> dict[str, Any]:
    """The file's ``colorclass.*`` metadata_props, JSON-decoded and checked."""
    missing = [k for k in META_KEYS if META_PREFIX + k not in raw]
    if missing:
        raise InputFileError(f"{path}: not an ONNX file made by `colorclass export` (metadata "
                             f"{', '.join(META_PREFIX + k for k in missing)} missing); export the run again")
    try:
        meta = {k: json.loads(raw[META_PREFIX + k]) for k in META_KEYS}
    except json.JSONDecodeError as e:
        raise InputFileError(f"{path}: malformed colorclass metadata ({e}); export the run again") from None
    if meta["format"] != FORMAT_VERSION:
        raise InputFileError(f"{path}: ONNX metadata format {meta['format']!r}, this colorclass reads "
                             f"format {FORMAT_VERSION}; export the run again with this version")
    if meta["decode_space"] != "ab":
        raise InputFileError(f"{path}: decode space {meta['decode_space']!r}; the ONNX engine decodes 'ab' "
                             "bins only (use --engine torch with the run folder)")
    if meta["input_channels"] not in (1, HINT_AWARE_CHANNELS):
        raise InputFileError(f"{path}: the network takes {meta['input_channels']!r} input planes; the ONNX "
                             f"engine feeds 1 (lightness) or {HINT_AWARE_CHANNELS} (lightness + hints); "
                             "use --engine torch with the run folder")
    centers = np.asarray(meta["bins_centers_ab"], dtype=np.float32)
    if centers.ndim != 2 or centers.shape[1] != 2 or not np.isfinite(centers).all():
        raise InputFileError(f"{path}: colorclass.bins_centers_ab must be a (Q, 2) list of finite numbers, "
                             f"got shape {centers.shape}; export the run again")
    meta["bins_centers_ab"] = centers
    for key in ("input_multiple", "output_stride"):
        if isinstance(meta[key], bool) or not isinstance(meta[key], int) or meta[key] < 1:
            raise InputFileError(f"{path}: colorclass.{key} must be a positive integer, got {meta[key]!r}")
    return meta


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The ``colorclass.*`` metadata of an exported file (JSON-decoded; centers as (Q, 2) float32)."""
    session = _session(Path(path), threads=1)
    return _parse_metadata(session.get_modelmeta().custom_metadata_map, Path(path))


def _session(path: Path, *, threads: int | None) -> Any:
    if not path.is_file():
        raise InputFileError(f"ONNX file {str(path)!r} does not exist; make one with "
                             "`colorclass export RUN -o model.onnx`")
    ort = _runtime()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or os.cpu_count() or 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3   # errors only
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as e:   # onnxruntime raises its own Fail / InvalidGraph / ... types
        raise InputFileError(f"{path}: onnxruntime cannot load it ({str(e).splitlines()[0]}); "
                             "export the run again") from None


class OnnxPredictor:
    """An onnxruntime session, the bins' chroma and the resolved decoding settings.

    session: ``onnxruntime.InferenceSession``; centers_ab: (Q, 2) float32; settings:
    ``DecodeSettings``; input_multiple / stride: the network's padding multiple and output stride.
    """

    regression = False

    def __init__(self, session: Any, meta: dict[str, Any], settings: DecodeSettings, name: str = "") -> None:
        self.session, self.meta, self.settings, self.name = session, meta, settings, name
        self.hint_aware = meta["input_channels"] == HINT_AWARE_CHANNELS
        self.centers_ab = meta["bins_centers_ab"]
        self.input_multiple, self.stride = meta["input_multiple"], meta["output_stride"]
        self.input_name = session.get_inputs()[0].name

    @classmethod
    def load(cls, path: str | Path, *, method: str | None = None, temperature: float | None = None,
             size: int | None = None, threads: int | None = None, name: str | None = None) -> OnnxPredictor:
        """OnnxPredictor for an exported file; the flags override the settings stored in it, each
        validated once (``resolve_settings``). threads: onnxruntime's intra-op threads (all cores)."""
        path = Path(path)
        session = _session(path, threads=threads)
        meta = _parse_metadata(session.get_modelmeta().custom_metadata_map, path)
        stored = {"method": meta["method"], "temperature": meta["temperature"], "size": meta["size"]}
        settings = resolve_settings({"method": method, "temperature": temperature, "size": size}, stored,
                                    layer_names=("flag", "card"), where={"card": str(path)})
        return cls(session, meta, settings, name=name or str(path))

    def with_settings(self, *, method: str | None = None, temperature: float | None = None,
                      size: int | None = None) -> OnnxPredictor:
        """The same session with some settings overridden (validated like flags)."""
        return OnnxPredictor(self.session, self.meta, self.settings.with_overrides(
            method=method, temperature=temperature, size=size), name=self.name)

    def describe(self) -> str:
        """One line: the file and where each decoding setting came from."""
        return f"{self.name or 'model'} (onnx): {self.settings.describe()}"

    def logits(self, l_input: np.ndarray) -> np.ndarray:
        """Network input (B, C, H, W) float32 (L in [-1, 1], then any hint planes; any H, W) -> logits
        (B, Q, ceil(H / s), ceil(W / s)) float32: padded to the input multiple, run, cropped back."""
        height, width = l_input.shape[-2:]
        padded = np.ascontiguousarray(steps.pad_to_multiple(l_input.astype(np.float32, copy=False),
                                                            self.input_multiple))
        out = self.session.run(None, {self.input_name: padded})[0]
        return out[..., :-(-height // self.stride), :-(-width // self.stride)]

    def predict(self, rgb_u8: np.ndarray, *, hints=None) -> tuple[np.ndarray, np.ndarray]:
        """Photo (H, W, 3) uint8 [+ hint points ``hints.points.Hint`` in the photo's pixels, for a
        hint-aware network] -> (full-resolution Lab L (H, W) float32 in [0, 100], logits
        (1, Q, ceil(h / s), ceil(w / s)) float32 at the network grid of ``settings.size``)."""
        check_hints_taken(hints, hint_aware=self.hint_aware, name=self.name)
        lightness = steps.lightness_u8(rgb_u8)
        height, width = lightness.shape
        h, w = network_grid(height, width, self.settings.size)
        small = steps.resize_antialiased(lightness, h, w)
        net_input = (small / np.float32(50) - np.float32(1))[None, None]   # lab_to_l_input
        if self.hint_aware:
            planes = hints_to_planes(list(hints or ()), h, w, scale=(h / height, w / width))
            net_input = np.concatenate([net_input, planes[None]], axis=1)
        return lightness, self.logits(net_input)

    def ab(self, logits: np.ndarray) -> np.ndarray:
        """Decoded chroma (B, 2, h, w) float32, ab in about [-110, 110], with ``settings``."""
        return steps.decode_ab(logits, self.centers_ab, self.settings.method, self.settings.temperature)

    def colorize(self, rgb_u8: np.ndarray, *, hints=None) -> tuple[np.ndarray, int]:
        """One photo (H, W, 3) uint8 (a gray photo replicated to 3 channels is fine), optional hint
        points -> (colour photo (H, W, 3) uint8 at the photo's own size, number of clipped pixels)."""
        rgb_u8 = np.asarray(rgb_u8)
        if rgb_u8.ndim != 3 or rgb_u8.shape[2] != 3 or rgb_u8.dtype != np.uint8 or 0 in rgb_u8.shape:
            raise ValueError(f"expected an (H, W, 3) uint8 photo, got {rgb_u8.dtype} {rgb_u8.shape}")
        lightness, logits = self.predict(rgb_u8, hints=hints)
        rgb, n_clipped = steps.recombine_u8(lightness, self.ab(logits)[0])
        n_pixels = lightness.size
        if n_clipped > _WARN_FRACTION * n_pixels:
            warnings.warn(f"{n_clipped} of {n_pixels} pixels ({100 * n_clipped / n_pixels:.1f}%) were outside "
                          "the sRGB gamut and were clipped", GamutWarning, stacklevel=2)
        return rgb, n_clipped
