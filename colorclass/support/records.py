"""Bounded readers of the small files the toolkit reads back: one line naming the file, or the data.

    calibration.json, data_stats.json, card.json, meta.json -> *read_json* (+ a schema check) -> dict
    log.csv -> *read_csv* -> header, rows

A file on disk may lie: a FIFO or a device in its place, 2 GB of bytes, JSON nested 100,000
deep (Python's parser would recurse until RecursionError), a number of 400 digits, NaN, a
field of 1 MB, binary junk. Every reader here checks, before parsing or while parsing:

* a regular file (a FIFO would block the read forever, a device never ends);
* its size (``support.limits.MAX_RECORD_BYTES``, ``MAX_LOG_BYTES``), UTF-8 text without NUL bytes;
* JSON: nesting depth (``MAX_JSON_DEPTH``), digits of a number (``MAX_NUMBER_DIGITS``), finite
  numbers only (no NaN, Infinity or 1e400); CSV: bytes of a field (``MAX_CSV_FIELD``);
* the caller's schema: ``check(data)`` raises ValueError with the reason, e.g. with the helpers
  ``number`` and ``numbers`` below.

Any failure is one ``InputFileError``: "FILE is not a valid WHAT (REASON); FIX".
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import stat
from pathlib import Path
from typing import Any, Callable

from colorclass.support import limits
from colorclass.support.errors import InputFileError

__all__ = ["read_text", "read_json", "read_csv", "number", "numbers", "text_field", "regular_file_reason"]

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)


def regular_file_reason(path: str | Path) -> str | None:
    """None for a regular file (links followed); else why not: "no such file", "not a regular
    file (a FIFO)" ..."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "no such file"
    except OSError as e:
        return e.strerror or type(e).__name__
    if stat.S_ISREG(mode):
        return None
    kind = ("a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "a device"
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode) else "special")
    return f"not a regular file ({kind})"


def _fail(path: Path, what: str, reason: str, fix: str) -> InputFileError:
    shown = os.fsdecode(path).encode("utf-8", "backslashreplace").decode("utf-8")   # non-UTF-8 names
    return InputFileError(f"{shown!r} is not a valid {what} ({reason})" + (f"; {fix}" if fix else ""))


def read_text(path: str | Path, *, what: str, fix: str = "", max_bytes: int = limits.MAX_RECORD_BYTES) -> str:
    """The UTF-8 text of a regular file of at most ``max_bytes``, without NUL bytes."""
    path = Path(path)
    reason = regular_file_reason(path)
    if reason is not None:
        raise _fail(path, what, reason, fix)
    with open(path, "rb") as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise _fail(path, what, f"larger than {max_bytes:,} bytes", fix)
    if b"\0" in data:
        raise _fail(path, what, "binary data, not text", fix)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _fail(path, what, f"not UTF-8 text at byte {e.start}", fix) from None


def _depth(text: str) -> int:
    """Deepest nesting of [ and { outside JSON strings."""
    depth = deepest = 0
    for ch in _STRINGS.sub('""', text):
        if ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _parse_number(text: str) -> float | int:
    if len(text) > limits.MAX_NUMBER_DIGITS:
        raise ValueError(f"a number {len(text)} characters long, over {limits.MAX_NUMBER_DIGITS}")
    value = float(text) if any(c in text for c in ".eE") else int(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text} is out of range")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def read_json(path: str | Path, *, what: str, fix: str = "", check: Callable[[Any], object] | None = None,
              max_bytes: int = limits.MAX_RECORD_BYTES) -> Any:
    """Parsed JSON of ``path`` within the limits above; ``check(data)`` may raise ValueError
    (or KeyError / TypeError) with the reason the content is wrong."""
    path = Path(path)
    text = read_text(path, what=what, fix=fix, max_bytes=max_bytes)
    if _depth(text) > limits.MAX_JSON_DEPTH:
        raise _fail(path, what, f"nested deeper than {limits.MAX_JSON_DEPTH} levels", fix)
    try:
        data = json.loads(text, parse_int=_parse_number, parse_float=_parse_number, parse_constant=_no_constant)
        if check is not None:
            check(data)
    except json.JSONDecodeError as e:
        raise _fail(path, what, f"not JSON: {e.msg} at line {e.lineno}", fix) from None
    except KeyError as e:
        raise _fail(path, what, f"no {e.args[0]!r} field", fix) from None
    except (ValueError, TypeError, RecursionError) as e:
        raise _fail(path, what, (str(e).splitlines() or [type(e).__name__])[0][:200], fix) from None
    return data


def read_csv(path: str | Path, *, what: str = "log.csv", fix: str = "",
             max_bytes: int = limits.MAX_LOG_BYTES) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of a CSV text file within the limits above (an empty file: ([], []))."""
    path = Path(path)
    text = read_text(path, what=what, fix=fix, max_bytes=max_bytes)
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as e:    # e.g. a field over csv's own 128 KB limit
        raise _fail(path, what, (str(e).splitlines() or ["malformed CSV"])[0][:200], fix) from None
    for n, row in enumerate(rows, 1):
        for cell in row:
            if len(cell) > limits.MAX_CSV_FIELD:
                raise _fail(path, what, f"a field of {len(cell):,} characters on line {n} (at most "
                            f"{limits.MAX_CSV_FIELD:,})", fix)
    return (rows[0] if rows else []), rows[1:]


# ----------------------------------------------------------------------------- schema helpers
_ABSENT = object()


def _field(data: Any, key: str, required: bool) -> Any:
    """``data[key]``, or _ABSENT when it is missing and not ``required``; ValueError otherwise."""
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    if key not in data:
        if required:
            raise ValueError(f"no {key!r} field")
        return _ABSENT
    return data[key]


def number(data: Any, key: str, *, low: float = -math.inf, high: float = math.inf, integer: bool = False,
           required: bool = True) -> float | int | None:
    """``data[key]`` as a finite number in [low, high] (bools are not numbers); None when absent
    and not ``required``. Raises ValueError naming the field."""
    value = _field(data, key, required)
    if value is _ABSENT:
        return None
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or not low <= value <= high:
        want = "an integer" if integer else "a number"
        raise ValueError(f"{key} is {value!r}, expected {want} in [{low:g}, {high:g}]")
    return value


def numbers(data: Any, key: str, *, length: int, low: float = -math.inf, high: float = math.inf) -> list[float]:
    """``data[key]`` as a list of ``length`` finite numbers in [low, high]."""
    value = _field(data, key, True)
    if not isinstance(value, list) or len(value) != length:
        raise ValueError(f"{key} is {str(value)[:60]}, expected a list of {length} numbers")
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not low <= v <= high:
            raise ValueError(f"{key} holds {str(v)[:60]}, expected numbers in [{low:g}, {high:g}]")
    return [float(v) for v in value]


def text_field(data: Any, key: str, *, choices: tuple[str, ...] | None = None, required: bool = True) -> str | None:
    """``data[key]`` as a string (one of ``choices`` when given); None when absent and not required."""
    value = _field(data, key, required)
    if value is _ABSENT:
        return None
    if not isinstance(value, str) or (choices is not None and value not in choices):
        want = f"one of {', '.join(choices)}" if choices else "a string"
        raise ValueError(f"{key} is {str(value)[:60]!r}, expected {want}")
    return value
