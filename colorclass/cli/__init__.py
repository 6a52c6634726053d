"""Command line: the front door to every stage of the pipeline.

    colorclass fit-bins | train | colorize | evaluate | calibrate | demo | data | summary | plot | report
               | rank-colorful | models

The standalone scripts ``fit-bins``, ``train-classifier`` and ``colorize`` run the same code
as the matching subcommands. Usage errors (bad flags, bad values, missing files) print one
line and exit with code 2; file-system errors (a full disk, permission denied, ...) and running
out of memory print one line naming the path or the cause and exit with code 1; Ctrl-C exits
130. A user's mistake is a ``ColorclassError`` (colorclass.support.errors); anything else is
reported as an internal error, exit 1, with its traceback under ``-v`` (or COLORCLASS_DEBUG=1).
Heavy imports happen inside each handler so that ``--help`` is instant. The subcommands live in
``data_commands`` (photos and bins), ``train_commands`` and ``run_commands`` (a trained run).
"""
from __future__ import annotations

import argparse
import os
import sys
import traceback
from typing import Callable, Sequence

from colorclass.cli.common import (
    EXIT_USAGE,
    Parser,
    UsageError,
    add_verbosity_options,
    configure_logging,
    os_error_line,
)
from colorclass.cli.data_commands import _add_data, _add_fit_bins, _add_rank
from colorclass.cli.hint_commands import _add_suggest
from colorclass.cli.model_commands import _add_export, _add_models
from colorclass.cli.run_commands import _add_calibrate, _add_colorize, _add_evaluate, _add_report
from colorclass.cli.serve_commands import _add_serve
from colorclass.cli.train_commands import _add_demo, _add_plot, _add_summary, _add_train

__all__ = ["main", "fit_bins_main", "train_main", "colorize_main", "build_parser", "UsageError", "SUBCOMMANDS"]

SUBCOMMANDS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], str]] = {
    "fit-bins": (_add_fit_bins, "fit colour bins on a folder of photos"),
    "train": (_add_train, "train a per-pixel colour classifier"),
    "colorize": (_add_colorize, "colourise a photo or a folder with a trained run"),
    "evaluate": (_add_evaluate, "measure a trained run on photos with true colours (JSON)"),
    "demo": (_add_demo, "fit, train and colourise on photos shipped with the dependencies"),
    "data": (_add_data, "show what the data pipeline sees in a folder"),
    "summary": (_add_summary, "layer-by-layer shapes, parameters, FLOPs and memory of a network"),
    "plot": (_add_plot, "redraw a run's loss curves from its log.csv"),
    "calibrate": (_add_calibrate, "tune a run's annealed-mean temperature on held-out photos"),
    "report": (_add_report, "build report.html for a run"),
    "rank-colorful": (_add_rank, "rank a folder's photos by colourfulness"),
    "models": (_add_models, "list the built-in models: training data, held-out metrics, limits"),
    "export": (_add_export, "write a run's network, bins and decoding settings to one ONNX file"),
    "suggest": (_add_suggest, "the likeliest distinct colours at one pixel of a photo (hex codes, swatch)"),
    "serve": (_add_serve, "a local web page: colour a photo, steer it with hints, download the result"),
}


def _dispatch(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    """Run the handler; a user's mistake (ColorclassError, a missing file) is one line and exit 2,
    a file-system error or running out of memory one line and exit 1, anything else a bug: one
    line saying so and exit 1 (the traceback with -v or COLORCLASS_DEBUG=1)."""
    from colorclass.support.errors import ColorclassError, is_out_of_memory
    from colorclass.support.files import sigterm_as_interrupt

    verbose = bool(os.environ.get("COLORCLASS_DEBUG"))
    try:
        args = parser.parse_args(argv)
        verbose = verbose or getattr(args, "verbosity", 0) > 0
        configure_logging(getattr(args, "verbosity", 0))
        if getattr(args, "handler", None) is None:
            parser.print_help()
            return EXIT_USAGE
        with sigterm_as_interrupt():   # SIGTERM ends a job like Ctrl-C: temp files removed, exit 130
            return args.handler(args)
    except ColorclassError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except FileNotFoundError as e:
        print(f"error: {os_error_line(e) if e.filename else e}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as e:
        print(f"error: {os_error_line(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 -- the last resort: say what kind of failure it is
        if is_out_of_memory(e):
            print("error: out of memory; use smaller photos, a smaller --size or --batch-size", file=sys.stderr)
            return 1
        from colorclass.engine.steps import NonFiniteLossError  # a known training failure, not a bug

        if isinstance(e, NonFiniteLossError):
            print(f"error: {str(e).splitlines()[0] if str(e) else e!r}", file=sys.stderr)
            return 1
        if verbose:
            traceback.print_exc()
        first = (str(e).splitlines() or [""])[0][:300]
        print(f"error: internal error (a bug in colorclass, please report it): {type(e).__name__}: {first}"
              + ("" if verbose else " (rerun with -v for the traceback)"), file=sys.stderr)
        return 1


def build_parser() -> argparse.ArgumentParser:
    from colorclass import __version__

    parser = Parser(prog="colorclass", description="Classification-based image colourisation toolkit.")
    parser.add_argument("--version", action="version", version=f"colorclass {__version__}")
    sub = parser.add_subparsers(title="subcommands", metavar="SUBCOMMAND", parser_class=Parser)
    for name, (add, help_text) in SUBCOMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        add(sub_parser)
        add_verbosity_options(sub_parser)
    return parser


def _standalone(name: str, argv: Sequence[str] | None) -> int:
    add, help_text = SUBCOMMANDS[name]
    parser = Parser(prog="train-classifier" if name == "train" else name, description=help_text)
    add(parser)
    add_verbosity_options(parser)
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
