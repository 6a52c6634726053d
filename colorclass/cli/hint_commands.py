"""Command line for user-guided colourisation (issue 19): ``suggest`` and the hint options of
``colorize`` and ``evaluate``.

    photo + --at X,Y (+ hints.json) -> Predictor.distribution_at -> probs (Q,), the pixel's L
        -> hints.suggest.suggest_colours -> printed hex codes + probabilities (or --json), -o swatch.png
    colorize --hints hints.json PHOTO [--method levin] -> (the photo's hint points, a LevinPredictor or None)
    evaluate --hints 0,1,2,5 -> the list of hint counts of evaluation.hint_curve

Hints files: see ``colorclass.hints.points`` (a JSON list of {"x", "y", "colour"} in the photo's own
pixels). Every user mistake here is one line and exit 2.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from colorclass.cli.common import UsageError, add_device_option, add_model_options, model_source, positive_int

__all__ = ["colorize_hints", "hint_counts", "HINT_METHODS"]

HINT_METHODS = ("network", "levin")


def hint_counts(text: str) -> list[int]:
    """``--hints 0,1,2,5`` -> [0, 1, 2, 5] (whole numbers >= 0, sorted, each once)."""
    from colorclass.hints.points import MAX_HINTS

    try:
        counts = sorted({int(t) for t in text.split(",") if t.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected hint counts like 0,1,2,5,10, got {text!r}") from None
    if not counts or counts[0] < 0 or counts[-1] > MAX_HINTS:
        raise argparse.ArgumentTypeError(f"hint counts must be whole numbers in 0..{MAX_HINTS}, got {text!r}")
    return counts


def _one_photo(inputs: list[str], what: str) -> Path:
    if len(inputs) != 1 or not Path(inputs[0]).is_file():
        got = f"{len(inputs)} inputs" if len(inputs) != 1 else f"the folder {inputs[0]!r}"
        raise UsageError(f"colorize: {what} is for one photo file, got {got}; pass exactly one photo")
    return Path(inputs[0])


def _photo_and_hints(photo: Path, hints_file: str | None):
    from colorclass.hints.points import read_hints_file
    from colorclass.photos import UnreadableImage, load_rgb

    try:
        rgb = load_rgb(photo)
    except UnreadableImage as e:
        raise UsageError(f"{photo}: cannot read the photo ({e.reason}); pass a JPEG or PNG photo") from None
    height, width = rgb.shape[:2]
    hints = read_hints_file(hints_file, width=width, height=height) if hints_file else None
    return rgb, hints


def colorize_hints(a: argparse.Namespace):
    """``colorize``'s --hints / --method: (hints or None, predictor or None: a LevinPredictor for
    ``--method levin``, which loads no model). Refuses what does not fit before any work."""
    if a.method == "levin":
        if not a.hints:
            raise UsageError("colorize --method levin propagates hint points; pass --hints hints.json")
        if a.run is not None or a.model is not None:
            raise UsageError("colorize --method levin uses no network; drop --run / --model")
    if not a.hints:
        return None, None
    _, hints = _photo_and_hints(_one_photo(a.inputs, "--hints"), a.hints)
    if a.method != "levin":
        return hints, None
    from colorclass.inference.predictor import LevinPredictor

    return hints, LevinPredictor()


def _point(text: str) -> tuple[int, int]:
    parts = text.split(",")
    try:
        x, y = (int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected X,Y pixel coordinates like 120,48, got {text!r}") from None
    return x, y


def _add_suggest(p: argparse.ArgumentParser) -> None:
    p.add_argument("photo", metavar="PHOTO", help="the photo (its colours are ignored: only its lightness is used)")
    p.add_argument("--at", type=_point, required=True, metavar="X,Y",
                   help="the pixel: x = column in 0..width-1, y = row in 0..height-1")
    p.add_argument("-k", type=positive_int, default=6, help="at most this many colours (default 6)")
    p.add_argument("--hints", default=None, metavar="HINTS.json",
                   help="hint points already placed (hint-aware models only; format: colorize --help)")
    p.add_argument("--json", action="store_true", help="print the suggestions as JSON")
    p.add_argument("-o", "--out", default=None, metavar="SWATCH.png",
                   help="also write the colours as a swatch PNG (nothing is written without -o)")
    add_model_options(p, run_help="a trained run folder (classification; default: the built-in model)")
    add_device_option(p)
    p.set_defaults(handler=_run_suggest)


def _run_suggest(a: argparse.Namespace) -> int:
    from colorclass.cli.common import require_dir
    from colorclass.hints.suggest import suggest_colours, swatch_png
    from colorclass.inference.predictor import Predictor
    from colorclass.support.files import check_output_file

    photo = Path(a.photo)
    if not photo.is_file():
        raise UsageError(f"suggest: photo {a.photo!r} is not a file; pass one photo")
    if a.run is not None:
        require_dir(a.run, "--run RUN_DIR")
    check_output_file(a.out, "-o")
    rgb, hints = _photo_and_hints(photo, a.hints)
    (x, y), (height, width) = a.at, rgb.shape[:2]
    if not (0 <= x < width and 0 <= y < height):
        raise UsageError(f"suggest: --at {x},{y} is outside the photo ({width}x{height}); "
                         f"give x in 0..{width - 1} and y in 0..{height - 1}")
    predictor = Predictor.load(model_source(a), device=a.device)
    probs, lightness = predictor.distribution_at(rgb, x, y, hints=hints)
    if predictor.bins is None:
        raise UsageError(f"suggest: {predictor.name} has no colour bins; pass a classification run")
    suggestions = suggest_colours(probs, predictor.bins.centers_ab, lightness, k=a.k)
    if a.out:
        swatch_png(suggestions, a.out)
    if a.json:
        print(json.dumps({"photo": str(photo), "x": x, "y": y, "lightness": round(lightness, 3),
                          "model": predictor.name, "hints": len(hints or ()), "swatch": a.out,
                          "suggestions": [{"hex": s.hex, "probability": round(s.probability, 6),
                                           "ab": [round(v, 3) for v in s.ab], "rgb": list(s.rgb_u8),
                                           "in_gamut": s.in_gamut} for s in suggestions]}, indent=2))
        return 0
    print(f"{photo} at ({x}, {y}), L = {lightness:.1f}, {predictor.name}"
          + (f", {len(hints)} hint(s)" if hints else ""))
    for i, s in enumerate(suggestions, 1):
        print(f"  {i}. {s.hex}  {100 * s.probability:5.1f} %  ab ({s.ab[0]:6.1f}, {s.ab[1]:6.1f})"
              + ("" if s.in_gamut else "  (out of gamut, shown clipped)"))
    if a.out:
        print(f"wrote {a.out}")
    return 0
