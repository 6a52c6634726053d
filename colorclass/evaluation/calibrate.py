"""Temperature calibration: tune a run's annealed-mean temperature on held-out photos.

    held-out photos -> Predictor.predict (once per photo) -> Predictor.with_settings(...).ab per setting
        (mode = the T -> 0 end, annealed T = 0.05 .. 0.85, mean = the T = 1 end)
        -> metrics.MetricAccumulator per setting -> choose by --metric
        -> RUN/calibration.json (read by runs.load_run: colorize / evaluate use it) + calibration.png

Calibration refuses photos the run was trained on (its data.train list, as the runner built it).
"""
from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

import numpy as np

from colorclass.evaluation.metrics import MetricAccumulator
from colorclass.support.errors import ColorclassError

__all__ = ["DEFAULT_TEMPERATURES", "METRICS", "HIGHER_IS_BETTER", "sweep_settings", "sweep",
           "choose_setting", "calibrate_run", "plot_sweep"]

log = logging.getLogger(__name__)

DEFAULT_TEMPERATURES = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.38, 0.45, 0.55, 0.7, 0.85)
HIGHER_IS_BETTER = ("auc_ab_rebalanced", "auc_ab", "ssim", "psnr", "mean_iou")
METRICS = HIGHER_IS_BETTER + ("ab_rmse", "colorfulness_gap")


def sweep_settings(temperatures=DEFAULT_TEMPERATURES) -> list[tuple[str, float, float]]:
    """(method, temperature, x position on the plot): mode at x = 0, annealed at x = T, mean at x = 1."""
    from colorclass.decoding.rules import DEFAULT_TEMPERATURE, check_temperature

    ts = sorted({check_temperature(t) for t in temperatures})
    return ([("mode", DEFAULT_TEMPERATURE, 0.0)] + [("annealed", t, t) for t in ts]
            + [("mean", DEFAULT_TEMPERATURE, 1.0)])


def sweep(pairs, predictor, settings) -> list[dict]:
    """Metrics of every decoding setting. ``pairs``: iterable of (inference.network.Prediction of
    one photo, its truth (H, W, 3) uint8); the network runs once per photo, only decoding (the
    ``predictor`` with each setting) is repeated. Returns one row per setting: {method,
    temperature, x, ...metrics.MetricAccumulator keys}."""
    from colorclass.color import GamutWarning
    from colorclass.decoding.decoders import recombine_full_resolution
    from colorclass.inference.network import to_uint8

    accs = [MetricAccumulator() for _ in settings]
    decoders = [predictor.with_settings(method=method, temperature=t) for method, t, _ in settings]
    for pred, truth in pairs:
        for acc, decoder in zip(accs, decoders):
            ab = decoder.ab(pred)
            with warnings.catch_warnings():  # clipping is counted instead
                warnings.simplefilter("ignore", GamutWarning)
                rgb, n_clipped = recombine_full_resolution(pred.l_full, ab)
            acc.add(to_uint8(rgb)[0], truth, n_clipped)
    return [{"method": m, "temperature": t if m == "annealed" else None, "x": x, **acc.result()}
            for acc, (m, t, x) in zip(accs, settings)]


def choose_setting(rows: list[dict], metric: str, *, max_colorfulness_gap: float | None = None) -> dict:
    """The row with the best ``metric`` (highest, or lowest for errors/gaps); ties -> first.

    ``max_colorfulness_gap``: only among rows whose mean colourfulness is within that many units
    of the truth's (e.g. 5: "the best rebalanced AuC that is neither dull nor garish"); when no
    row qualifies, the row closest to the truth's colourfulness.
    """
    if metric not in METRICS:
        raise ColorclassError(f"--metric {metric!r} is not one of {', '.join(METRICS)}")
    if max_colorfulness_gap is not None:
        ok = [r for r in rows if r["colorfulness_gap"] <= max_colorfulness_gap]
        return choose_setting(ok, metric) if ok else choose_setting(rows, "colorfulness_gap")
    sign = 1.0 if metric in HIGHER_IS_BETTER else -1.0
    scores = [sign * r[metric] if r[metric] is not None and r[metric] == r[metric] else -np.inf for r in rows]
    return rows[int(np.argmax(scores))]


def plot_sweep(rows: list[dict], chosen: dict, metric: str, out_png: str | Path) -> Path:
    """Every metric against T (mode drawn at T = 0, mean at T = 1), the chosen setting marked."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from colorclass.support.files import atomic_path

    fig, axes = plt.subplots(2, 4, figsize=(13, 5.6))
    xs = [r["x"] for r in rows]
    for ax, key in zip(axes.ravel(), METRICS + ("clipped_fraction",)):
        ys = [np.nan if r[key] is None else r[key] for r in rows]
        ax.plot(xs, ys, "o-", color="tab:blue" if key != metric else "tab:red", ms=4)
        ax.axvline(chosen["x"], color="gray", ls="--", lw=1)
        ax.set_title(key + ("  (chosen by)" if key == metric else ""), fontsize=9)
        ax.set_xticks([0, 0.25, 0.5, 0.75, 1], ["mode", ".25", ".5", ".75", "mean"], fontsize=8)
        ax.grid(alpha=0.3)
    fig.supxlabel("annealed-mean temperature T (mode = T -> 0, mean = T = 1)")
    fig.tight_layout()
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, dpi=80)
    plt.close(fig)
    return Path(out_png)


def _trained_on(run) -> set[Path]:
    """Resolved paths of the photos the run was trained on (``runs.photo_split``, as the runner)."""
    from colorclass.runs.photo_split import run_photos

    d = run.config.data
    if not d.train or not Path(d.train).is_dir():
        return set()
    return {Path(f).resolve() for f in run_photos(run.config, progress=False).train}


def _format_rows(rows: list[dict], chosen: dict) -> str:
    from colorclass.evaluation.evaluate import format_table

    named = [{**r, "name": (r["method"] if r["method"] != "annealed" else f"annealed T={r['temperature']:g}")
              + ("  <- chosen" if r is chosen else "")} for r in rows]
    return format_table(named)


def calibrate_run(run_dir: str | Path, val_dir: str | Path, *, metric: str = "auc_ab_rebalanced",
                  temperatures=DEFAULT_TEMPERATURES, max_images: int = 0, device: str = "auto",
                  max_colorfulness_gap: float | None = None) -> dict:
    """Sweep the decoding settings on ``val_dir``, store the best in RUN/calibration.json, plot it."""
    from tqdm import tqdm

    from colorclass.inference.predictor import Predictor
    from colorclass.photos import list_images, load_rgb, scan_images
    from colorclass.runs.loading import CALIBRATION_FILE
    from colorclass.support.files import atomic_write_text

    if metric not in METRICS:
        raise ColorclassError(f"--metric {metric!r} is not one of {', '.join(METRICS)}")
    settings = sweep_settings(temperatures)
    predictor = Predictor.load(run_dir, device=device)
    run = predictor.run
    if predictor.regression:
        raise ColorclassError(f"run {str(run_dir)!r} is a regression run (loss mse): "
                              "it has no temperature to calibrate")
    files, skipped = scan_images(list_images(val_dir))
    files = files[:max_images] if max_images else files
    if not files:
        raise ColorclassError(f"no usable photos with colour in {str(val_dir)!r}; "
                              f"`colorclass data {val_dir}` shows why")
    seen = _trained_on(run)
    overlap = sum(Path(f).resolve() in seen for f in files)
    if overlap:
        raise ColorclassError(f"{overlap} of the {len(files)} photos in {str(val_dir)!r} were used to train the run; "
                         "calibrate on held-out photos")
    if skipped.total:
        log.info(f"skipped {skipped.total} photos: {skipped.summary()}")

    def pairs():
        for f in tqdm(files, desc="calibrate", unit="img"):
            truth = load_rgb(f)
            yield predictor.predict(predictor.photo(truth)), truth

    rows = sweep(pairs(), predictor, settings)
    chosen = choose_setting(rows, metric, max_colorfulness_gap=max_colorfulness_gap)
    png = plot_sweep(rows, chosen, metric, Path(run_dir) / "calibration.png")
    record = {"method": chosen["method"], "temperature": chosen["temperature"] or settings[0][1],
              "metric": metric, "value": chosen[metric], "max_colorfulness_gap": max_colorfulness_gap,
              "data": str(val_dir), "n_images": len(files),
              "sweep": [{k: v for k, v in r.items() if k != "per_class_accuracy"} for r in rows]}
    atomic_write_text(Path(run_dir) / CALIBRATION_FILE, json.dumps(record, indent=2))
    log.info(_format_rows(rows, chosen))
    what = chosen["method"] + (f", T={chosen['temperature']:g}" if chosen["method"] == "annealed" else "")
    log.info(f"calibrated on {len(files)} photos of {val_dir} by {metric}: decode={what}; stored in "
          f"{Path(run_dir) / CALIBRATION_FILE}; plot {png}")
    return record
