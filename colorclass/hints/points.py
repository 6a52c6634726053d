"""The hints file: colour points a user puts on a photo, shared by ``colorize --hints``, ``suggest
--hints`` and the web page, and their rasterisation into the network's extra input planes.

    hints.json -> *read_hints_file* / *parse_hints* -> list[Hint] -> *hint_maps* (ab_map, mask)
        -> *hint_planes* [a/110, b/110, mask] -> network input [L_input, a/110, b/110, mask]
    list[Hint] -> *hints_to_json* -> hints.json (round trip, ab written with 2 decimals)

File format: a JSON list (at most MAX_HINTS entries, at most MAX_HINTS_FILE_BYTES bytes) of points

    [{"x": 120, "y": 48, "colour": "#c83c1e"}, {"x": 7, "y": 300, "colour": [12.5, -40], "size": 5}]

in the photo's own pixel coordinates (x: column in 0..width-1, y: row in 0..height-1, integers).
``colour`` is ``"#rrggbb"`` or Lab chroma ``[a, b]`` with a and b in [-128, 127]; ``"color"`` is
accepted for ``"colour"``. A hex colour is converted to Lab at its own lightness and ONLY ITS CHROMA
(a, b) is used: the photo keeps its lightness, so "#400000" and "#ff8080" both mean "reddish" of
somewhat different chroma. ``size`` (optional, default 1) is the side in pixels, 1..MAX_SIZE, of the
square the point covers, centred on (x, y) (for even sizes the extra row / column is below / right).
Errors name the entry by its index counting from 0, e.g.
``hints.json entry 3: x=900 is outside the photo (width 640); x must be in 0..639``.

Shapes and ranges:
    Hint.ab: (a, b) floats in [-128, 127]
    ab_map: (2, H', W') float32, the hint's ab on its square, 0 elsewhere
    mask:   (1, H', W') float32 in {0, 1}, 1 where some hint lies
    planes: (3, H', W') float32 [a / AB_SCALE, b / AB_SCALE, mask]  (numpy, or torch (B, 3, H, W))

Torch-free (``hint_planes`` handles torch tensors it is given without importing torch itself).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from colorclass.hints.srgb import hex_to_rgb_u8, rgb01_to_lab
from colorclass.support.errors import InputFileError, UsageError

__all__ = [
    "Hint", "MAX_HINTS", "MAX_HINTS_FILE_BYTES", "MAX_SIZE", "AB_RANGE", "AB_SCALE", "HINT_CHANNELS",
    "parse_hints", "read_hints_file", "hints_to_json", "hint_maps", "hint_square", "hint_planes", "hints_to_planes",
    "check_hints_taken",
]

MAX_HINTS = 10_000
MAX_HINTS_FILE_BYTES = 1_000_000
MAX_SIZE = 31
AB_RANGE = (-128.0, 127.0)
AB_SCALE = 110.0  # the ab normalisation of the network's hint planes
HINT_CHANNELS = 3  # [a / AB_SCALE, b / AB_SCALE, mask]
_KEYS = ("x", "y", "colour", "size")
_EXAMPLE = '[{"x": 10, "y": 20, "colour": "#c83c1e"}, ...]'


@dataclass(frozen=True)
class Hint:
    """One user colour point: pixel (x, y) of the photo, Lab chroma ``ab``, a ``size`` x ``size`` square."""

    x: int
    y: int
    ab: tuple[float, float]
    size: int = 1


# ----------------------------------------------------------------------------- parsing

def _show(value) -> str:
    """A value as the user wrote it in JSON, cut to 40 characters."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _load(text_or_obj, source: str):
    if not isinstance(text_or_obj, (str, bytes, bytearray)):
        return text_or_obj
    try:
        return json.loads(text_or_obj)
    except json.JSONDecodeError as e:
        raise InputFileError(f"{source}: not valid JSON ({e.msg} at line {e.lineno} column {e.colno}); "
                             f"write a list of points like {_EXAMPLE}") from None
    except UnicodeDecodeError:
        raise InputFileError(f"{source}: not UTF-8 text; save the hints file as UTF-8 JSON") from None
    except RecursionError:
        raise InputFileError(f"{source}: JSON nested too deeply; write a flat list of points like {_EXAMPLE}") from None


def _integer(entry: dict, key: str, where: str, low: int, high: int, what: str) -> int:
    value = entry[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputFileError(f"{where}: {key}={_show(value)} is not a whole number; "
                             f"write {key} as an integer ({what})")
    if not low <= value <= high:
        raise InputFileError(f"{where}: {key}={value} is outside {what}; {key} must be in {low}..{high}")
    return value


def _colour(value, where: str) -> tuple[float, float]:
    if isinstance(value, str):
        rgb = hex_to_rgb_u8(value)
        if rgb is None:
            raise InputFileError(f'{where}: colour={_show(value)} is not a "#rrggbb" hex colour; '
                                 'write e.g. "#c83c1e", or Lab chroma [a, b]')
        lab = rgb01_to_lab(np.array(rgb, dtype=np.float64) / 255.0)[0]
        return float(lab[1]), float(lab[2])
    numbers = (isinstance(value, list) and len(value) == 2
               and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value))
    if not numbers:
        raise InputFileError(f'{where}: colour={_show(value)} must be "#rrggbb" or [a, b] '
                             f"(Lab chroma, two numbers in [{AB_RANGE[0]:g}, {AB_RANGE[1]:g}])")
    a, b = float(value[0]), float(value[1])
    if not (math.isfinite(a) and math.isfinite(b)):
        raise InputFileError(f"{where}: colour={_show(value)} is not a pair of finite numbers; "
                             f"give a and b in [{AB_RANGE[0]:g}, {AB_RANGE[1]:g}]")
    if not (AB_RANGE[0] <= a <= AB_RANGE[1] and AB_RANGE[0] <= b <= AB_RANGE[1]):
        raise InputFileError(f"{where}: colour={_show(value)} is outside the Lab chroma range; "
                             f"a and b must lie in [{AB_RANGE[0]:g}, {AB_RANGE[1]:g}]")
    return a, b


def _entry(entry, index: int, width: int, height: int, source: str) -> Hint:
    where = f"{source} entry {index}"
    if not isinstance(entry, dict):
        raise InputFileError(f'{where}: {_show(entry)} is not an object; write {{"x": .., "y": .., '
                             '"colour": "#rrggbb"}')
    entry = dict(entry)
    if "color" in entry and "colour" not in entry:
        entry["colour"] = entry.pop("color")
    unknown = sorted(set(entry) - set(_KEYS))
    if unknown:
        raise InputFileError(f"{where}: unknown key {_show(unknown[0])}; the keys are x, y, colour and "
                             "(optional) size")
    missing = [k for k in _KEYS[:3] if k not in entry]
    if missing:
        raise InputFileError(f'{where}: missing "{missing[0]}"; every point needs x, y and colour')
    x = _integer(entry, "x", where, 0, width - 1, f"the photo (width {width})")
    y = _integer(entry, "y", where, 0, height - 1, f"the photo (height {height})")
    size = _integer(entry, "size", where, 1, MAX_SIZE, f"the point sizes 1..{MAX_SIZE}") if "size" in entry else 1
    return Hint(x=x, y=y, ab=_colour(entry["colour"], where), size=size)


def _check_photo_size(width, height) -> None:
    for name, value in (("width", width), ("height", height)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"the photo's {name} must be a positive integer, got {value!r}")


def parse_hints(text_or_obj, *, width: int, height: int, source: str = "hints.json") -> list[Hint]:
    """Hints from JSON text (str or bytes) or an already parsed list, checked against a photo of
    ``width`` x ``height`` pixels. Raises InputFileError naming ``source``, the entry and the value."""
    _check_photo_size(width, height)
    data = _load(text_or_obj, source)
    if not isinstance(data, list):
        raise InputFileError(f"{source}: expected a JSON list of points, got {type(data).__name__} "
                             f"{_show(data)}; write {_EXAMPLE}")
    if len(data) > MAX_HINTS:
        raise InputFileError(f"{source}: {len(data)} points, more than the limit of {MAX_HINTS}; "
                             "give fewer points (use size for larger areas)")
    return [_entry(e, i, int(width), int(height), source) for i, e in enumerate(data)]


def read_hints_file(path: str | Path, *, width: int, height: int) -> list[Hint]:
    """Read and check a hints file (at most MAX_HINTS_FILE_BYTES bytes) for a ``width`` x ``height`` photo."""
    path = Path(path)
    if not path.is_file():
        why = "is a folder" if path.is_dir() else "does not exist"
        raise InputFileError(f"hints file {path} {why}; give the path of a JSON file of points like {_EXAMPLE}")
    with open(path, "rb") as f:
        data = f.read(MAX_HINTS_FILE_BYTES + 1)
    if len(data) > MAX_HINTS_FILE_BYTES:
        raise InputFileError(f"hints file {path} is larger than the {MAX_HINTS_FILE_BYTES // 1_000_000} MB limit; "
                             f"give at most {MAX_HINTS} points")
    return parse_hints(data, width=width, height=height, source=str(path))


def hints_to_json(hints) -> str:
    """The hints file text for ``hints`` (ab as [a, b] with 2 decimals); ``parse_hints`` reads it back."""
    entries = [{"x": int(h.x), "y": int(h.y), "colour": [round(float(h.ab[0]), 2), round(float(h.ab[1]), 2)],
                "size": int(h.size)} for h in hints]
    if not entries:
        return "[]\n"
    return "[\n" + ",\n".join("  " + json.dumps(e) for e in entries) + "\n]\n"


# ----------------------------------------------------------------------------- rasterising

def _scales(scale) -> tuple[float, float]:
    sy, sx = (scale, scale) if np.ndim(scale) == 0 else tuple(scale)
    sy, sx = float(sy), float(sx)
    if not (math.isfinite(sy) and math.isfinite(sx) and sy > 0 and sx > 0):
        raise ValueError(f"scale must be a positive number or (scale_y, scale_x), got {scale!r}")
    return sy, sx


def hint_maps(hints, height: int, width: int, *, scale=1.0) -> tuple[np.ndarray, np.ndarray]:
    """Paint ``hints`` on a ``height`` x ``width`` grid (the network's): (ab_map (2, H, W), mask (1, H, W)).

    ``scale``: grid pixels per photo pixel, one number or (scale_y, scale_x) (e.g. (H / photo_height,
    W / photo_width)). Photo pixel (x, y) lands on grid cell (floor((x + 0.5) sx), floor((y + 0.5) sy))
    clipped to the grid; each hint paints a square of side max(1, round(size * s)) around it. Where
    squares overlap the later hint wins. Both float32; ab_map is 0 and mask 0 where no hint lies.
    """
    scale = _scales(scale)
    ab_map = np.zeros((2, height, width), np.float32)
    mask = np.zeros((1, height, width), np.float32)
    for h in hints:
        rows, cols = hint_square(h, height, width, scale=scale)
        ab_map[0, rows, cols], ab_map[1, rows, cols] = h.ab
        mask[0, rows, cols] = 1.0
    return ab_map, mask


def hint_square(hint: Hint, height: int, width: int, *, scale=1.0) -> tuple[slice, slice]:
    """The (rows, cols) slices of the square ``hint`` covers on a ``height`` x ``width`` grid (see hint_maps)."""
    sy, sx = _scales(scale)
    cy, cx = min(int((hint.y + 0.5) * sy), height - 1), min(int((hint.x + 0.5) * sx), width - 1)
    ny, nx = max(1, round(hint.size * sy)), max(1, round(hint.size * sx))
    y0, x0 = cy - (ny - 1) // 2, cx - (nx - 1) // 2
    return slice(max(y0, 0), min(y0 + ny, height)), slice(max(x0, 0), min(x0 + nx, width))


def hint_planes(ab_map, mask):
    """The ONE normalisation of the network's hint input: ab (..., 2, H, W) and mask (..., 1, H, W)
    -> (..., 3, H, W) float32 [a / AB_SCALE, b / AB_SCALE, mask], ab zeroed where mask is 0.

    NumPy arrays give a NumPy array; torch tensors (e.g. ``simulate``'s batches) give a tensor on
    their device. The network input is then [L_input, a / 110, b / 110, mask] (4 channels).
    """
    ab = ab_map * (mask / AB_SCALE)
    if isinstance(ab, np.ndarray):
        return np.concatenate([ab, mask], axis=-3).astype(np.float32, copy=False)
    return _torch_cat(ab, mask)


def _torch_cat(ab, mask):
    import torch  # only reached with tensors, so torch is already loaded

    return torch.cat([ab, mask.to(ab.dtype)], dim=-3).float()


def hints_to_planes(hints, height: int, width: int, *, scale=1.0) -> np.ndarray:
    """``hint_planes(*hint_maps(hints, height, width, scale=scale))``: (3, H, W) float32."""
    return hint_planes(*hint_maps(hints, height, width, scale=scale))


def check_hints_taken(hints, *, hint_aware: bool, name: str) -> None:
    """One UsageError when ``hints`` are given to a network that is not hint-aware (both engines)."""
    if hints and not hint_aware:
        raise UsageError(f"{name or 'this model'} is not hint-aware (it was trained without model.hints); "
                         "drop --hints, use --method levin, or a run trained with model.hints = true")
