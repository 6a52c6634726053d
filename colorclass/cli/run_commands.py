"""Command line, commands that use a trained run: ``colorize``, ``evaluate``, ``calibrate``, ``report``.

    run folder + photos -> *colorize* -> colour photos;  -> *evaluate* -> metrics (vs baselines, other runs);
    -> *calibrate* -> RUN/calibration.json;  -> *report* -> report.html
"""
from __future__ import annotations

import argparse
from pathlib import Path

from colorclass.cli.common import (
    UsageError,
    add_device_option,
    add_model_options,
    check_output_dir,
    model_source,
    non_negative_float,
    non_negative_int,
    require_dir,
)
from colorclass.cli.hint_commands import hint_counts
from colorclass.decoding.rules import DEFAULT_TEMPERATURE, MAX_TEMPERATURE, METHODS, MIN_TEMPERATURE


def _baseline_list(text: str) -> list[str]:
    from colorclass.evaluation.baselines import BASELINES

    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in BASELINES]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown baseline {bad[0]!r}; choose from {','.join(BASELINES)}")
    return names


def add_decoding_options(p: argparse.ArgumentParser) -> None:
    """--decode and --temperature, with the one temperature rule."""
    p.add_argument("--decode", default=None, choices=METHODS,
                   help="decoder: " + ", ".join(METHODS) + " (default: the run's, usually annealed)")
    p.add_argument("--temperature", type=float, default=None,
                   help=f"annealed-mean temperature T in [{MIN_TEMPERATURE:g}, {MAX_TEMPERATURE:g}] (default: the "
                        f"run's calibrated or configured T, else {DEFAULT_TEMPERATURE}); small T approaches the mode")

def _add_colorize(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", metavar="INPUT_FILE_OR_DIR",
                   help="photo files and folders of photos (a folder's sub-folders are kept)")
    p.add_argument("-o", "--out", default="colorized", metavar="OUTPUT_DIR",
                   help="output folder (default colorized/); inputs are never written over")
    add_model_options(p, run_help="a trained run folder, or a model.onnx made by `colorclass export` "
                                  "(default: the built-in model, see `colorclass models`)")
    add_decoding_options(p)
    p.add_argument("--size", type=int, default=None,
                   help="network resolution: shorter side in pixels, at most 4096 (default: the run's "
                        "training scale; very long photos run smaller so that the network stays bounded)")
    add_device_option(p)
    p.add_argument("--format", default="auto", choices=["auto", "png", "jpg"],
                   help="output format: auto = JPEG (quality 95) for JPEG inputs, else PNG (default auto)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace output files that already exist (default: refuse before any work)")
    p.add_argument("--skip-existing", action="store_true",
                   help="skip photos whose output already exists, e.g. to continue an interrupted job "
                        "(counted as skipped; not with --overwrite)")
    p.add_argument("--engine", default="auto", choices=["auto", "torch", "onnx"],
                   help="auto (default): onnxruntime, without importing torch, for a .onnx --run and for a "
                        "built-in model when onnxruntime is installed (pip install 'colorclass[onnx]'), else "
                        "torch; torch: always torch (CUDA, hints); onnx: always onnxruntime")
    p.add_argument("--hints", default=None, metavar="HINTS.json",
                   help='hint points for ONE photo (a hint-aware run, e.g. --model hints; or --method levin): '
                        'a JSON list like [{"x": 10, "y": 20, "colour": "#c83c1e"}] in the photo\'s pixels; '
                        'only the chroma is used')
    p.add_argument("--method", default="network", choices=["network", "levin"],
                   help="network (default), or levin: propagate the --hints alone (Levin et al. 2004; no model)")
    p.set_defaults(handler=_run_colorize)


def _run_colorize(a: argparse.Namespace) -> int:
    from colorclass.inference.colorize_files import colorize_paths

    for path in a.inputs:
        if not Path(path).exists():
            hint = " (a file name starting with '-' goes after --)" if path.startswith("-") else ""
            raise UsageError(f"colorize: input {path!r} does not exist; pass image files or folders{hint}")
    if a.run is not None and not (a.run.endswith(".onnx") and Path(a.run).is_file()):
        require_dir(a.run, "--run RUN_DIR")
    check_output_dir(a.out, "-o")
    if a.overwrite and a.skip_existing:
        raise UsageError("colorize: --overwrite replaces existing outputs and --skip-existing keeps them; "
                         "pass only one")
    from colorclass.cli.hint_commands import colorize_hints

    hints, predictor = colorize_hints(a)
    source = model_source(a)
    written = colorize_paths(a.inputs, a.out, source=source, method=a.decode, temperature=a.temperature,
                             size=a.size, device=a.device, fmt=a.format, overwrite=a.overwrite,
                             skip_existing=a.skip_existing, engine=a.engine, hints=hints, predictor=predictor)
    return 0 if written else 1


def _add_evaluate(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", metavar="DIR", help="photos with their true colours")
    p.add_argument("--run", default="runs/demo", metavar="RUN_DIR")
    p.add_argument("-o", "--out", default=None, metavar="METRICS.json",
                   help="where to write the metrics (default RUN_DIR/eval.json)")
    add_decoding_options(p)
    p.add_argument("--compare", nargs="+", action="extend", default=[], metavar="RUN_DIR",
                   help="other runs measured on the same photos (e.g. an L2 regression run)")
    p.add_argument("--baselines", type=_baseline_list, default=[], metavar="gray,mean",
                   help="built-in baselines: gray (ab = 0), mean (the training data's mean ab)")
    p.add_argument("--markdown", default=None, metavar="FILE", help="also write the table as markdown")
    p.add_argument("--grid", default=None, metavar="FILE.png",
                   help="also draw the first photos: gray | every method | truth")
    p.add_argument("--max-images", type=non_negative_int, default=0, help="0 = all")
    p.add_argument("--hints", type=hint_counts, default=None, metavar="0,1,2,5,10",
                   help="the hint curve (Zhang et al. 2017): AuC, rebalanced AuC and PSNR per number of simulated "
                        "hints for the run, --compare runs, levin and --baselines; JSON key hint_curve")
    add_device_option(p)
    p.set_defaults(handler=_run_evaluate)


def _run_evaluate(a: argparse.Namespace) -> int:
    from colorclass.evaluation.evaluate import evaluate_run

    require_dir(a.data, "DIR")
    require_dir(a.run, "--run RUN_DIR")
    for other in a.compare:
        require_dir(other, "--compare RUN_DIR")
    if a.hints is not None:
        from colorclass.evaluation.hint_curve import evaluate_hint_curve

        if a.grid:
            raise UsageError("evaluate --hints draws the hint curve (a plot beside the JSON), not --grid; "
                             "drop one of them")
        evaluate_hint_curve(a.run, a.data, a.hints, out=a.out, compare=a.compare, baselines=a.baselines,
                            method=a.decode, temperature=a.temperature, max_images=a.max_images,
                            device=a.device, markdown=a.markdown)
        return 0
    evaluate_run(a.run, a.data, out=a.out, method=a.decode, temperature=a.temperature,
                 max_images=a.max_images, device=a.device, compare=a.compare, baselines=a.baselines,
                 markdown=a.markdown, grid=a.grid)
    return 0


def _temperature_list(text: str) -> list[float]:
    from colorclass.decoding.rules import check_temperature

    try:
        values = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}") from None
    try:
        return [check_temperature(t) for t in values]   # the one rule, before any photo is read
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _add_calibrate(p: argparse.ArgumentParser) -> None:
    from colorclass.evaluation.calibrate import DEFAULT_TEMPERATURES, METRICS

    p.add_argument("val_dir", metavar="VAL_DIR", help="held-out photos with true colours (never trained on)")
    p.add_argument("--run", default="runs/demo", metavar="RUN_DIR")
    p.add_argument("--metric", default="auc_ab_rebalanced", choices=METRICS, help="what the chosen T maximises "
                   "(errors and colorfulness_gap are minimised); default auc_ab_rebalanced")
    p.add_argument("--temperatures", type=_temperature_list, default=list(DEFAULT_TEMPERATURES),
                   metavar="T1,T2,...", help="annealed temperatures to try (mode and mean are always tried)")
    p.add_argument("--max-colorfulness-gap", type=non_negative_float, default=None, metavar="GAP",
                   help="choose only among settings whose colourfulness is within GAP of the truth's (e.g. 5)")
    p.add_argument("--max-images", type=non_negative_int, default=0, help="0 = all")
    add_device_option(p)
    p.set_defaults(handler=_run_calibrate)


def _run_calibrate(a: argparse.Namespace) -> int:
    from colorclass.evaluation.calibrate import calibrate_run

    require_dir(a.val_dir, "VAL_DIR")
    require_dir(a.run, "--run RUN_DIR")
    calibrate_run(a.run, a.val_dir, metric=a.metric, temperatures=a.temperatures,
                  max_images=a.max_images, device=a.device, max_colorfulness_gap=a.max_colorfulness_gap)
    return 0


def _add_report(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--data", metavar="DIR", help="photos with true colours: fills every section "
                   "(evaluation vs baselines, grids, confusions, entropy, activations of the first photo)")
    p.add_argument("--images", metavar="DIR", help="photos for the gray | predicted | truth grid (default: --data)")
    p.add_argument("--activations", metavar="IMAGE",
                   help="draw the per-layer activations of the network on this photo (default: first of --data)")
    p.set_defaults(handler=_run_report)


def _run_report(a: argparse.Namespace) -> int:
    from colorclass.reports.run_report import build_run_report
    from colorclass.runs.loading import holds_run

    require_dir(a.run_dir, "RUN_DIR")
    for value, what in ((a.data, "--data"), (a.images, "--images")):
        if value and not Path(value).exists():
            raise UsageError(f"report: {what} {value!r} does not exist; pass a folder of photos")
    if a.activations and not Path(a.activations).is_file():
        raise UsageError(f"report: --activations {a.activations!r} is not a file; pass one photo")
    if not holds_run(a.run_dir):
        raise UsageError(f"report: {a.run_dir!r} holds no run (no config, bins or weights); "
                         "pass a run folder of train-classifier")
    print(f"report: {build_run_report(a.run_dir, images=a.images, data=a.data, activations=a.activations)}")
    return 0
