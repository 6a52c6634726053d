"""Command line: the front door to every stage of the pipeline.

    colorclass fit-bins | train | colorize | evaluate | demo | data | summary | plot | report | rank-colorful

The standalone scripts ``fit-bins``, ``train-classifier`` and ``colorize`` run the same code
as the matching subcommands. Usage errors (bad flags, bad values, missing files) print one
line and exit with code 2; no traceback (set COLORCLASS_DEBUG=1 to see one). Heavy imports happen inside each handler so that
``--help`` is instant.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Callable, Sequence

EXIT_USAGE = 2


class UsageError(Exception):
    """A user-facing error: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are a single line (no usage dump)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message} (see --help)")


# ----------------------------------------------------------------------------- fit-bins
def _add_fit_bins(p: argparse.ArgumentParser) -> None:
    p.add_argument("input_dir", metavar="INPUT_DIR", help="folder of photos (searched recursively)")
    p.add_argument("-o", "--out", required=True, metavar="BINS.npz", help="bins file to write")
    p.add_argument("--family", default="kmeans", choices=["kmeans", "gmm", "grid", "hcgrid"])
    p.add_argument("--space", default=None, choices=["rgb", "lab", "hc", "ab"],
                   help="colour space (default: rgb for kmeans, hc for gmm/hcgrid, ab for grid)")
    p.add_argument("--k", type=int, default=24, help="number of bins for kmeans/gmm/hcgrid (default 24)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pixels-per-image", type=int, default=None, help="pixels sampled per image")
    p.add_argument("--max-pixels", type=int, default=None, help="cap on the total pixel sample")
    p.add_argument("--preset", default=None, choices=["zhang313"], help="grid preset (family grid)")
    p.add_argument("--grid-step", type=float, default=10, help="ab grid step (family grid)")
    p.add_argument("--no-prior", action="store_true", help="do not compute the empirical bin prior")
    p.set_defaults(handler=_run_fit_bins)


def _run_fit_bins(a: argparse.Namespace) -> int:
    import quantize

    from .binning import fit_bins_from_folder

    kwargs = dict(family=a.family, space=a.space, k=a.k, seed=a.seed, preset=a.preset,
                  grid_step=a.grid_step, with_prior=not a.no_prior)
    if a.pixels_per_image is not None:
        kwargs["pixels_per_image"] = a.pixels_per_image
    if a.max_pixels is not None:
        kwargs["max_pixels"] = a.max_pixels
    _require_dir(a.input_dir, "INPUT_DIR")
    bins = fit_bins_from_folder(a.input_dir, a.out, **kwargs)
    print(quantize.format_summary(bins, bins.meta))
    print(f"wrote {a.out}")
    return 0


# ----------------------------------------------------------------------------- train
def _add_train(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="TOML", help="experiment config (see experiments/)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="dotted config override, e.g. --set optim.lr=3e-4 (repeatable)")
    p.add_argument("--bins", metavar="BINS.npz", help="bins file from fit-bins (default: fit 24 k-means bins)")
    p.add_argument("--data", metavar="DIR", help="training photos")
    p.add_argument("--val-data", metavar="DIR", help="validation photos (default: split --data)")
    p.add_argument("--val-fraction", type=float, help="held-out fraction when --val-data is absent")
    p.add_argument("--model", help="network name (colorclass summary --list shows them)")
    p.add_argument("--width", type=int, help="base number of filters")
    p.add_argument("--loss", choices=["ce", "kl", "mse"], help="ce: hard labels, kl: soft targets, mse: regression")
    p.add_argument("--epochs", type=int)
    p.add_argument("--max-minutes", type=float, help="stop cleanly after this many minutes")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--crop-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--seed", type=int)
    p.add_argument("--device", choices=["auto", "cpu", "cuda"])
    p.add_argument("--overfit-batches", type=int, help="sanity mode: train on N fixed batches")
    p.add_argument("--out", metavar="RUN_DIR", help="run folder (default runs/<name>)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run exactly")
    p.set_defaults(handler=_run_train)


_FLAG_TO_KEY = {
    "bins": "bins.path", "data": "data.train", "val_data": "data.val", "val_fraction": "data.val_fraction",
    "model": "model.name", "width": "model.width", "loss": "loss.name", "epochs": "train.epochs",
    "max_minutes": "train.max_minutes", "batch_size": "train.batch_size", "crop_size": "data.crop_size",
    "lr": "optim.lr", "seed": "train.seed", "device": "train.device",
    "overfit_batches": "train.overfit_batches", "out": "out",
}


def _run_train(a: argparse.Namespace) -> int:
    from .config import load_config
    from .train import resume_training, run_training

    if a.resume:
        _require_dir(a.resume, "--resume RUN_DIR")
        resume_training(a.resume, overrides=a.overrides, command=_command_line())
        return 0
    flags = [f"{key}={getattr(a, name)}" for name, key in _FLAG_TO_KEY.items()
             if getattr(a, name) is not None]
    cfg = load_config(a.config, flags + list(a.overrides))
    if not cfg.data.train:
        raise UsageError("train-classifier: no training data: pass --data DIR "
                         "(or data.train in the --config file)")
    run_training(cfg, command=_command_line())
    return 0


# ----------------------------------------------------------------------------- colorize
def _add_colorize(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", metavar="INPUT_FILE_OR_DIR")
    p.add_argument("-o", "--out", required=True, metavar="OUTPUT_DIR")
    p.add_argument("--run", default="runs/demo", metavar="RUN_DIR", help="trained run (default runs/demo)")
    p.add_argument("--decode", default=None, choices=["mode", "mean", "annealed"],
                   help="decoding rule (default: the run's, annealed)")
    p.add_argument("--temperature", type=float, default=None, help="annealed-mean temperature (default 0.38)")
    p.add_argument("--size", type=int, default=None,
                   help="network resolution: shorter side in pixels (default: the run's training scale)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.set_defaults(handler=_run_colorize)


def _run_colorize(a: argparse.Namespace) -> int:
    from .colorize import colorize_path

    if not Path(a.input).exists():
        raise UsageError(f"colorize: input {a.input!r} does not exist; pass an image file or a folder")
    _require_dir(a.run, "--run RUN_DIR")
    if a.temperature is not None and not a.temperature > 0:
        raise UsageError(f"colorize: --temperature must be > 0, got {a.temperature}")
    colorize_path(a.input, a.out, run_dir=a.run, method=a.decode, temperature=a.temperature,
                  size=a.size, device=a.device)
    return 0


# ----------------------------------------------------------------------------- others
def _add_demo(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="runs/demo", metavar="RUN_DIR")
    p.add_argument("--max-minutes", type=float, default=3.0, help="training time budget (default 3)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(handler=_run_demo)


def _run_demo(a: argparse.Namespace) -> int:
    from .demo import run_demo

    if not a.max_minutes > 0:
        raise UsageError(f"demo: --max-minutes must be > 0, got {a.max_minutes}")
    run_demo(a.out, max_minutes=a.max_minutes, seed=a.seed)
    return 0


def _add_data(p: argparse.ArgumentParser) -> None:
    p.add_argument("root", metavar="DIR")
    p.set_defaults(handler=_run_data)


def _run_data(a: argparse.Namespace) -> int:
    from .photos import describe_folder

    _require_dir(a.root, "DIR")
    print(describe_folder(a.root))
    return 0


def _add_summary(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="unet")
    p.add_argument("--size", type=int, default=64, help="input height and width")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--bins", type=int, default=313, help="number of output bins Q")
    p.add_argument("--width", type=int, default=32)
    p.set_defaults(handler=_run_summary)


def _run_summary(a: argparse.Namespace) -> int:
    from .models import MODELS, build_model, summarize

    if a.model not in MODELS:
        raise UsageError(f"summary: unknown model {a.model!r}; choose one of {', '.join(sorted(MODELS))}")
    model = build_model(a.model, out_channels=a.bins, width=a.width)
    print(summarize(model, size=a.size, batch=a.batch))
    return 0


def _add_plot(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.set_defaults(handler=_run_plot)


def _run_plot(a: argparse.Namespace) -> int:
    from .engine.plots import plot_log

    _require_dir(a.run_dir, "RUN_DIR")
    print(f"wrote {plot_log(a.run_dir)}")
    return 0


def _add_evaluate(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", metavar="DIR", help="photos with their true colours")
    p.add_argument("--run", default="runs/demo", metavar="RUN_DIR")
    p.add_argument("-o", "--out", default=None, metavar="METRICS.json",
                   help="where to write the metrics (default RUN_DIR/eval.json)")
    p.add_argument("--decode", default=None, choices=["mode", "mean", "annealed"])
    p.add_argument("--temperature", type=float, default=None)
    p.add_argument("--max-images", type=int, default=0, help="0 = all")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.set_defaults(handler=_run_evaluate)


def _run_evaluate(a: argparse.Namespace) -> int:
    from .evaluate import evaluate_run

    _require_dir(a.data, "DIR")
    _require_dir(a.run, "--run RUN_DIR")
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
    from .report import build_run_report

    _require_dir(a.run_dir, "RUN_DIR")
    extra = []
    if a.activations:
        from .activations import save_activation_grid

        if not Path(a.activations).is_file():
            raise UsageError(f"report: --activations {a.activations!r} is not a file; pass one photo")
        png = save_activation_grid(a.run_dir, a.activations, Path(a.run_dir) / "activations.png")
        print(f"wrote {png}")
        extra.append(("Per-layer activations", png))
    print(f"report: {build_run_report(a.run_dir, images=a.images, extra_sections=extra)}")
    return 0


def _add_rank(p: argparse.ArgumentParser) -> None:
    p.add_argument("root", metavar="DIR")
    p.add_argument("-o", "--out", required=True, metavar="RANKED.tsv")
    p.set_defaults(handler=_run_rank)


def _run_rank(a: argparse.Namespace) -> int:
    from .photos import rank_folder

    _require_dir(a.root, "DIR")
    ranked = rank_folder(a.root, a.out)
    print(f"ranked {len(ranked)} images by colourfulness -> {a.out}")
    return 0


SUBCOMMANDS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], str]] = {
    "fit-bins": (_add_fit_bins, "fit colour bins on a folder of photos"),
    "train": (_add_train, "train a per-pixel colour classifier"),
    "colorize": (_add_colorize, "colourise a photo or a folder with a trained run"),
    "evaluate": (_add_evaluate, "measure a trained run on photos with true colours (JSON)"),
    "demo": (_add_demo, "fit, train and colourise on photos shipped with the dependencies"),
    "data": (_add_data, "show what the data pipeline sees in a folder"),
    "summary": (_add_summary, "layer-by-layer shapes, parameters, FLOPs and memory of a network"),
    "plot": (_add_plot, "redraw a run's loss curves from its log.csv"),
    "report": (_add_report, "build report.html for a run"),
    "rank-colorful": (_add_rank, "rank a folder's photos by colourfulness"),
}


# ----------------------------------------------------------------------------- plumbing
def _require_dir(path: str, what: str) -> None:
    if not Path(path).is_dir():
        raise UsageError(f"{what} {path!r} is not a folder; check the path")


def _command_line() -> str:
    import shlex

    return " ".join(shlex.quote(x) for x in [Path(sys.argv[0]).name, *sys.argv[1:]])


def _dispatch(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    from .config import ConfigError

    try:
        args = parser.parse_args(argv)
        if getattr(args, "handler", None) is None:
            parser.print_help()
            return EXIT_USAGE
        return args.handler(args)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except (ConfigError, FileNotFoundError, ValueError) as e:
        if os.environ.get("COLORCLASS_DEBUG"):  # show the traceback when debugging
            raise
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except RuntimeError as e:
        from .engine.trainer import NonFiniteLossError  # torch is loaded by then

        if not isinstance(e, NonFiniteLossError):
            raise
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(prog="colorclass", description="Classification-based image colourisation toolkit.")
    parser.add_argument("--version", action="version", version=f"colorclass {__version__}")
    sub = parser.add_subparsers(title="subcommands", metavar="SUBCOMMAND", parser_class=_Parser)
    for name, (add, help_text) in SUBCOMMANDS.items():
        add(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def _standalone(name: str, argv: Sequence[str] | None) -> int:
    add, help_text = SUBCOMMANDS[name]
    parser = _Parser(prog="train-classifier" if name == "train" else name, description=help_text)
    add(parser)
    return _dispatch(parser, argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``colorclass``."""
    return _dispatch(build_parser(), argv)


def fit_bins_main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``fit-bins``."""
    return _standalone("fit-bins", argv)


def train_main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``train-classifier``."""
    return _standalone("train", argv)


def colorize_main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``colorize``."""
    return _standalone("colorize", argv)


if __name__ == "__main__":
    sys.exit(main())
