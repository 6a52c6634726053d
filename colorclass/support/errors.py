"""The error family for a user's mistakes: the one thing the command line turns into one line.

    library code raises ColorclassError (or a subclass) naming the value and the fix
        -> cli.common.run_command: one line on stderr, exit 2

Anything else that escapes is a bug: the command line says so (exit 1, traceback with ``-v``).
Subclasses say which door the mistake came through; all of them are user errors.
"""
from __future__ import annotations

__all__ = ["ColorclassError", "UsageError", "InputFileError", "GamutWarning", "is_out_of_memory"]


class ColorclassError(ValueError):
    """A user's mistake (a bad value, a missing or malformed file the user named): the message
    names the value and the fix. Subclasses ValueError so library callers may catch either."""


class UsageError(ColorclassError):
    """A command-line value or option combination that cannot work."""


class InputFileError(ColorclassError):
    """A file the user gave (run folder, bins, calibration, JSON) is missing, too large or malformed."""


class GamutWarning(UserWarning):
    """A Lab colour fell outside the sRGB gamut and was clipped (a warning, not an error; here so
    that torch-free code can name it)."""


def is_out_of_memory(error: BaseException) -> bool:
    """True for an allocation failure: ``MemoryError`` (numpy's too), ``torch.OutOfMemoryError``
    (CUDA) and the CPU allocator's RuntimeError, which torch raises without a type of its own
    (its message starts "[enforce fail at alloc_cpu.cpp" and names DefaultCPUAllocator)."""
    import sys

    if isinstance(error, MemoryError):
        return True
    torch = sys.modules.get("torch")
    oom = getattr(torch, "OutOfMemoryError", None) if torch is not None else None
    if oom is not None and isinstance(error, oom):
        return True
    return isinstance(error, RuntimeError) and "DefaultCPUAllocator" in str(error)
