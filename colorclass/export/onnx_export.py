"""Export a run's network to ONNX, with everything needed to colourise with that file alone.

    run folder | "builtin:NAME" -> inference.predictor.Predictor.load (model, bins, settings)
        -> *export_onnx*: torch.onnx.export (TorchScript exporter, dynamo=False; opset >= 17)
           input  "l_input" (B, C, H, W) float32 in [-1, 1], H and W multiples of input_multiple
                  (C = 1: the lightness; hint-aware networks take more planes)
           output "logits"  (B, Q, H / s, W / s) float32, s = the output stride
           + metadata_props "colorclass.*" (JSON): bins_centers_ab (Q x 2), decode_space, method,
             temperature, size, input_multiple, output_stride, input_channels, version, format, source
        -> checked (onnx.checker) -> written atomically -> inference.onnx_engine.OnnxPredictor

Batch, height and width are dynamic. Only classification runs over Lab ab bins are exported:
Hue-Chroma bins decode with a lightness bisection and regression runs output ab; both are
refused with a one-line ColorclassError. The same run always gives the same bytes.
"""
from __future__ import annotations

import inspect
import json
import logging
import warnings
from pathlib import Path
from typing import Any

from colorclass.inference.onnx_engine import FORMAT_VERSION, META_PREFIX
from colorclass.support.errors import ColorclassError
from colorclass.support.files import atomic_path

__all__ = ["export_onnx", "MIN_OPSET", "INPUT_NAME", "OUTPUT_NAME"]

log = logging.getLogger(__name__)

MIN_OPSET = 17
INPUT_NAME, OUTPUT_NAME = "l_input", "logits"


def _require_onnx():
    try:
        import onnx
    except ImportError:
        raise ColorclassError("exporting needs the onnx package: pip install 'colorclass[onnx]'") from None
    return onnx


def _metadata(predictor, model) -> dict[str, str]:
    """The ``colorclass.*`` metadata_props of the exported file (JSON strings, sorted keys)."""
    from colorclass import __version__

    settings = predictor.settings
    centers = [[float(a), float(b)] for a, b in predictor.bins.centers_ab.tolist()]
    values = {
        "format": FORMAT_VERSION, "version": __version__, "source": predictor.name,
        "bins_centers_ab": centers, "decode_space": "ab", "method": settings.method,
        "temperature": float(settings.temperature), "size": settings.size,
        "input_multiple": int(getattr(model, "input_multiple", 1)),
        "output_stride": int(getattr(model, "output_stride", 1)),
        "input_channels": int(getattr(model, "in_channels", 1)),
    }
    return {META_PREFIX + k: json.dumps(v) for k, v in sorted(values.items())}


def _check_exportable(predictor) -> None:
    name = predictor.name or "the run"
    if predictor.regression:
        raise ColorclassError(f"{name} is a regression run (the network outputs ab, not bin logits); "
                              "only classification runs over ab bins can be exported to ONNX")
    space = getattr(predictor.bins, "decode_space", "ab")
    if space != "ab":
        raise ColorclassError(f"{name} uses {space!r} bins (decoded by a lightness bisection that the ONNX "
                              "engine does not have); only runs over Lab 'ab' bins can be exported")


def _example_input(model, torch):
    """A fixed (1, C, S, S) input in [-1, 1] (a smooth ramp), S a valid size for the network."""
    multiple = int(getattr(model, "input_multiple", 1))
    side = max(64, int(getattr(model, "min_input_size", 1)))
    side = -(-side // multiple) * multiple
    channels = int(getattr(model, "in_channels", 1))
    ramp = torch.linspace(-1, 1, side * side, dtype=torch.float32).reshape(1, 1, side, side)
    return ramp.expand(1, channels, side, side).contiguous()


def export_onnx(source: str | Path, out_path: str | Path, *, opset: int = MIN_OPSET) -> Path:
    """Write the network of ``source`` (a run folder or "builtin:NAME") to ``out_path`` as ONNX
    with the metadata above; returns ``out_path``. Raises ColorclassError for an opset below 17,
    a regression or Hue-Chroma run, or a missing onnx package."""
    if isinstance(opset, bool) or not isinstance(opset, int) or opset < MIN_OPSET:
        raise ColorclassError(f"opset {opset!r} is too old; use --opset {MIN_OPSET} or newer")
    out_path = Path(out_path)
    if out_path.is_dir():
        raise ColorclassError(f"-o {str(out_path)!r} is a folder; give a file name such as model.onnx")
    if not out_path.parent.is_dir():
        raise ColorclassError(f"folder {str(out_path.parent)!r} of -o does not exist; create it first")
    onnx = _require_onnx()
    import torch

    from colorclass.inference.predictor import Predictor

    predictor = Predictor.load(source, device="cpu")
    _check_exportable(predictor)
    model = predictor.model.eval()
    example = _example_input(model, torch)
    kwargs: dict[str, Any] = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    axes = {INPUT_NAME: {0: "batch", 2: "height", 3: "width"},
            OUTPUT_NAME: {0: "batch", 2: "out_height", 3: "out_width"}}
    with atomic_path(out_path) as tmp:
        with torch.no_grad(), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")   # tracer / deprecation notes: logged, not shown
            torch.onnx.export(model, (example,), str(tmp), input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                              dynamic_axes=axes, opset_version=opset, do_constant_folding=True,
                              export_params=True, **kwargs)
        for w in caught:
            log.debug("torch.onnx.export: %s", str(w.message).splitlines()[0])
        proto = onnx.load(str(tmp))
        del proto.metadata_props[:]
        for key, value in _metadata(predictor, model).items():
            proto.metadata_props.add(key=key, value=value)
        proto.doc_string = f"colorclass {predictor.describe()}"
        onnx.checker.check_model(proto, full_check=True)
        onnx.save(proto, str(tmp))
    log.info("exported %s to %s (opset %d)", predictor.name, out_path, opset)
    return out_path
