"""Decoding rules and their defaults: the one home of the temperature and its validation.

    config (decode.method, decode.temperature) / --decode / --temperature / calibration
        -> *check_temperature* -> decode.decode(logits, bins, method, temperature)

Torch-free, so configs and the command line can validate a value before any work starts.
"""
from __future__ import annotations

import math

__all__ = ["METHODS", "DEFAULT_METHOD", "DEFAULT_TEMPERATURE", "MIN_TEMPERATURE", "MAX_TEMPERATURE",
           "check_temperature"]

METHODS = ("mode", "mean", "annealed")
DEFAULT_METHOD = "annealed"
DEFAULT_TEMPERATURE = 0.38  # Zhang et al. 2016; `colorclass calibrate` tunes it per run
# softmax(logits / T) is computed stably (max subtracted) for T in this range; below it the
# annealed mean equals the mode to float precision, above it the mean (ask for those instead)
MIN_TEMPERATURE, MAX_TEMPERATURE = 1e-4, 100.0


def check_temperature(temperature: float) -> float:
    """The one rule for an annealed-mean temperature: a number in [MIN_TEMPERATURE, MAX_TEMPERATURE].

    (T -> 0 is the mode and T = 1 the mean: ask for ``method="mode"`` / ``"mean"`` instead.)
    Returns the value as a float; raises ValueError naming the value and the fix.
    """
    if isinstance(temperature, bool):
        raise ValueError(f"temperature must be a number, got {temperature!r}")
    try:
        t = float(temperature)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"temperature must be a number, got {temperature!r}") from None
    if not (math.isfinite(t) and MIN_TEMPERATURE <= t <= MAX_TEMPERATURE):
        raise ValueError(f"temperature must be in [{MIN_TEMPERATURE:g}, {MAX_TEMPERATURE:g}] (default "
                         f"{DEFAULT_TEMPERATURE}), got {temperature!r}; for T -> 0 use the 'mode' decoder")
    return t
