"""Inference: a trained run turns photos into colour photos at full resolution.

    photo -> Lab L (full res) -> resize to network scale -> network -> logits
          -> decode (mode / mean / annealed mean) -> ab (network res)
          -> upsample ab -> recombine with the full-resolution L -> sRGB file

The output's L channel is the input's L (up to 8-bit rounding and gamut clipping).

A user's files are safe: outputs keep the input's sub-folder paths under the output folder (so
equal stems never collide), no output may be an input, an existing file is replaced only with
``overwrite=True``, and every file is written atomically. The network never runs above
``MAX_LONG_SIDE`` pixels on the long side nor ``MAX_NETWORK_PIXELS`` in total (the aspect is
kept); a photo that still cannot be processed (unreadable, out of memory) is skipped with a
reason and the job goes on.
"""
from __future__ import annotations

import warnings
from pathlib import Path

from tqdm import tqdm

from colorclass.photos.write import JPEG_SUFFIXES, save_image
from colorclass.support.limits import MAX_LONG_SIDE, MAX_NETWORK_PIXELS, capped_size  # noqa: F401 (API)
from colorclass.inference.network import colorize_array
from colorclass.runs.loading import load_run

__all__ = ["colorize_path", "plan_outputs", "capped_size", "MAX_LONG_SIDE", "MAX_NETWORK_PIXELS",
           "FORMATS", "ColorizeError"]

FORMATS = ("auto", "png", "jpg")
_JPEG_INPUTS = (*JPEG_SUFFIXES, ".jpe")


class ColorizeError(ValueError):
    """The job cannot start (outputs would replace inputs or existing files; no photos)."""


def _output_suffix(src: Path, fmt: str) -> str:
    if fmt == "auto":
        return ".jpg" if src.suffix.lower() in _JPEG_INPUTS else ".png"
    return "." + fmt


def _inputs(path: Path, out_dir: Path, skipped) -> tuple[list[Path], Path]:
    """(photo files, the root their output paths are relative to); outputs under the input tree
    (a previous run's colour photos) are not inputs."""
    from colorclass.photos import list_images

    if path.is_file():
        return [path], path.parent
    out_real = out_dir.resolve()
    files = [f for f in list_images(path, skipped) if out_real not in f.resolve().parents]
    return files, path


def plan_outputs(files: list[Path], root: Path, out_dir: Path, *, fmt: str = "auto",
                 overwrite: bool = False) -> list[Path]:
    """Output path of each input: ``out_dir / <path relative to root>`` with the format's suffix
    (``name_ext.png`` when two inputs would share a name). Raises ColorizeError when an output
    is an input, or exists and ``overwrite`` is False -- before any work."""
    if fmt not in FORMATS:
        raise ColorizeError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if out_dir.exists() and not out_dir.is_dir():
        raise ColorizeError(f"-o {str(out_dir)!r} is a file, not a folder; pass a folder for the colour photos")
    if any(out_dir.resolve() == f.resolve() for f in files):
        raise ColorizeError(f"-o {str(out_dir)!r} is the input; choose another output folder so that "
                            "the originals are kept")
    inputs = {f.resolve() for f in files}
    base = [out_dir / (f.relative_to(root) if root in f.parents else Path(f.name)).with_suffix(
        _output_suffix(f, fmt)) for f in files]
    taken = {d for f, d in zip(files, base) if f.suffix.lower() == d.suffix}  # x.png keeps x.png
    planned = []
    for f, dst in zip(files, base):
        if f.suffix.lower() != dst.suffix and dst in taken:
            dst = dst.with_name(f"{f.stem}_{f.suffix.lstrip('.').lower()}{dst.suffix}")
        taken.add(dst)
        if dst.resolve() in inputs:
            raise ColorizeError(f"output {str(dst)!r} would replace the input photo; choose another -o")
        planned.append(dst)
    existing = [d for d in planned if d.exists()]
    if existing and not overwrite:
        raise ColorizeError(f"{len(existing)} output file(s) already exist (e.g. {str(existing[0])!r}); "
                            "pass --overwrite to replace them or choose another -o")
    return planned


def _colorize_one(f: Path, run, *, method: str, temperature: float, size: int | None):
    """(colour photo uint8, clipped pixels) or raise UnreadableImage / MemoryError / RuntimeError."""
    from colorclass.color import GamutWarning
    from colorclass.photos import load_rgb

    rgb = load_rgb(f)
    with warnings.catch_warnings():  # clipping is counted and reported once, by the caller
        warnings.simplefilter("ignore", GamutWarning)  # (predict.network_size caps the grid)
        return colorize_array(rgb, run, method=method, temperature=temperature, size=size)


def colorize_path(input_path: str | Path, out_dir: str | Path, *, run_dir: str | Path = "runs/demo",
                  method: str | None = None, temperature: float | None = None,
                  size: int | None = None, device: str = "auto", fmt: str = "auto",
                  overwrite: bool = False) -> list[Path]:
    """Colourise a file or every photo of a folder into ``out_dir``, keeping sub-folder paths.

    Output format: ``fmt="auto"`` gives a JPEG (quality 95) for a JPEG input and a PNG
    otherwise; "png" / "jpg" force one. Unreadable files and files that run out of memory are
    skipped and counted; the job never stops on one bad photo. Returns the written paths.
    """
    from colorclass.photos import SkipReport, UnreadableImage
    from colorclass.photos.read import shown

    input_path, out_dir = Path(input_path), Path(out_dir)
    if input_path.is_dir() and out_dir.resolve() == input_path.resolve():
        raise ColorizeError(f"-o {shown(out_dir)!r} is the input folder; choose another output folder so "
                            "that the originals are kept")
    skipped = SkipReport()
    files, root = _inputs(input_path, out_dir, skipped)
    if not files:
        raise ColorizeError(f"no photos found in {shown(input_path)!r}; pass an image file or a folder of "
                            "photos (.jpg, .png, ...)")
    planned = plan_outputs(files, root, out_dir, fmt=fmt, overwrite=overwrite)
    run = load_run(run_dir, device=device)
    method = method or run.method
    temperature = temperature if temperature is not None else run.temperature
    if size is None:
        size = run.network_size
    written, clipped = [], 0
    for f, dst in tqdm(list(zip(files, planned)), desc="colorize", unit="img", disable=len(files) < 2):
        try:
            img, n = _colorize_one(f, run, method=method, temperature=temperature, size=size)
        except UnreadableImage as e:
            skipped.add(f, e.reason)
            continue
        except MemoryError:
            skipped.add(f, "out of memory")
            continue
        except RuntimeError as e:
            if "out of memory" not in str(e):
                raise
            skipped.add(f, "out of memory")
            continue
        clipped += n
        dst.parent.mkdir(parents=True, exist_ok=True)
        save_image(img, dst)
        written.append(dst)
    print(f"colourised {len(written)} photo(s) into {shown(out_dir)} (decode={method}, T={temperature})")
    if skipped.total:
        print(f"skipped {skipped.total}:\n  " + skipped.summary().replace("\n", "\n  "))
    if clipped:
        print(f"note: {clipped} pixels were outside the sRGB gamut and were clipped")
    return written
