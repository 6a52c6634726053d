"""Inference: a trained run turns photos into colour photos at full resolution.

    photo -> Lab L (full res) -> resize to network scale -> network -> logits
          -> decode (mode / mean / annealed mean) -> ab (network res)
          -> upsample ab -> recombine with the full-resolution L -> sRGB file

The output's L channel is the input's L (up to 8-bit rounding and gamut clipping).
"""
from __future__ import annotations

import warnings
from pathlib import Path

from tqdm import tqdm

from .photos.write import save_image
from .predict import colorize_array
from .runs import load_run

__all__ = ["colorize_path"]


def _inputs(path: Path) -> list[Path]:
    from .photos import list_images

    return [path] if path.is_file() else list_images(path)


def colorize_path(input_path: str | Path, out_dir: str | Path, *, run_dir: str | Path = "runs/demo",
                  method: str | None = None, temperature: float | None = None,
                  size: int | None = None, device: str = "auto") -> list[Path]:
    """Colourise a file or every photo of a folder into ``out_dir`` as ``<stem>.png``.

    Unreadable files are skipped and counted; the job never stops on one bad file.
    Returns the written paths.
    """
    from .color import GamutWarning
    from .photos import SkipReport, UnreadableImage, load_rgb

    run = load_run(run_dir, device=device)
    method = method or run.method
    temperature = temperature if temperature is not None else run.temperature
    if size is None:
        size = run.network_size
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = _inputs(Path(input_path))
    skipped, written, clipped = SkipReport(), [], 0
    for f in tqdm(files, desc="colorize", unit="img", disable=len(files) < 2):
        try:
            rgb = load_rgb(f)
        except UnreadableImage as e:
            skipped.add(f, e.reason)
            continue
        with warnings.catch_warnings():  # clipping is counted and reported once, below
            warnings.simplefilter("ignore", GamutWarning)
            img, n = colorize_array(rgb, run, method=method, temperature=temperature, size=size)
        clipped += n
        dst = out_dir / f"{f.stem}.png"
        save_image(img, dst)
        written.append(dst)
    print(f"colourised {len(written)} photo(s) into {out_dir} (decode={method}, T={temperature})")
    if skipped.total:
        print(f"skipped {skipped.total}: {skipped.summary()}")
    if clipped:
        print(f"note: {clipped} pixels were outside the sRGB gamut and were clipped")
    return written
