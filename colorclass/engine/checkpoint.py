"""Crash-safe checkpoints without pickle.

    Trainer -> *checkpoint.safetensors* (weights + optimiser + scheduler + RNG + counters)
            -> *model.safetensors* / *best.safetensors* (weights only, for users)

Every file is written atomically through ``engine.files.atomic_write_bytes`` (temporary file
in the same folder, fsync, ``os.replace``, folder fsync), so a crash mid-write leaves the
previous file intact. Tensors go in the safetensors body; everything else (optimiser structure, scheduler
state, counters, Python/NumPy RNG) is JSON in the safetensors header metadata.
"""
from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from colorclass.support.files import atomic_write_bytes

__all__ = ["atomic_write_bytes", "save_weights", "load_weights", "save_checkpoint", "load_checkpoint",
           "capture_rng", "restore_rng", "CheckpointError"]

_TENSOR = "__tensor__"


class CheckpointError(ValueError):
    """A checkpoint file is missing, corrupt or does not match the run."""


def _plain(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}


def save_weights(path: str | Path, state_dict: dict[str, torch.Tensor]) -> Path:
    """Model weights as safetensors, atomically."""
    return atomic_write_bytes(path, st_save(_plain(state_dict)))


def load_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """Inverse of :func:`save_weights`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"weights file {str(path)!r} not found")
    return st_load(path.read_bytes())


def _split(obj: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    """Replace tensors inside a nested structure by references; collect them in ``tensors``."""
    if torch.is_tensor(obj):
        tensors[prefix] = obj
        return {_TENSOR: prefix}
    if isinstance(obj, dict):
        return {"__dict__": [[_split(k, f"{prefix}.k{i}", tensors), _split(v, f"{prefix}.{i}", tensors)]
                             for i, (k, v) in enumerate(obj.items())]}
    if isinstance(obj, (list, tuple)):
        items = [_split(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)]
        return {"__tuple__": items} if isinstance(obj, tuple) else items
    if isinstance(obj, np.ndarray):
        tensors[prefix] = torch.from_numpy(obj.astype(np.int64) if obj.dtype == np.uint32 else obj)
        return {_TENSOR: prefix, "numpy": str(obj.dtype)}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise CheckpointError(f"cannot store a {type(obj).__name__} in a checkpoint without pickle")


def _join(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict):
        if _TENSOR in obj:
            t = tensors[obj[_TENSOR]]
            return t.numpy().astype(obj["numpy"]) if "numpy" in obj else t
        if "__dict__" in obj:
            return {_join(k, tensors): _join(v, tensors) for k, v in obj["__dict__"]}
        if "__tuple__" in obj:
            return tuple(_join(v, tensors) for v in obj["__tuple__"])
    if isinstance(obj, list):
        return [_join(v, tensors) for v in obj]
    return obj


def capture_rng() -> dict[str, Any]:
    """Torch (CPU and CUDA), NumPy and Python RNG states, storable with :func:`save_checkpoint`."""
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng` (also after a JSON round trip: tuples become lists)."""
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(list(state["cuda"]))


def save_checkpoint(path: str | Path, *, model_state: dict[str, torch.Tensor], state: dict[str, Any]) -> Path:
    """One file: model weights under ``model.*`` plus any nested ``state`` (optimiser, scheduler,
    RNG, counters) without pickle. Atomic."""
    tensors = {f"model.{k}": v for k, v in model_state.items()}
    structure = _split(state, "state", tensors)
    blob = st_save(_plain(tensors), metadata={"format": "colorclass-checkpoint-1",
                                              "state": json.dumps(structure)})
    return atomic_write_bytes(path, blob)


def load_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Inverse of :func:`save_checkpoint`: (model state dict, state)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {str(path)!r}; nothing to resume")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        tensors = st_load(path.read_bytes())
    except Exception as e:  # safetensors raises several error types for corrupt files
        raise CheckpointError(f"checkpoint {str(path)!r} is unreadable ({e})") from None
    if meta.get("format") != "colorclass-checkpoint-1":
        raise CheckpointError(f"{str(path)!r} is not a colorclass checkpoint (format {meta.get('format')!r})")
    model_state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    return model_state, _join(json.loads(meta["state"]), tensors)
