"""Experiment configuration: one frozen dataclass per experiment, loaded from TOML.

    experiments/NAME.toml + --set section.key=value -> ExperimentConfig -> train.py -> trainer

Unknown sections or keys and values of the wrong type raise :class:`ConfigError` naming the
key. ``config_to_toml`` writes the resolved config that every run folder records.
"""
from __future__ import annotations

import dataclasses
import json
import math
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from colorclass.decoding.rules import DEFAULT_METHOD, DEFAULT_TEMPERATURE, METHODS, check_temperature
from colorclass.engine.settings import DEVICE_CHOICES, LoopSettings, OptimSettings  # torch-free
from colorclass.support.errors import ColorclassError
from colorclass.support.limits import CONFIG_BOUNDS

__all__ = ["MODEL_NAMES", "LOSS_NAMES", "BIN_FAMILIES", "BIN_SPACES", "ConfigError", "ExperimentConfig", "DataConfig",
           "BinsConfig", "ModelConfig", "LossConfig",
           "OptimConfig", "TrainConfig", "DecodeConfig", "load_config", "config_to_toml",
           "replace_config", "config_to_dict"]


class ConfigError(ColorclassError):
    """A config file or override names an unknown key or gives a value of the wrong type."""


@dataclass(frozen=True)
class DataConfig:
    train: str = ""              # folder of training photos
    val: str = ""                # folder of validation photos; empty -> split train
    val_fraction: float = 0.1
    crop_size: int = 32
    resize: int = 0              # shorter side before cropping; 0 keeps the photo's size
    flip: bool = True
    min_scale: float = 1.0       # random zoom-out for crops (1 = plain random crop)
    rotate: float = 0.0          # max degrees
    shear: float = 0.0           # max degrees
    min_colorfulness: float = 0.0
    max_images: int = 0          # 0 = all
    repeat: int = 1              # crops of each photo per epoch
    num_workers: int = 0
    cache: bool = False


@dataclass(frozen=True)
class BinsConfig:
    path: str = ""               # bins .npz; empty -> fit on data.train with the options below
    family: str = "kmeans"
    space: str = ""              # empty -> the family's default
    k: int = 24
    preset: str = ""             # e.g. "zhang313" for family "grid"
    soft_neighbors: int = 5
    soft_sigma: float = 5.0


@dataclass(frozen=True)
class ModelConfig:
    name: str = "unet"
    width: int = 32
    kernel_size: int = 3
    depth: int = 0               # deep_unet only: number of stride-2 levels (0 = its default, 8)
    head_kernel: int = 0         # cnn/unet: kernel of the final conv (0 = kernel_size; 1 = cheap 1x1 head)
    output_stride: int = 1       # cnn/unet: 1 predicts at full resolution, 2 at 1/2 (ab upsampled)
    global_context: bool = False  # cnn/unet: a pooled whole-photo feature fused at the middle (Deep Koalarization)
    init_from: str = ""          # weights to start from: run folder, .safetensors or builtin:NAME
    hints: bool = False          # user-guided: input [L, a/110, b/110, mask], simulated hints in training
    hint_zero_fraction: float = 0.5  # hints only: share of training crops given no hint at all


@dataclass(frozen=True)
class LossConfig:
    name: str = "ce"             # ce | kl | mse
    rebalance: bool = False
    rebalance_lambda: float = 0.5
    lowpass: int = 1


@dataclass(frozen=True)
class OptimConfig(OptimSettings):
    """[optim]: the engine's optimiser settings (fields and defaults in colorclass.engine.settings)."""


@dataclass(frozen=True)
class TrainConfig(LoopSettings):
    """[train]: the engine's loop settings (fields and defaults in colorclass.engine.settings)."""


@dataclass(frozen=True)
class DecodeConfig:
    method: str = DEFAULT_METHOD          # mode | mean | annealed
    temperature: float = DEFAULT_TEMPERATURE


@dataclass(frozen=True)
class ExperimentConfig:
    name: str = "default"
    out: str = ""                # run folder; empty -> runs/<name>
    data: DataConfig = field(default_factory=DataConfig)
    bins: BinsConfig = field(default_factory=BinsConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)

    def __post_init__(self) -> None:
        if not self.out:
            object.__setattr__(self, "out", f"runs/{self.name}")


# Torch-free lists of the names users choose from (the CLI's --help shows them; a test checks
# MODEL_NAMES against the model registry colorclass.models.MODELS).
MODEL_NAMES = ("cnn", "unet", "fcn32s", "fcn16s", "fcn8s", "deep_unet", "vgg_dilated")
LOSS_NAMES = ("ce", "kl", "mse")
BIN_FAMILIES = ("kmeans", "gmm", "grid", "hcgrid")
BIN_SPACES = ("rgb", "lab", "hc", "ab")

_CHOICES = {
    "model.name": MODEL_NAMES, "loss.name": LOSS_NAMES, "optim.name": ("adam", "adamw", "sgd", "rmsprop"),
    "optim.schedule": ("none", "step", "cosine", "plateau"), "train.device": DEVICE_CHOICES,
    "train.amp": ("auto", "off", "bf16", "fp16"), "decode.method": METHODS,
    "train.early_stop_mode": ("min", "max"), "bins.family": BIN_FAMILIES,
    "bins.space": ("", *BIN_SPACES), "model.output_stride": (1, 2),
}
_POSITIVE = {"data.crop_size", "data.repeat", "train.batch_size", "model.width", "model.kernel_size",
             "loss.lowpass", "bins.soft_neighbors", "bins.k", "train.epochs", "optim.lr", "bins.soft_sigma",
             "train.log_every"}
_NON_NEGATIVE = {"data.resize", "data.rotate", "data.shear", "data.min_colorfulness", "data.max_images",
                 "data.num_workers", "model.depth", "model.head_kernel", "optim.weight_decay", "optim.grad_clip",
                 "train.max_minutes", "train.seed", "train.checkpoint_every", "train.sample_every",
                 "train.early_stop_patience", "train.overfit_batches"}
_UNIT_INTERVAL = {"data.val_fraction", "data.min_scale", "loss.rebalance_lambda", "model.hint_zero_fraction"}


def _field_types(cls: type) -> dict[str, type]:
    return typing.get_type_hints(cls)


def _coerce(key: str, value: Any, typ: type) -> Any:
    """Convert ``value`` (TOML value or override string) to ``typ`` or raise ConfigError."""
    if isinstance(value, str) and typ is not str:
        text = value.strip()
        try:
            if typ is bool:
                if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError
                return text.lower() in ("true", "1", "yes")
            return typ(text)
        except ValueError:
            raise ConfigError(f"{key}: expected {typ.__name__}, got {value!r}") from None
    if typ is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if typ is bool and not isinstance(value, bool) or typ is not bool and isinstance(value, bool) \
            or not isinstance(value, typ):
        raise ConfigError(f"{key}: expected {typ.__name__}, got {value!r} ({type(value).__name__})")
    return value


def _validate(key: str, value: Any) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{key}: must be a finite number, got {value!r}")
    if key in _CHOICES and value not in _CHOICES[key]:
        raise ConfigError(f"{key}: {value!r} is not one of {', '.join(repr(c) for c in _CHOICES[key])}")
    if key in _POSITIVE and not value > 0:
        raise ConfigError(f"{key}: must be > 0, got {value!r}")
    if key in _NON_NEGATIVE and value < 0:
        raise ConfigError(f"{key}: must be >= 0, got {value!r}")
    if key == "decode.temperature":
        try:
            check_temperature(value)
        except ValueError as e:
            raise ConfigError(f"decode.{e}") from None
    if key in _UNIT_INTERVAL and not 0 <= value <= 1:
        raise ConfigError(f"{key}: must be in [0, 1], got {value!r}")
    if key in CONFIG_BOUNDS and value > CONFIG_BOUNDS[key]:   # size-like values (support.limits)
        raise ConfigError(f"{key}: {value!r} is over the limit of {CONFIG_BOUNDS[key]}; use a smaller value")


def _unknown(key: str, valid: Sequence[str]) -> ConfigError:
    return ConfigError(f"unknown config key {key!r}; valid keys: {', '.join(valid)}")


def config_to_dict(cfg: ExperimentConfig) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def _build(tree: dict[str, Any]) -> ExperimentConfig:
    sections = _field_types(ExperimentConfig)
    top_valid = ["name", "out", *[k for k in sections if k not in ("name", "out")]]
    kwargs: dict[str, Any] = {}
    for key, value in tree.items():
        if key not in sections:
            raise _unknown(key, top_valid)
        typ = sections[key]
        if key in ("name", "out"):
            kwargs[key] = _coerce(key, value, typ)
            continue
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a [{key}] table, got {value!r}")
        types = _field_types(typ)
        sub = {}
        for k, v in value.items():
            if k not in types:
                raise _unknown(f"{key}.{k}", [f"{key}.{n}" for n in types])
            sub[k] = _coerce(f"{key}.{k}", v, types[k])
            _validate(f"{key}.{k}", sub[k])
        kwargs[key] = typ(**sub)
    return ExperimentConfig(**kwargs)


def _set_dotted(tree: dict[str, Any], item: str) -> None:
    if "=" not in item:
        raise ConfigError(f"override {item!r} must look like section.key=value")
    key, value = item.split("=", 1)
    parts = key.strip().split(".")
    if len(parts) > 2 or not all(parts):
        raise ConfigError(f"override key {key!r} must be 'name', 'out' or 'section.key'")
    node = tree
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {key!r}: {p!r} is not a section")
    node[parts[-1]] = value


def load_config(path: str | Path | None = None, overrides: Sequence[str] = ()) -> ExperimentConfig:
    """Read a TOML experiment file (or the defaults when ``path`` is None) and apply
    ``section.key=value`` overrides in order."""
    tree: dict[str, Any] = {}
    if path:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file {str(path)!r} not found; see experiments/ for examples")
        try:
            tree = tomllib.loads(p.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"config file {str(path)!r} is not valid TOML: {e}") from None
    for item in overrides:
        _set_dotted(tree, item)
    return _build(tree)


def replace_config(cfg: ExperimentConfig, **dotted: Any) -> ExperimentConfig:
    """Copy of ``cfg`` with dotted keys replaced: ``replace_config(cfg, **{"train.epochs": 3})``."""
    tree = config_to_dict(cfg)
    for key, value in dotted.items():
        parts = key.split(".")
        node = tree
        for p in parts[:-1]:
            if p not in node or not isinstance(node[p], dict):
                raise _unknown(key, list(tree))
            node = node[p]
        if parts[-1] not in node:
            raise _unknown(key, list(node))
        node[parts[-1]] = value
    return _build(tree)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, (int, float)):
        return repr(v)
    return json.dumps(str(v), ensure_ascii=False)  # JSON string escapes are valid TOML basic strings


def config_to_toml(cfg: ExperimentConfig) -> str:
    """The resolved config as TOML text (``load_config`` reads it back to an equal config)."""
    tree = config_to_dict(cfg)
    lines = [f"name = {_toml_value(tree.pop('name'))}", f"out = {_toml_value(tree.pop('out'))}"]
    for section, values in tree.items():
        lines += ["", f"[{section}]"] + [f"{k} = {_toml_value(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"
