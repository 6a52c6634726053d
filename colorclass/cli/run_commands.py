"""Command line, commands that use a trained run: ``colorize``, ``evaluate``, ``report``.

    run folder + photos -> *colorize* -> colour photos;  -> *evaluate* -> metrics;  -> *report* -> report.html
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ..decode_rules import DEFAULT_TEMPERATURE, METHODS
from .common import (UsageError, check_output_dir, network_size, non_negative_int, require_dir,
                     temperature)



def add_decoding_options(p: argparse.ArgumentParser) -> None:
    """--decode and --temperature, with the one temperature rule."""
    p.add_argument("--decode", default=None, choices=METHODS,
                   help="decoder: " + ", ".join(METHODS) + " (default: the run's, usually annealed)")
    p.add_argument("--temperature", type=temperature, default=None,
                   help=f"annealed-mean temperature T > 0 (default: the run's, {DEFAULT_TEMPERATURE} unless calibrated)")

def _add_colorize(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", metavar="INPUT_FILE_OR_DIR")
    p.add_argument("-o", "--out", required=True, metavar="OUTPUT_DIR")
    p.add_argument("--run", default="runs/demo", metavar="RUN_DIR", help="trained run (default runs/demo)")
    add_decoding_options(p)
    p.add_argument("--size", type=network_size, default=None,
                   help="network resolution: shorter side in pixels, at most 4096 (default: the run's "
                        "training scale; very long photos run smaller so that the network stays bounded)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--format", default="auto", choices=["auto", "png", "jpg"],
                   help="output format: auto = JPEG (quality 95) for JPEG inputs, else PNG (default auto)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace output files that already exist (default: refuse before any work)")
    p.set_defaults(handler=_run_colorize)


def _run_colorize(a: argparse.Namespace) -> int:
    from ..colorize import colorize_path

    if not Path(a.input).exists():
        raise UsageError(f"colorize: input {a.input!r} does not exist; pass an image file or a folder")
    require_dir(a.run, "--run RUN_DIR")
    check_output_dir(a.out, "-o")
    written = colorize_path(a.input, a.out, run_dir=a.run, method=a.decode, temperature=a.temperature,
                            size=a.size, device=a.device, fmt=a.format, overwrite=a.overwrite)
    return 0 if written else 1


def _add_evaluate(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", metavar="DIR", help="photos with their true colours")
    p.add_argument("--run", default="runs/demo", metavar="RUN_DIR")
    p.add_argument("-o", "--out", default=None, metavar="METRICS.json",
                   help="where to write the metrics (default RUN_DIR/eval.json)")
    add_decoding_options(p)
    p.add_argument("--max-images", type=non_negative_int, default=0, help="0 = all")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.set_defaults(handler=_run_evaluate)


def _run_evaluate(a: argparse.Namespace) -> int:
    from ..evaluate import evaluate_run

    require_dir(a.data, "DIR")
    require_dir(a.run, "--run RUN_DIR")
    evaluate_run(a.run, a.data, out=a.out, method=a.decode, temperature=a.temperature,
                 max_images=a.max_images, device=a.device)
    return 0


def _add_report(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--images", metavar="DIR", help="also colourise these photos into a gray | predicted | truth grid")
    p.add_argument("--activations", metavar="IMAGE",
                   help="also draw the per-layer activations of the network on this photo")
    p.set_defaults(handler=_run_report)


def _run_report(a: argparse.Namespace) -> int:
    from ..report import build_run_report

    require_dir(a.run_dir, "RUN_DIR")
    extra = []
    if a.activations:
        from ..activations import save_activation_grid

        if not Path(a.activations).is_file():
            raise UsageError(f"report: --activations {a.activations!r} is not a file; pass one photo")
        png = save_activation_grid(a.run_dir, a.activations, Path(a.run_dir) / "activations.png")
        print(f"wrote {png}")
        extra.append(("Per-layer activations", png))
    print(f"report: {build_run_report(a.run_dir, images=a.images, extra_sections=extra)}")
    return 0
