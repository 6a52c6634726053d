"""The hint curve (Zhang et al., SIGGRAPH 2017, Fig. 4): colourisation quality against the number of
user hints, every method given the SAME simulated hints.

    photos with true colour -> true ab -> hints.simulate.simulate_points(ab, n, seed of the photo)
        -> run / --compare runs (Predictor.colorize(hints=)) | levin (LevinPredictor) | baselines
        -> metrics.MetricAccumulator per (method, n) -> JSON "hint_curve" + markdown table + plot PNG

Each photo's hints are drawn with a seed fixed by its file name (``photo_seed``), so hints depend
only on (photo, n) and are the same for every method and every run of the command. A network that
is not hint-aware is measured at 0 hints only (its other points are null; the log says so); levin
propagates the hints alone (gray at 0 hints); the constant baselines (gray, mean) ignore hints and
are measured once and shown at every n. Hinted pixels -- the pixels the hint squares cover -- are
counted per n (``hinted_pixels``, ``hinted_fraction``): they are part of the metrics, as in the paper.

JSON (a contract: later versions add keys): {"hint_curve": {"counts": [n...], "n_images", "data",
"run", "seed_rule", "hinted_pixels": {"n": int}, "hinted_fraction": {"n": float}, "methods":
[{"name", "kind": run | compare | levin | baseline, "hint_aware", "points": [{"hints": n, "auc_ab",
"auc_ab_rebalanced", "psnr", "ab_rmse", ... (metrics.MetricAccumulator.result), with hints and
not for baselines "hint_ab_error", "hint_within_3" (the output's ab distance from the hint at hinted
pixels: mean, and share within 3 units)} | {"hints": n,
"skipped": why}]}]}}. AuC values are fractions in [0, 1]; the table shows percent.
"""
from __future__ import annotations

import json
import logging
import warnings
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from colorclass.evaluation.metrics import MetricAccumulator
from colorclass.support.errors import ColorclassError

__all__ = ["evaluate_hint_curve", "photo_seed", "hint_curve_table", "plot_hint_curve", "CURVE_METRICS"]

log = logging.getLogger(__name__)

CURVE_METRICS = (("AuC %", "auc_ab", 100.0), ("rebal. AuC %", "auc_ab_rebalanced", 100.0), ("PSNR dB", "psnr", 1.0))
SEED_RULE = "zlib.crc32(photo file name) (hints.simulate.simulate_points)"


def photo_seed(path: str | Path) -> int:
    """The simulated hints' seed of a photo: fixed by its file name (not its place in a folder)."""
    return zlib.crc32(Path(path).name.encode("utf-8"))


class _Curve:
    """One method: ``colour(truth, hints) -> (uint8 photo, clipped)`` measured at each count it takes."""

    def __init__(self, name: str, kind: str, colour, counts: Sequence[int], hint_aware: bool = True):
        self.name, self.kind, self.colour, self.hint_aware = name, kind, colour, hint_aware
        self.counts = list(counts) if hint_aware else [n for n in counts if n == 0]
        self.acc = {n: MetricAccumulator() for n in self.counts}
        self.at_hints = {n: np.zeros(3) for n in self.counts}   # sum of ab errors, pixels, pixels within 3

    def add(self, truth: np.ndarray, hints: dict, maps: dict) -> None:
        """One photo: ``hints[n]`` its simulated points, ``maps[n]`` their (ab_map, mask) at its size."""
        for n in self.counts:
            picture, clipped = self.colour(truth, hints[n])
            self.acc[n].add(picture, truth, clipped)
            if n and self.kind != "baseline":
                self.at_hints[n] += _error_at_hints(picture, *maps[n])

    def result(self, counts: Sequence[int], why_not: str) -> dict:
        """Per count its metrics; a baseline (measured once, hints ignored) repeats them at every count."""
        if self.kind == "baseline":
            same = _short(self.acc[self.counts[0]].result())
            return {"name": self.name, "kind": self.kind, "hint_aware": False,
                    "points": [{"hints": n, **same} for n in counts]}
        points = [{"hints": n, **_short(self.acc[n].result()), **_hint_fidelity(self.at_hints[n])}
                  if n in self.acc else {"hints": n, "skipped": why_not} for n in counts]
        return {"name": self.name, "kind": self.kind, "hint_aware": self.hint_aware, "points": points}


HINT_TOLERANCE = 3.0   # ab units: issue 19's goal for the colour at a hinted pixel


def _error_at_hints(picture: np.ndarray, hint_ab: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """[sum of |ab(picture) - hint ab|, hinted pixels, pixels within HINT_TOLERANCE] over the pixels
    the hint squares cover (``hints.points.hint_maps`` at the photo's size), measured on the colour
    photo the user gets (uint8 sRGB, gamut-clipped)."""
    from colorclass.color import rgb_u8_to_lab_np

    inside = mask[0] > 0
    if not inside.any():
        return np.zeros(3)
    error = np.linalg.norm(rgb_u8_to_lab_np(picture)[inside][:, 1:] - hint_ab[:, inside].T, axis=1)
    return np.array([error.sum(), error.size, (error <= HINT_TOLERANCE).sum()], dtype=np.float64)


def _hint_fidelity(sums: np.ndarray) -> dict:
    """``hint_ab_error``: mean ab distance of the output from the hint at hinted pixels;
    ``hint_within_3``: the share of hinted pixels within 3 ab units (neither without hinted pixels)."""
    total, pixels, within = sums
    if not pixels:
        return {}
    return {"hint_ab_error": float(total / pixels), "hint_within_3": float(within / pixels)}


def _short(result: dict) -> dict:
    return {k: v for k, v in result.items() if k != "per_class_accuracy"}


def _network_curve(predictor, kind: str, counts: Sequence[int]) -> _Curve:
    from colorclass.evaluation.evaluate import _method_label

    def colour(truth, hints):
        return predictor.colorize(truth, hints=hints if predictor.hint_aware else None)

    curve = _Curve(_method_label(predictor), kind, colour, counts, hint_aware=predictor.hint_aware)
    if not predictor.hint_aware:
        log.info("%s is not hint-aware (trained without model.hints): measured with 0 hints only", curve.name)
    return curve


def _baseline_curve(name: str, ab: np.ndarray, counts: Sequence[int]) -> _Curve:
    from colorclass.evaluation.baselines import baseline_prediction

    # ignores hints: measured once (at the first count), shown at every count
    return _Curve(name, "baseline", lambda truth, hints: baseline_prediction(truth, ab), counts[:1])


def hint_curve_table(curve: dict) -> str:
    """Markdown: one row per hint count, per method "AuC / rebalanced AuC / PSNR"."""
    methods, counts = curve["methods"], curve["counts"]
    head = ["hints", "hinted px %"] + [m["name"] for m in methods]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---:"] * len(head)) + "|"]
    for i, n in enumerate(counts):
        cells = [str(n), f"{100 * curve['hinted_fraction'][str(n)]:.3f}"]
        for m in methods:
            p = m["points"][i]
            cells.append("-" if "skipped" in p else " / ".join(
                "-" if p.get(key) is None else f"{p[key] * scale:.2f}" for _, key, scale in CURVE_METRICS))
        lines.append("| " + " | ".join(cells) + " |")
    legend = "cells: " + " / ".join(label for label, _, _ in CURVE_METRICS)
    return "\n".join(lines) + f"\n\n{legend}; {curve['n_images']} photos of {curve['data']}.\n" + _fidelity_table(curve)


def _fidelity_table(curve: dict) -> str:
    """Markdown: at hinted pixels, the output's mean ab distance from the hint and the % within 3."""
    methods = [m for m in curve["methods"] if m["kind"] != "baseline" and m["hint_aware"]]
    rows = [(n, [m["points"][i] for m in methods]) for i, n in enumerate(curve["counts"]) if n]
    if not methods or not rows:
        return ""
    head = ["hints"] + [m["name"] for m in methods]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---:"] * len(head)) + "|"]
    for n, points in rows:
        lines.append("| " + " | ".join([str(n)] + [
            f"{p['hint_ab_error']:.2f} / {100 * p['hint_within_3']:.1f}" if "hint_ab_error" in p else "-"
            for p in points]) + " |")
    return ("\nAt the hinted pixels (cells: mean ab distance of the output from the hint / % of hinted pixels "
            f"within {HINT_TOLERANCE:g} ab units):\n\n" + "\n".join(lines) + "\n")


def plot_hint_curve(curve: dict, path: str | Path) -> Path:
    """Three panels (AuC, rebalanced AuC, PSNR) against the number of hints, one line per method."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from colorclass.support.files import atomic_write_bytes

    counts = curve["counts"]
    fig, axes = plt.subplots(1, len(CURVE_METRICS), figsize=(4.2 * len(CURVE_METRICS), 3.4))
    for ax, (label, key, scale) in zip(np.atleast_1d(axes), CURVE_METRICS):
        for m in curve["methods"]:
            pts = [(n, m["points"][i].get(key)) for i, n in enumerate(counts)]
            pts = [(n, v * scale) for n, v in pts if v is not None]
            style = "o" if len(pts) == 1 else ("--" if m["kind"] == "baseline" else "-o")
            ax.plot([n for n, _ in pts], [v for _, v in pts], style, label=m["name"], markersize=3)
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xlabel("simulated hints per photo")
        ax.set_title(label)
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].legend(fontsize=7)
    fig.tight_layout()
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return Path(path)


def evaluate_hint_curve(run_dir: str | Path, data: str | Path, counts: Sequence[int], *,
                        out: str | Path | None = None, compare: Sequence[str | Path] = (),
                        baselines: Sequence[str] = (), method: str | None = None,
                        temperature: float | None = None, max_images: int = 0, device: str = "auto",
                        markdown: str | Path | None = None, levin: bool = True) -> dict:
    """Measure the run, the ``compare`` runs, levin (``levin=True``) and the ``baselines`` at each
    number of simulated hints in ``counts``; write the JSON (default RUN/eval_hints.json), the
    markdown table (``markdown``, default beside the JSON as .md) and the plot (beside it as .png)."""
    from colorclass.color import GamutWarning, rgb_u8_to_lab_np
    from colorclass.evaluation.evaluate import _baselines
    from colorclass.hints.points import hint_maps
    from colorclass.hints.simulate import simulate_points
    from colorclass.inference.predictor import LevinPredictor, Predictor
    from colorclass.photos import list_images, load_rgb, scan_images
    from colorclass.support.files import atomic_write_text, check_output_file

    counts = sorted({int(n) for n in counts})
    if not counts or counts[0] < 0:
        raise ColorclassError(f"--hints {counts!r}: give hint counts >= 0, e.g. 0,1,2,5,10")
    out = Path(out) if out else Path(run_dir) / "eval_hints.json"
    markdown = Path(markdown) if markdown else out.with_suffix(".md")
    for path, what in ((out, "-o"), (markdown, "--markdown"), (out.with_suffix(".png"), "plot")):
        check_output_file(path, what)
    main = Predictor.load(run_dir, method=method, temperature=temperature, device=device)
    curves = [_network_curve(main, "run", counts)]
    curves += [_network_curve(Predictor.load(o, device=device), "compare", counts) for o in compare]
    if levin:
        lv = LevinPredictor()
        curves.append(_Curve("levin", "levin", lambda truth, hints: lv.colorize(truth, hints=hints), counts))
    curves += [_baseline_curve(b.name, b.ab, counts) for b in _baselines(main.run, list(baselines))]
    files, skipped = scan_images(list_images(data))
    files = files[:max_images] if max_images else files
    if not files:
        raise ColorclassError(f"no usable photos with colour in {str(data)!r}; `colorclass data {data}` shows why")
    hinted = {n: 0 for n in counts}
    total = 0
    for f in tqdm(files, desc="hint curve", unit="img"):
        truth = load_rgb(f)
        ab = rgb_u8_to_lab_np(truth)[..., 1:].transpose(2, 0, 1).astype(np.float32)
        hints = {n: simulate_points(ab, n, photo_seed(f)) for n in counts}
        total += truth.shape[0] * truth.shape[1]
        maps = {n: hint_maps(hints[n], *truth.shape[:2]) for n in counts}   # painted once, shared by every method
        for n in counts:
            hinted[n] += int(maps[n][1].sum())
        with warnings.catch_warnings():   # clipping is counted in clipped_fraction instead
            warnings.simplefilter("ignore", GamutWarning)
            for c in curves:
                c.add(truth, hints, maps)
    curve = {"counts": counts, "n_images": len(files), "n_skipped": skipped.total, "data": str(data),
             "run": str(run_dir), "seed_rule": SEED_RULE,
             "hinted_pixels": {str(n): hinted[n] for n in counts},
             "hinted_fraction": {str(n): hinted[n] / total for n in counts},
             "methods": [c.result(counts, "not hint-aware: measured with 0 hints only") for c in curves]}
    atomic_write_text(out, json.dumps({"hint_curve": curve}, indent=2))
    table = hint_curve_table(curve)
    atomic_write_text(markdown, table)
    plot = plot_hint_curve(curve, out.with_suffix(".png"))
    log.info(table)
    log.info("hinted pixels per count: %s", ", ".join(f"{n}: {hinted[n]}" for n in counts))
    log.info("wrote %s, %s and %s", out, markdown, plot)
    return curve
