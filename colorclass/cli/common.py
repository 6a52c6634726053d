"""Command line plumbing shared by every subcommand: one-line usage errors, argument types.

    argv -> argparse (*Parser*: errors are one line) -> handler -> exit code (0, 1 or 2)

Each argument type checks one rule before any work starts and names the value and the fix.
"""
from __future__ import annotations

import argparse
import math
import shlex
import sys
from pathlib import Path

__all__ = ["EXIT_USAGE", "UsageError", "Parser", "require_dir", "command_line", "positive_int",
           "non_negative_int", "positive_float", "non_negative_float", "temperature"]

EXIT_USAGE = 2


class UsageError(Exception):
    """A user-facing error: printed as one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are a single line (no usage dump)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message} (see --help)")


def require_dir(path: str, what: str) -> None:
    if not Path(path).is_dir():
        raise UsageError(f"{what} {path!r} is not a folder; check the path")


def command_line() -> str:
    """The command as typed, quoted for a shell (recorded in command.txt)."""
    return " ".join(shlex.quote(x) for x in [Path(sys.argv[0]).name, *sys.argv[1:]])


def _number(text: str, kind: type, rule: str, ok) -> int | float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {rule}, got {text!r}") from None
    if not ok(value):
        raise argparse.ArgumentTypeError(f"must be {rule}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    return _number(text, int, "an integer > 0", lambda v: v > 0)


def non_negative_int(text: str) -> int:
    return _number(text, int, "an integer >= 0", lambda v: v >= 0)


def non_negative_float(text: str) -> float:
    return _number(text, float, "a finite number >= 0", lambda v: math.isfinite(v) and v >= 0)


def positive_float(text: str) -> float:
    return _number(text, float, "a finite number > 0", lambda v: math.isfinite(v) and v > 0)


def temperature(text: str) -> float:
    """--temperature: the one rule of colorclass.decode_rules.check_temperature."""
    from ..decode_rules import check_temperature

    try:
        return check_temperature(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
