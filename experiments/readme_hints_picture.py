"""The README's hints picture: one photo as automatic | with 5 hints | truth, and a suggestion swatch.

    python experiments/readme_hints_picture.py [--photo PATH] [--out docs]

Writes OUT/hints.jpg (gray | automatic (built-in `hints` model, no hints) | the same model with 5
simulated hints | Levin propagation of the same 5 hints | truth) and OUT/suggest.png (the
suggestions of `colorclass suggest` at one pixel). The hints are drawn from the photo's true
colours with the evaluation's user simulation (colorclass.hints.simulate.simulate_points, seed 0),
so the picture is reproducible.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


def main(argv: list[str] | None = None) -> int:
    from skimage import data

    from colorclass.color import rgb_u8_to_lab_np
    from colorclass.evaluation.grids import gray_of, save_columns_grid
    from colorclass.hints.simulate import simulate_points
    from colorclass.hints.suggest import suggest_colours, swatch_png
    from colorclass.inference.predictor import LevinPredictor, Predictor

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--photo", default=None, help="a photo (default: scikit-image's coffee)")
    p.add_argument("--out", default="docs")
    a = p.parse_args(argv)
    rgb = np.asarray(Image.open(a.photo).convert("RGB")) if a.photo else data.coffee()
    rgb = np.asarray(Image.fromarray(rgb).resize((384, round(384 * rgb.shape[0] / rgb.shape[1]))))
    ab = np.moveaxis(rgb_u8_to_lab_np(rgb)[..., 1:], -1, 0)
    hints = simulate_points(ab, 5, 0)
    model = Predictor.load("builtin:hints", device="cpu")
    automatic, _ = model.colorize(rgb)
    hinted, _ = model.colorize(rgb, hints=hints)
    levin, _ = LevinPredictor().colorize(rgb, hints=hints)
    marked = Image.fromarray(hinted)
    draw = ImageDraw.Draw(marked)
    for h in hints:
        draw.ellipse([h.x - 5, h.y - 5, h.x + 5, h.y + 5], outline=(255, 255, 255), width=2)
    out = Path(a.out)
    grid = save_columns_grid([("coffee", [gray_of(rgb), automatic, np.asarray(marked), levin, rgb])],
                             ["gray input", "automatic", "5 hints (circled)", "Levin, same hints", "truth"],
                             out / "hints.png", title="built-in model 'hints'")
    Image.open(grid).convert("RGB").save(out / "hints.jpg", quality=90)
    grid.unlink()
    x, y = int(rgb.shape[1] * 0.3), int(rgb.shape[0] * 0.8)   # on the saucer
    probs, lightness = model.distribution_at(rgb, x, y)
    swatch_png(suggest_colours(probs, np.asarray(model.bins.centers_ab), lightness, k=6), out / "suggest.png")
    print(f"wrote {out / 'hints.jpg'} and {out / 'suggest.png'} (suggestions at x={x}, y={y})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
