"""Choosing the engine behind a Predictor: torch (any run) or onnxruntime (an exported file).

    --run RUN | --model NAME | model.onnx, --engine auto|torch|onnx
        -> *load_predictor* -> Predictor (torch) or OnnxPredictor (numpy + onnxruntime, no torch)

``auto`` picks the ONNX engine for a ``.onnx`` file, and for a built-in model that ships its
``model.onnx`` when onnxruntime is installed and the device is the CPU; otherwise torch. Both take
hints when the network is hint-aware, resolve their settings through ``inference.settings`` and give
the same colour photos within one level per channel (tests/test_onnx_export.py). Torch-free.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from colorclass.support.errors import UsageError

__all__ = ["ENGINES", "load_predictor", "onnx_file_of"]

ENGINES = ("auto", "torch", "onnx")


def onnx_file_of(source: str | Path | None) -> Path | None:
    """The ONNX file to use for ``source``: the file itself, or a built-in model's shipped
    ``model.onnx`` (None for run folders: export them with `colorclass export`)."""
    from colorclass.inference.predictor import BUILTIN_PREFIX, resolve_source

    if source is not None and str(source).endswith(".onnx"):
        return Path(source)
    builtin = source is None or str(source).startswith(BUILTIN_PREFIX) or not Path(str(source)).exists()
    if not builtin:
        return None
    try:
        folder, _ = resolve_source(source)
    except (ValueError, FileNotFoundError):
        return None
    candidate = folder / "model.onnx"
    return candidate if candidate.is_file() else None


def load_predictor(source: str | Path | None = None, *, engine: str = "auto", method: str | None = None,
                   temperature: float | None = None, size: int | None = None, device: str = "auto") -> Any:
    """A Predictor (torch) or an OnnxPredictor for ``source`` (run folder, ``builtin:NAME``, a
    built-in name, a ``.onnx`` file or None for the default built-in model). Callers that need the
    distribution (suggestions, the page) load ``Predictor`` itself."""
    if engine not in ENGINES:
        raise UsageError(f"--engine {engine!r} is not one of {', '.join(ENGINES)}")
    onnx_file = onnx_file_of(source)
    is_file = source is not None and str(source).endswith(".onnx")
    want_onnx = engine == "onnx" or is_file or (
        engine == "auto" and onnx_file is not None and device in ("auto", "cpu")
        and importlib.util.find_spec("onnxruntime") is not None)
    if want_onnx:
        if engine == "torch":
            raise UsageError(f"--engine torch needs a run folder or a built-in model, not {str(source)!r}; "
                             "use --engine onnx (or auto)")
        if onnx_file is None:
            raise UsageError(f"--engine onnx needs an .onnx file: make one with `colorclass export "
                             f"{source or 'builtin:general'} -o model.onnx` and pass --run model.onnx")
        if device not in ("auto", "cpu"):
            raise UsageError(f"--device {device}: the ONNX engine runs on the CPU; drop --device or use "
                             "--engine torch")
        from colorclass.inference.onnx_engine import OnnxPredictor

        shown = str(source) if source is not None and not is_file else None
        if source is None or (shown and not shown.startswith("builtin:") and not Path(shown).exists()):
            from colorclass.builtin import DEFAULT_MODEL

            shown = f"builtin:{source or DEFAULT_MODEL}"
        return OnnxPredictor.load(onnx_file, method=method, temperature=temperature, size=size, name=shown)
    from colorclass.inference.predictor import Predictor

    return Predictor.load(source, method=method, temperature=temperature, size=size, device=device)
