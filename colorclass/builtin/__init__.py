"""Built-in colourisation models that ship inside the package, so ``colorize photo.jpg`` works
on a fresh install without training anything.

Pipeline position: a ready-made run folder, i.e. the *input* of the prediction path::

    colorclass/builtin/<name>/{config.toml, bins.npz, model.safetensors, card.json}
        -> builtin_run_dir(name) -> inference.predictor.Predictor.load("builtin:NAME") -> colorize

Each model folder is an ordinary run folder (``config.toml`` holds the calibrated decoding
temperature in ``[decode]`` and the network's inference size in ``[data] resize``), plus
``card.json``: training data and command, held-out metrics against simple baselines, limits.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

from colorclass.support.errors import ColorclassError

__all__ = ["BUILTIN_MODELS", "DEFAULT_MODEL", "builtin_run_dir", "list_models", "read_card"]

# name -> one-line description (the card says more)
BUILTIN_MODELS: dict[str, str] = {
    "hints": "the default: hint-aware U-Net with a whole-photo context branch over the 313 Lab ab bins, "
             "trained on 7.4k real photos; takes colorize --hints",
    "general": "U-Net over the 313 Lab ab bins, rebalanced, trained on CIFAR-10 + Tiny ImageNet thumbnails "
               "(32-64 px); no hints",
}
DEFAULT_MODEL = "hints"


def builtin_run_dir(name: str = DEFAULT_MODEL) -> Path:
    """Folder of built-in model ``name``, loadable with ``colorclass.runs.loading.load_run``."""
    if name not in BUILTIN_MODELS:
        raise ColorclassError(f"unknown built-in model {name!r}; available: {', '.join(BUILTIN_MODELS)}")
    path = Path(str(resources.files(__package__).joinpath(name)))
    if not (path / "model.safetensors").is_file():
        raise FileNotFoundError(f"built-in model {name!r} is not installed at {path} "
                                "(package data missing; reinstall colorclass)")
    return path


def list_models() -> list[dict]:
    """One dict per built-in model: ``name``, ``description``, ``path`` and the fields of its
    ``card.json`` (training data, metrics, temperature, inference size, limits)."""
    out = []
    for name, description in BUILTIN_MODELS.items():
        path = Path(str(resources.files(__package__).joinpath(name)))
        card_file = path / "card.json"
        card = read_card(card_file) if card_file.exists() else {}
        out.append({"name": name, "description": description, "path": str(path), **card})
    return out


def _check_card(card) -> None:
    from colorclass.decoding.rules import METHODS
    from colorclass.support.limits import MAX_LONG_SIDE
    from colorclass.support.records import number, text_field

    text_field(card, "decode_method", choices=METHODS, required=False)
    number(card, "calibrated_temperature", required=False)   # its range: inference.settings
    number(card, "inference_size", low=1, high=MAX_LONG_SIDE, integer=True, required=False)


def read_card(path: str | Path) -> dict:
    """A model folder's card.json, bounded and checked (support.records: a regular file of at most
    MAX_RECORD_BYTES; a JSON object whose decoding fields, when present, are a known method, a
    number and a size in pixels); else one InputFileError naming the file."""
    from colorclass.support.records import read_json

    return read_json(path, what="model card", check=_check_card, fix="reinstall colorclass, or restore the "
                     "card.json of the model folder")
