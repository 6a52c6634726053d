"""The demo: the whole pipeline on photos that ship inside the installed dependencies.

    embedded photos -> the built-in model colourises the two held-out photos (seconds)
    -> fit 24 k-means bins -> train a U-Net on random crops (time-boxed)
    -> colourise the held-out photos at full resolution -> evaluate (demo run, built-in, gray, mean)
    -> runs/demo/report.html with gray | built-in | demo-trained | truth

No download needed: scikit-image, scikit-learn and matplotlib carry these photos.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

__all__ = ["EMBEDDED_PHOTOS", "HELD_OUT", "export_embedded_photos", "run_demo"]

HELD_OUT = ("astronaut", "chelsea")


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        return getattr(skimage.data, name)()
    return load


def _motorcycle(side: int) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        return skimage.data.stereo_motorcycle()[side]
    return load


def _sklearn(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_image

        return load_sample_image(name)
    return load


def _grace_hopper() -> np.ndarray:
    import matplotlib.cbook

    with Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)) as image:
        return np.asarray(image.convert("RGB"))


EMBEDDED_PHOTOS: dict[str, Callable[[], np.ndarray]] = {
    "astronaut": _skimage("astronaut"), "chelsea": _skimage("chelsea"),
    "coffee": _skimage("coffee"), "rocket": _skimage("rocket"),
    "motorcycle_left": _motorcycle(0), "motorcycle_right": _motorcycle(1),
    "china": _sklearn("china.jpg"), "flower": _sklearn("flower.jpg"),
    "grace_hopper": _grace_hopper,
}


def export_embedded_photos(folder: str | Path, *, held_out=HELD_OUT) -> tuple[Path, Path]:
    """Write the embedded photos as PNG into ``folder/train`` and ``folder/held_out``."""
    folder = Path(folder)
    train, held = folder / "train", folder / "held_out"
    for d in (train, held):
        d.mkdir(parents=True, exist_ok=True)
    for name, load in EMBEDDED_PHOTOS.items():
        dst = (held if name in held_out else train) / f"{name}.png"
        if not dst.is_file():
            Image.fromarray(np.ascontiguousarray(load()[..., :3])).save(dst)
    return train, held


def demo_config(out: Path, train: Path, held: Path, *, max_minutes: float, seed: int):
    """The demo's experiment: U-Net, 24 k-means RGB bins, cross-entropy, 64x64 crops."""
    from colorclass.runs.experiment import load_config

    return load_config(None, [
        "name=demo", f"out={out}", f"data.train={train}", f"data.val={held}",
        "data.resize=160", "data.crop_size=64", "data.min_scale=0.5", "data.repeat=64",
        f"bins.path={out / 'bins.npz'}", "model.name=unet", "model.width=32",
        "loss.name=ce", "optim.lr=2e-3", "optim.schedule=none",
        "train.epochs=1000", f"train.max_minutes={max_minutes}", "train.batch_size=16",
        f"train.seed={seed}", "train.checkpoint_every=0", "train.log_every=10",
    ])


def _builtin_colours(held: Path) -> dict[str, "np.ndarray"]:
    """The held-out photos colourised by the built-in model (seconds), by file stem."""
    import warnings

    from colorclass.inference.engines import load_predictor
    from colorclass.photos import load_rgb
    from colorclass.support.errors import GamutWarning

    predictor = load_predictor()   # the default built-in model, engine and settings: as `colorize` runs it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GamutWarning)
        return {p.stem: predictor.colorize(load_rgb(p))[0] for p in sorted(held.glob("*.png"))}


def _held_out_grid(out: Path, held: Path, builtin: dict, written: list[Path]) -> Path:
    """gray | built-in | demo-trained | truth for every held-out photo."""
    from colorclass.photos import load_rgb
    from colorclass.reports.run_report import gray_of, save_columns_grid

    rows = []
    for p in written:
        truth = load_rgb(held / f"{p.stem}.png")
        rows.append((p.stem, [gray_of(truth), builtin[p.stem], load_rgb(p), truth]))
    return save_columns_grid(rows, ["gray input", "built-in model", "demo-trained", "truth"],
                             out / "held_out_grid.png", title="held-out photos (never trained on)")


def run_demo(out: str | Path = "runs/demo", *, max_minutes: float = 3.0, seed: int = 0) -> Path:
    """Run the demo end to end; returns the path of report.html."""
    from colorclass.binning import fit_bins_from_folder
    from colorclass.builtin import builtin_run_dir
    from colorclass.evaluation.evaluate import evaluate_run
    from colorclass.inference.colorize_files import colorize_paths
    from colorclass.reports.run_report import build_run_report
    from colorclass.training.train_run import run_training

    start = time.time()
    out = Path(out)
    for stale in ("checkpoint.safetensors", "log.csv", "bins.npz"):  # the demo always starts afresh
        (out / stale).unlink(missing_ok=True)
    train, held = export_embedded_photos(out / "photos")
    builtin = _builtin_colours(held)
    print(f"[1/5] the built-in model colourised the held-out photos ({', '.join(HELD_OUT)}) "
          f"in {time.time() - start:.1f} s")
    bins = fit_bins_from_folder(train, out / "bins.npz", family="kmeans", k=24, seed=seed)
    print(f"[2/5] fitted {bins.n_bins} k-means colour bins on {len(list(train.iterdir()))} photos")
    print(f"[3/5] training the demo's own U-Net for at most {max_minutes:g} minutes")
    cfg = demo_config(out, train, held, max_minutes=max_minutes, seed=seed)
    run_training(cfg, command=f"colorclass demo --out {out} --max-minutes {max_minutes:g} --seed {seed}",
                 overwrite=True)
    written = colorize_paths([held], out / "colorized", source=out, overwrite=True)
    grid = _held_out_grid(out, held, builtin, written)
    print("[4/5] evaluating on the held-out photos: demo-trained vs built-in vs gray and mean baselines")
    evaluate_run(out, held, compare=[builtin_run_dir()], baselines=["gray", "mean"])
    report = build_run_report(out, data=held, extra_sections=[("Held-out photos at full resolution", grid)])
    print(f"[5/5] colourised the held-out photos at full resolution -> {out / 'colorized'}")
    print(f"done in {time.time() - start:.0f} s. Report: {report.resolve()}")
    return report
