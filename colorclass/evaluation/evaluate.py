"""Evaluation: a trained run, the built-in baselines and other runs, on the same photos.

    photos with true colour -> gray -> run / --compare runs (Predictor.colorize_tensor) | baselines
        -> metrics.MetricAccumulator per method -> *metrics JSON* + printed table (+ markdown)

JSON keys (a contract; later versions add keys, never rename). Top level = the run itself:
    n_images, n_skipped, skipped (reason -> count), decode, temperature, temperature_source,
    pixel_acc      predicted argmax bin == nearest bin of the true colour (network resolution)
    ab_rmse        root mean squared ab error in Lab units, full resolution
    auc_ab         area under the ab-error CDF, t = 0..150 (Zhang et al. 2016), in [0, 1]
    auc_ab_rebalanced   mean over the 313 ab bins (>= 0.01 % of pixels) of each bin's AuC, in [0, 1]
    psnr           PSNR of the sRGB output vs the truth in dB (peak 1), full resolution
    ssim, mean_iou, per_class_accuracy (313 entries, null = bin too rare), colorfulness_gap
    colorfulness_pred, colorfulness_true   mean Hasler-Suesstrunk colourfulness
    clipped_fraction   fraction of pixels clipped to the sRGB gamut
    methods        list of {name, kind: run | compare | baseline, ...the same metric keys}
    run, data
Exact definitions: colorclass.evaluation.metrics. The printed table shows AuC, rebalanced AuC and mIoU in
percent; the JSON keeps fractions in [0, 1].
"""
from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from colorclass.evaluation.metrics import AUC_THRESHOLDS, MetricAccumulator
from colorclass.support.errors import ColorclassError

__all__ = ["evaluate_run", "format_table", "markdown_table", "AUC_THRESHOLDS"]

log = logging.getLogger(__name__)

TABLE_COLUMNS = (("AuC %", "auc_ab", 100), ("rebal. AuC %", "auc_ab_rebalanced", 100),
                 ("ab RMSE", "ab_rmse", 1), ("PSNR dB", "psnr", 1), ("SSIM", "ssim", 1),
                 ("mIoU %", "mean_iou", 100), ("colourf. gap", "colorfulness_gap", 1),
                 ("pixel acc %", "pixel_acc", 100), ("clipped %", "clipped_fraction", 100))


def _pixel_hits(output: torch.Tensor, truth_u8: np.ndarray, encoder) -> tuple[int, int]:
    """Argmax-bin hits against nearest-bin labels of the truth resized to the output size."""
    h, w = output.shape[2:]
    rgb = torch.from_numpy(truth_u8).permute(2, 0, 1)[None].float()
    small = F.interpolate(rgb, size=(h, w), mode="area").round().clamp(0, 255).byte()
    labels = encoder.hard(small.to(output.device))
    return int((output.argmax(1) == labels).sum()), labels.numel()


class _RunMethod:
    """One trained run as a method: its Predictor (decoding settings resolved once), accumulator
    and pixel hits."""

    def __init__(self, predictor, name: str, kind: str):
        self.predictor, self.name, self.kind = predictor, name, kind
        self.encoder = None if predictor.regression else predictor.bins.encoder(device=str(predictor.device))
        self.acc, self.hits, self.labels = MetricAccumulator(), 0, 0

    def add(self, truth: np.ndarray) -> np.ndarray:
        from colorclass.inference.network import to_uint8

        rgb, n_clipped, p = self.predictor.colorize_tensor(self.predictor.photo(truth))
        picture = to_uint8(rgb)[0]
        self.acc.add(picture, truth, n_clipped)
        if self.encoder is not None:
            hits, n = _pixel_hits(p.output, truth, self.encoder)
            self.hits, self.labels = self.hits + hits, self.labels + n
        return picture

    def result(self) -> dict:
        p, s = self.predictor, self.predictor.settings
        return {"name": self.name, "kind": self.kind, "run": str(p.run.run_dir if p.run else p.name),
                "decode": "regression" if p.regression else s.method,
                "temperature": None if p.regression else s.temperature,
                "temperature_source": None if p.regression else s.sources.get("temperature"),
                "size": s.size, "size_source": s.sources.get("size"),
                "pixel_acc": self.hits / self.labels if self.labels else None, **self.acc.result()}


class _BaselineMethod:
    """A constant-ab baseline (gray: ab = 0; mean: the training data's mean ab)."""

    def __init__(self, name: str, ab: np.ndarray, source: str):
        self.name, self.ab, self.source, self.acc = name, np.asarray(ab, dtype=np.float64), source, MetricAccumulator()

    def add(self, truth: np.ndarray) -> np.ndarray:
        from colorclass.evaluation.baselines import baseline_prediction

        pred, n_clipped = baseline_prediction(truth, self.ab)
        self.acc.add(pred, truth, n_clipped)
        return pred

    def result(self) -> dict:
        return {"name": self.name, "kind": "baseline", "ab": [round(float(v), 3) for v in self.ab],
                "ab_source": self.source, "decode": None, "temperature": None, "pixel_acc": None,
                **self.acc.result()}


def _baselines(run, names: list[str]) -> list[_BaselineMethod]:
    from colorclass.evaluation.baselines import BASELINES, run_mean_ab

    out = []
    for name in names:
        if name not in BASELINES:
            raise ColorclassError(f"--baselines: unknown baseline {name!r}; choose from {', '.join(BASELINES)}")
        if name == "gray":
            out.append(_BaselineMethod("gray", np.zeros(2), "ab = 0"))
            continue
        ab, source = run_mean_ab(run)
        if ab is None:
            log.info(f"skipping baseline 'mean': {source}")
        else:
            log.info(f"baseline 'mean': ab = ({ab[0]:.2f}, {ab[1]:.2f}) from {source}")
            out.append(_BaselineMethod("mean", ab, source))
    return out


def _fmt(value, scale: float) -> str:
    return "-" if value is None or value != value else f"{value * scale:.2f}" if scale != 1 else f"{value:.3f}"


def _rows(methods: list[dict]) -> tuple[list[str], list[list[str]]]:
    head = ["method"] + [c[0] for c in TABLE_COLUMNS]
    rows = [[m["name"]] + [_fmt(m.get(key), scale) for _, key, scale in TABLE_COLUMNS] for m in methods]
    return head, rows


def format_table(methods: list[dict]) -> str:
    """Plain-text table, one row per method (AuC, rebalanced AuC, mIoU, pixel acc in percent)."""
    head, rows = _rows(methods)
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
    line = lambda r: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
    return "\n".join([line(head), "  ".join("-" * w for w in widths)] + [line(r) for r in rows])


def markdown_table(methods: list[dict]) -> str:
    head, rows = _rows(methods)
    out = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    return "\n".join(out + ["| " + " | ".join(r) + " |" for r in rows]) + "\n"


def _method_label(predictor) -> str:
    name = Path(predictor.name).name or predictor.name
    if predictor.regression:
        return f"{name} (regression)"
    s = predictor.settings
    return f"{name} ({s.method}" + (f", T={s.temperature:g})" if s.method == "annealed" else ")")


def evaluate_run(run_dir: str | Path, data: str | Path, *, out: str | Path | None = None,
                 method: str | None = None, temperature: float | None = None, max_images: int = 0,
                 device: str = "auto", compare: Sequence[str | Path] = (), baselines: Sequence[str] = (),
                 markdown: str | Path | None = None, grid: str | Path | None = None,
                 grid_photos: int = 8) -> dict:
    """Colourise every photo of ``data`` with the run, each ``compare`` run and each baseline;
    write the metrics JSON (default RUN/eval.json) and print the table. ``grid``: also draw the
    first ``grid_photos`` photos as gray | every method | truth (a PNG or JPEG)."""
    from colorclass.color import GamutWarning
    from colorclass.evaluation.grids import gray_of, save_columns_grid
    from colorclass.inference.predictor import Predictor
    from colorclass.photos import list_images, load_rgb, scan_images
    from colorclass.support.files import atomic_write_text, check_output_file

    check_output_file(out, "-o")
    check_output_file(markdown, "--markdown")
    check_output_file(grid, "--grid")
    main_run = Predictor.load(run_dir, method=method, temperature=temperature, device=device)
    methods: list = [_RunMethod(main_run, _method_label(main_run), "run")]
    for other in compare:
        p = Predictor.load(other, device=device)
        methods.append(_RunMethod(p, _method_label(p), "compare"))
    methods += _baselines(main_run.run, list(baselines))
    files, skipped = scan_images(list_images(data))
    files = files[:max_images] if max_images else files
    if not files:
        raise ColorclassError(f"no usable photos with colour in {str(data)!r}; `colorclass data {data}` shows why")
    if skipped.total:
        log.info(f"skipped {skipped.total} photos: {skipped.summary()}")
    log.info("%s", main_run.describe())
    pictures = []
    for i, f in enumerate(tqdm(files, desc="evaluate", unit="img")):
        truth = load_rgb(f)
        with warnings.catch_warnings():  # clipping is counted in clipped_fraction instead
            warnings.simplefilter("ignore", GamutWarning)
            row = [m.add(truth) for m in methods]
        if grid and i < grid_photos:
            pictures.append((Path(f).name, [gray_of(truth), *row, truth]))
    rows = [m.result() for m in methods]
    main = {k: v for k, v in rows[0].items() if k not in ("name", "kind", "run")}
    result = {**main, "n_images": len(files), "n_skipped": skipped.total, "skipped": dict(skipped.counts),
              "methods": rows, "run": str(run_dir), "data": str(data)}
    out = Path(out) if out else Path(run_dir) / "eval.json"
    atomic_write_text(out, json.dumps(result, indent=2))
    table = format_table(rows)
    log.info(table)
    if markdown:
        atomic_write_text(markdown, markdown_table(rows))
        log.info(f"wrote {markdown}")
    clipped = [f"{r['name']} {r['clipped_fraction']:.2%}" for r in rows if r["clipped_fraction"]]
    if clipped:
        log.info("pixels clipped to the sRGB gamut: " + ", ".join(clipped))
    if grid:
        save_columns_grid(pictures, ["gray input", *(m.name for m in methods), "truth"], grid)
        log.info(f"wrote {grid}")
    log.info(f"wrote {out}")
    return result
