"""The one door for decoding settings: method, temperature and network size, resolved once.

    --decode / --temperature / --size (flag)
      over RUN/calibration.json (calibration) over RUN/config.toml (run) over card.json (card)
      over the defaults of colorclass.decoding.rules (default)
        -> *resolve_settings* (validated here, once) -> DecodeSettings -> inference.predictor

Torch-free: the command line and the torch-free engine resolve settings without importing
torch. Every value records where it came from (``sources``), so commands can say it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from colorclass.decoding.rules import DEFAULT_METHOD, DEFAULT_TEMPERATURE, METHODS, check_temperature
from colorclass.support.errors import UsageError
from colorclass.support.limits import MAX_LONG_SIDE

__all__ = ["DecodeSettings", "resolve_settings", "SOURCES"]

SOURCES = ("flag", "calibration", "run", "card", "default")


@dataclass(frozen=True)
class DecodeSettings:
    """method: "mode" | "mean" | "annealed"; temperature: the annealed-mean T (checked by
    ``decoding.rules.check_temperature``); size: the network's shorter side in pixels (None: the
    photo's own, capped by ``support.limits``); sources: field -> one of ``SOURCES``."""

    method: str = DEFAULT_METHOD
    temperature: float = DEFAULT_TEMPERATURE
    size: int | None = None
    sources: Mapping[str, str] = field(default_factory=dict)
    calibrated_on: str | None = None

    def describe(self, *, regression: bool = False) -> str:
        """e.g. "decode=annealed, T=0.3 (calibrated on DIR), size 64 (run)"."""
        if regression:
            text = "regression (the network outputs ab)"
        else:
            text = f"decode={self.method}" + (f", T={self.temperature:g}" if self.method == "annealed" else "")
            where = self.sources.get("temperature" if self.method == "annealed" else "method", "default")
            text += f" ({f'calibrated on {self.calibrated_on}' if where == 'calibration' else where})"
        size = f"size {self.size}" if self.size else "size: the photo's own"
        return f"{text}, {size} ({self.sources.get('size', 'default')})"

    def with_overrides(self, *, method: str | None = None, temperature: float | None = None,
                       size: int | None = None) -> DecodeSettings:
        """The same settings with some values given as flags (validated like any flag)."""
        flags = {"method": method, "temperature": temperature, "size": size}
        return resolve_settings(flags, {k: getattr(self, k) for k in flags}, layer_names=("flag", "kept"),
                                previous=self)


def _check_method(value: Any, where: str) -> str:
    if value not in METHODS:
        raise UsageError(f"{where}: decode method {value!r} is not one of {', '.join(METHODS)}")
    return str(value)


def _check_size(value: Any, where: str) -> int | None:
    if value in (None, 0):
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_LONG_SIDE:
        raise UsageError(f"{where}: size {value!r} must be an integer in 1..{MAX_LONG_SIDE} "
                         "(the network's shorter side in pixels)")
    return value


def _check_t(value: Any, where: str) -> float:
    try:
        return check_temperature(value)
    except ValueError as e:
        raise UsageError(f"{where}: {e}") from None


def resolve_settings(*layers: Mapping[str, Any] | None, layer_names: tuple[str, ...] = SOURCES,
                     where: Mapping[str, str] | None = None, calibrated_on: str | None = None,
                     previous: DecodeSettings | None = None) -> DecodeSettings:
    """Merge ``layers`` (highest priority first; one per name in ``layer_names``; None or a
    missing / None value means "not given here") into validated DecodeSettings.

    ``where`` names each layer for error messages (e.g. {"calibration": "runs/x/calibration.json"}).
    The default layer is always last. Raises UsageError naming the value, where it came from and
    the fix.
    """
    defaults = {"method": DEFAULT_METHOD, "temperature": DEFAULT_TEMPERATURE, "size": None}
    names = (*layer_names[:len(layers)], "default")
    sources: dict[str, str] = {}

    def pick(key: str) -> tuple[Any, str]:
        """(value, label for error messages) from the first layer that gives ``key``; records its source."""
        for name, layer in zip(names, (*layers, defaults)):
            value = None if layer is None else layer.get(key)
            if value is not None or name == "default":
                flag = "--" + ("decode" if key == "method" else key)
                label = (where or {}).get(name) or (flag if name == "flag" else f"the {name} value")
                sources[key] = previous.sources.get(key, "default") if (previous and name == "kept") else name
                return value, label
        raise AssertionError("unreachable: the default layer gives every key")

    method = _check_method(*pick("method"))
    temperature = _check_t(*pick("temperature"))
    size = _check_size(*pick("size"))
    cal = previous.calibrated_on if previous else calibrated_on
    if "calibration" not in sources.values():
        cal = None
    return DecodeSettings(method, temperature, size, sources, cal)
