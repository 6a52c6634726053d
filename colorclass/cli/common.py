"""Command line plumbing shared by every subcommand: one-line usage errors, argument types.

    argv -> argparse (*Parser*: errors are one line) -> handler -> exit code (0, 1 or 2)

Each argument type checks one rule before any work starts and names the value and the fix.
"""
from __future__ import annotations

import argparse
import logging
import math
import re
import shlex
import sys
from pathlib import Path
from typing import Callable, TypeVar

from colorclass.builtin import DEFAULT_MODEL
from colorclass.support.errors import UsageError

__all__ = ["EXIT_USAGE", "UsageError", "Parser", "configure_logging", "add_verbosity_options", "add_device_option",
           "require_dir", "command_line", "positive_int",
           "non_negative_int", "positive_float", "non_negative_float",
           "check_output_dir", "os_error_line", "shown",
           "add_model_options", "model_source"]

EXIT_USAGE = 2


class _StdoutHandler(logging.Handler):
    """Library log records as plain lines on the current sys.stdout (looked up at each record,
    so redirections and test captures see them)."""

    def emit(self, record: logging.LogRecord) -> None:
        print(self.format(record), file=sys.stdout)


def configure_logging(verbosity: int) -> None:
    """The CLI decides what library logs show: -q (warnings only), default (progress lines),
    -v (debug). Library modules only log (logging.getLogger(__name__))."""
    logger = logging.getLogger("colorclass")
    logger.handlers = [h for h in logger.handlers if not isinstance(h, _StdoutHandler)]
    handler = _StdoutHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING if verbosity < 0 else logging.DEBUG if verbosity > 0 else logging.INFO)
    logger.propagate = False


def add_verbosity_options(p: argparse.ArgumentParser) -> None:
    """-q / -v: less or more output (-v also prints the traceback of an internal error)."""
    p.add_argument("-q", "--quiet", action="store_const", const=-1, default=0, dest="verbosity",
                   help="print only warnings and errors")
    p.add_argument("-v", "--verbose", action="store_const", const=1, dest="verbosity",
                   help="print debug output, and the traceback of an internal error")


class Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are a single line (no usage dump)."""

    def parse_known_args(self, args=None, namespace=None):
        self._argv = list(sys.argv[1:] if args is None else args)   # for the leading-dash hint of error()
        return super().parse_known_args(args, namespace)

    def _get_values(self, action, arg_strings):
        if action.option_strings and action.nargs is None and arg_strings == ["--"]:   # --k=--: argparse
            self.error(f"argument {'/'.join(action.option_strings)}: expected a value, got '--'")  # gives []
        return super()._get_values(action, arg_strings)

    def error(self, message: str) -> None:  # type: ignore[override]
        dashed = [a for a in getattr(self, "_argv", []) if a.startswith("-") and a != "--" and Path(a).exists()]
        hint = (f"; {dashed[0]!r} is a path starting with '-': put paths after --, e.g. "
                f"{self.prog} [OPTIONS] -- {dashed[0]}") if dashed else ""
        raise UsageError(f"{self.prog}: {message}{hint} (see --help)")


def add_device_option(p: argparse.ArgumentParser, *, default: str | None = "auto") -> None:
    """--device auto|cpu|cuda (auto: CUDA when available)."""
    from colorclass.engine.settings import DEVICE_CHOICES  # torch-free

    p.add_argument("--device", default=default, choices=DEVICE_CHOICES,
                   help="auto (CUDA when available, else the CPU), cpu or cuda")


def require_dir(path: str, what: str) -> None:
    if not Path(path).is_dir():
        raise UsageError(f"{what} {path!r} is not a folder; check the path")


def shown(path) -> str:
    """A path as printable text (colorclass.photos.read.shown: non-UTF-8 bytes as escapes)."""
    from colorclass.photos.read import shown as _shown

    return _shown(path)


def os_error_line(e: OSError) -> str:
    """One line for a file-system error: the path (when known; a temporary file of an atomic
    write is named by its destination) and the cause."""
    cause = e.strerror or str(e) or type(e).__name__
    if e.filename is None:
        return cause
    path = Path(shown(e.filename))
    temp = re.fullmatch(r"\.(.+)\.tmp\d+(\.[^.]*)?", path.name)
    if temp:
        path = path.with_name(temp.group(1) + (temp.group(2) or ""))
    return f"{path}: {cause}"


def check_output_dir(path: str, what: str) -> None:
    """An output folder's path must not be an existing file (nor lie under one)."""
    p = Path(path)
    for q in (p, *p.parents):
        if q.exists():
            if not q.is_dir():
                raise UsageError(f"{what} {shown(path)!r}: {shown(q)!r} is a file, not a folder")
            break


def command_line() -> str:
    """The command as typed, quoted for a shell (recorded in command.txt)."""
    return " ".join(shlex.quote(x) for x in [Path(sys.argv[0]).name, *sys.argv[1:]])


_Number = TypeVar("_Number", int, float)


def _number(text: str, kind: Callable[[str], _Number], rule: str, ok: Callable[[_Number], bool]) -> _Number:
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


def add_model_options(p: argparse.ArgumentParser, *, run_help: str) -> None:
    """--run RUN_DIR | --model NAME: which network (default: the default built-in model)."""
    which = p.add_mutually_exclusive_group()
    which.add_argument("--run", default=None, metavar="RUN_DIR", help=run_help)
    which.add_argument("--model", default=None, metavar="NAME",
                       help=f"a built-in model by name (default {DEFAULT_MODEL}; `colorclass models` lists them)")


def model_source(a: argparse.Namespace) -> str | None:
    """The Predictor source named by --run / --model (None: the default built-in model)."""
    return a.run if a.run is not None else f"builtin:{a.model}" if a.model else None
