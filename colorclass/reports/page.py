"""The run report: one self-contained HTML page that explains a model, top to bottom.

    run folder (+ --data DIR photos) -> evaluate (with baselines), grids, analysis figures,
        activations, calibration plot, training curves -> *RUN/report.html* (images embedded)
        + the PNGs under RUN/report/ (and RUN/activations.png)

Sections, in order (pictures first, each labelled): summary, evaluation, predictions,
entropy, confusions, average-region colours, bin palette with priors, training curves,
calibration, per-layer activations, config. A section that cannot be filled says why.
"""
from __future__ import annotations

import base64
import html
import json
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

__all__ = ["SECTION_TITLES", "build_run_report"]

SECTION_TITLES = ("Summary", "Evaluation against the baselines", "Gray | predicted | truth",
                  "Per-pixel entropy of the predicted distribution", "Most frequent confusions between bins",
                  "Average-region colours of predicted and target labels", "Bin palette with priors",
                  "Loss and metric curves", "Temperature calibration", "Per-layer activations", "Config")
N_ANALYSIS = 200   # photos used for confusions and priors (network resolution)
N_SHOWN = 8        # photos drawn in the grid, entropy and region figures


def _img(path: Path | None, alt: str) -> str:
    if path is None or not Path(path).is_file():
        return f"<p class='missing'>({html.escape(alt)}: not available)</p>"
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{data}'>"


def _note(text: str) -> str:
    return f"<p class='missing'>{html.escape(text)}</p>"


def _summary(predictor) -> str:
    run, c = predictor.run, predictor.run.config
    rows = {"model": f"{c.model.name} (width {c.model.width})", "loss": c.loss.name
            + (" (rebalanced)" if c.loss.rebalance else ""),
            "bins": f"{run.bins.n_bins} {c.bins.family} bins" + (f" in {c.bins.space}" if c.bins.space else ""),
            "training data": c.data.train, "decoding": "regression (ab output)" if run.regression
            else predictor.settings.describe()}
    return "<table>" + "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
                               for k, v in rows.items()) + "</table>"


def _current(ev: dict, predictor, data: str | None) -> bool:
    """An earlier evaluation is reused when it has the methods table, the same data and the run's
    present decoding rule (a calibration made after it makes it stale)."""
    s = predictor.settings
    same_rule = predictor.regression or (ev.get("decode") == s.method and ev.get("temperature") == s.temperature)
    same_data = data is None or Path(ev.get("data", "")).resolve() == Path(data).resolve()
    return "methods" in ev and same_rule and same_data


def _evaluation(predictor, data: str | None, folder: Path) -> str:
    from colorclass.evaluation.evaluate import evaluate_run, format_table

    run_dir, found = Path(predictor.run.run_dir), None
    for candidate in (run_dir / "eval.json", folder / "eval.json"):
        if candidate.is_file():
            ev = json.loads(candidate.read_text())
            if _current(ev, predictor, data):
                found = ev
                break
    if found is None and data:
        found = evaluate_run(run_dir, data, out=folder / "eval.json", baselines=["gray", "mean"])
    if found is None:
        return _note("no evaluation: pass --data DIR (or run `colorclass evaluate --baselines gray,mean`)")
    return (f"<p>{found['n_images']} photos of {html.escape(found['data'])}; AuC, rebalanced AuC, mIoU and "
            f"pixel accuracy in percent (definitions: colorclass.evaluation.metrics)</p><pre>"
            f"{html.escape(format_table(found['methods']))}</pre>")


def _photos(data: str | None, images: str | None, limit: int) -> list[np.ndarray]:
    from colorclass.photos import list_images, load_rgb, scan_images

    source = images or data
    if not source:
        return []
    files = [Path(source)] if Path(source).is_file() else scan_images(list_images(source), progress=False)[0]
    return [load_rgb(f) for f in files[:limit]]


def _grid(predictor, photos: list[np.ndarray], folder: Path) -> str:
    from colorclass.color import GamutWarning
    from colorclass.reports.analysis import draw_triplets

    if not photos:
        return _note("no photos: pass --data DIR or --images DIR")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GamutWarning)
        rows = [(predictor.colorize(p)[0], p) for p in photos[:N_SHOWN]]
    what = predictor.settings.describe(regression=predictor.regression)
    return (f"<p>first {len(rows)} photos, {html.escape(what)}</p>"
            + _img(draw_triplets(rows, folder / "grid.png"), "grid"))


def _analysis(predictor, photos: list[np.ndarray], folder: Path) -> list[str]:
    """Entropy, confusions, regions and palette sections (classification runs only)."""
    from colorclass.reports import analysis as an

    run = predictor.run
    if run.regression:
        why = _note("regression run: no distribution over bins")
        prior = None
        return [why, why, why, _palette(run, prior, "", folder)]
    if not photos:
        why = _note("no photos: pass --data DIR")
        return [why, why, why, _palette(run, None, "", folder)]
    st = an.label_stats(predictor, photos, n_show=N_SHOWN)
    total = int(st["confusion"].sum())
    pairs = an.top_confusions(st["confusion"], 12)
    prior = st["target_counts"] / max(total, 1)
    return ["<p>entropy of the softmax over the bins at each pixel, one scale for all photos "
            "(dark = confident, bright = unsure between colours)</p>"
            + _img(an.draw_entropy(st["shown"], run.bins.n_bins, folder / "entropy.png"), "entropy"),
            f"<p>over {st['n_photos']} photos, {total} pixels at network resolution</p>"
            + _img(an.draw_confusions(run.bins, pairs, total, folder / "confusions.png"), "confusions"),
            "<p>every pixel shows the true colour averaged over all pixels of its photo that carry the same "
            "label: what the target labels and the predicted labels mean for this photo</p>"
            + _img(an.draw_regions(st["shown"], folder / "regions.png"), "regions"),
            _palette(run, prior, f"= target frequency in {st['n_photos']} evaluation photos", folder)]


def _palette(run, prior, source: str, folder: Path) -> str:
    from colorclass.reports.analysis import draw_palette_priors

    if run.bins.prior is not None:
        prior, source = np.asarray(run.bins.prior), "from the bins file (training data)"
    if prior is None:
        return _img(Path(run.run_dir) / "bins.png", "palette")
    return _img(draw_palette_priors(run.bins, prior, source, folder / "palette.png"), "palette")


def _curves(run_dir: Path) -> str:
    png = run_dir / "loss.png"
    if not png.is_file() and (run_dir / "log.csv").is_file():
        from colorclass.engine.plots import plot_log

        png = plot_log(run_dir)
    return _img(png, "loss and metric curves")


def _activations(run_dir: Path, image: str | Path | None, data: str | None) -> str:
    from colorclass.photos import list_images, scan_images
    from colorclass.reports.activations import save_activation_grid

    if not image and data:
        files = scan_images(list_images(data), progress=False)[0]
        image = str(files[0]) if files else None
    if not image:
        return _note("no photo: pass --activations IMAGE or --data DIR")
    png = save_activation_grid(run_dir, image, run_dir / "activations.png")   # where `report` always put it
    return f"<p>{html.escape(Path(image).name)}</p>" + _img(png, "activations")


STYLE = """body{font-family:sans-serif;max-width:1150px;margin:2em auto;color:#222}img{max-width:100%}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}
pre{background:#f4f4f4;padding:0.8em;overflow:auto;font-size:12px}.missing{color:#888}
h2{border-bottom:1px solid #ddd;margin-top:1.6em}"""


def build_run_report(run_dir: str | Path, *, images: str | Path | None = None, data: str | Path | None = None,
                     activations: str | Path | None = None,
                     extra_sections: Sequence[tuple[str, Path]] = ()) -> Path:
    """Write ``RUN_DIR/report.html`` (images embedded) and its PNGs under ``RUN_DIR/report/``."""
    from colorclass.inference.predictor import Predictor
    from colorclass.support.files import atomic_write_text

    run_dir = Path(run_dir)
    folder = run_dir / "report"
    folder.mkdir(exist_ok=True)
    predictor = Predictor.load(run_dir)
    data, images = (str(data) if data else None), (str(images) if images else None)
    photos = _photos(data, images, max(N_ANALYSIS, N_SHOWN))
    cal = run_dir / "calibration.png"
    bodies = [_summary(predictor), _evaluation(predictor, data, folder), _grid(predictor, photos, folder),
              *_analysis(predictor, photos, folder), _curves(run_dir),
              _img(cal, "calibration") if cal.is_file() else _note("not calibrated: run `colorclass calibrate`"),
              _activations(run_dir, activations, data),
              "<pre>" + html.escape((run_dir / "config.toml").read_text()) + "</pre>"]
    sections = list(zip(SECTION_TITLES, bodies)) + [(t, _img(p, t)) for t, p in extra_sections]
    body = "".join(f"<h2 id='s{i}'>{html.escape(t)}</h2>{c}" for i, (t, c) in enumerate(sections))
    toc = " | ".join(f"<a href='#s{i}'>{html.escape(t)}</a>" for i, (t, _) in enumerate(sections))
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>colorclass run {html.escape(run_dir.name)}"
            f"</title><style>{STYLE}</style></head><body><h1>colorclass run: {html.escape(str(run_dir))}</h1>"
            f"<p>{toc}</p>{body}</body></html>")
    return atomic_write_text(run_dir / "report.html", page)
