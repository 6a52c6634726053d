"""Command line, training commands: ``train`` (``train-classifier``), ``demo``, ``plot``, ``summary``.

    config + photos + bins -> *train* -> run folder -> *plot*;  *summary*: a network's shapes and cost
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from colorclass.cli.common import (
    UsageError,
    add_device_option,
    command_line,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    require_dir,
)
from colorclass.runs.experiment import LOSS_NAMES, MODEL_NAMES
from colorclass.support import limits


def _add_train(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="TOML", help="experiment config (see experiments/)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="dotted config override, e.g. --set optim.lr=3e-4 (repeatable)")
    p.add_argument("--bins", metavar="BINS.npz", help="bins file from fit-bins (default: fit 24 k-means bins)")
    p.add_argument("--data", metavar="DIR", help="training photos")
    p.add_argument("--val-data", metavar="DIR", help="validation photos (default: split --data)")
    p.add_argument("--val-fraction", type=float, help="held-out fraction when --val-data is absent")
    p.add_argument("--model", choices=MODEL_NAMES, metavar="NAME",
                   help="network: " + ", ".join(MODEL_NAMES) + " (default unet)")
    p.add_argument("--width", type=positive_int, help="base number of filters")
    p.add_argument("--loss", choices=LOSS_NAMES,
                   help="ce: hard labels, kl: soft targets, mse: the L2 regression baseline (default ce)")
    p.add_argument("--epochs", type=positive_int)
    p.add_argument("--max-minutes", type=non_negative_float, help="stop cleanly after this many minutes (0 = no limit)")
    p.add_argument("--batch-size", type=positive_int)
    p.add_argument("--crop-size", type=positive_int)
    p.add_argument("--lr", type=positive_float)
    p.add_argument("--seed", type=non_negative_int)
    add_device_option(p, default=None)
    p.add_argument("--overfit-batches", type=non_negative_int, help="sanity mode: train on N fixed batches")
    p.add_argument("--out", metavar="RUN_DIR", help="run folder (default runs/<name>)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run exactly")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a run that already exists in --out (default: refuse)")
    p.set_defaults(handler=_run_train)


_FLAG_TO_KEY = {
    "bins": "bins.path", "data": "data.train", "val_data": "data.val", "val_fraction": "data.val_fraction",
    "model": "model.name", "width": "model.width", "loss": "loss.name", "epochs": "train.epochs",
    "max_minutes": "train.max_minutes", "batch_size": "train.batch_size", "crop_size": "data.crop_size",
    "lr": "optim.lr", "seed": "train.seed", "device": "train.device",
    "overfit_batches": "train.overfit_batches", "out": "out",
}


def _run_train(a: argparse.Namespace) -> int:
    from colorclass.runs.experiment import load_config
    from colorclass.training.train_run import resume_training, run_training

    if a.resume:
        if a.overwrite:
            raise UsageError("train-classifier: --resume continues a run and --overwrite replaces one; "
                             "pass only one of them")
        require_dir(a.resume, "--resume RUN_DIR")
        return _exit_code(resume_training(a.resume, overrides=a.overrides, command=command_line()))
    _check_train_flags(a)
    flags = [f"{key}={getattr(a, name)}" for name, key in _FLAG_TO_KEY.items()
             if getattr(a, name) is not None]
    cfg = load_config(a.config, flags + list(a.overrides))
    _check_train_sizes(cfg)
    if not cfg.data.train:
        raise UsageError("train-classifier: no training data: pass --data DIR "
                         "(or data.train in the --config file)")
    return _exit_code(run_training(cfg, command=command_line(), overwrite=a.overwrite))


def _check_train_flags(a: argparse.Namespace) -> None:
    """Size-like flags within support.limits, named as typed (config keys: runs.experiment)."""
    for flag, value, limit in (("--crop-size", a.crop_size, limits.MAX_CROP_SIZE),
                               ("--batch-size", a.batch_size, limits.MAX_BATCH_SIZE),
                               ("--width", a.width, limits.MAX_WIDTH)):
        if value is not None:
            limits.check_at_most(f"train-classifier: {flag}", value, limit, "use a smaller value")


def _check_train_sizes(cfg) -> None:
    """Limits that join two config values: pixels of a batch, a GMM's k (before any work)."""
    limits.check_batch_pixels("train-classifier: data.crop_size x data.crop_size x train.batch_size",
                              cfg.data.crop_size, cfg.train.batch_size, cfg.model.width)
    if cfg.bins.family == "gmm" and not cfg.bins.path:
        limits.check_at_most("train-classifier: bins.k for bins.family gmm", cfg.bins.k, limits.MAX_GMM_K,
                             "use fewer bins (e.g. bins.k=32) or bins.family kmeans")


def _exit_code(summary: dict) -> int:
    """0 for a run that ended or stopped on its time budget; 130 for an interrupted one."""
    return 130 if summary.get("stopped_by") == "interrupted" else 0


def _add_demo(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="runs/demo", metavar="RUN_DIR")
    p.add_argument("--max-minutes", type=positive_float, default=3.0, help="training time budget (default 3)")
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.set_defaults(handler=_run_demo)


def _run_demo(a: argparse.Namespace) -> int:
    from colorclass.cli.demo import run_demo

    run_demo(a.out, max_minutes=a.max_minutes, seed=a.seed)
    return 0


def _add_plot(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.set_defaults(handler=_run_plot)


def _run_plot(a: argparse.Namespace) -> int:
    from colorclass.engine.plots import plot_log

    require_dir(a.run_dir, "RUN_DIR")
    if not os.path.lexists(Path(a.run_dir) / "log.csv"):
        raise UsageError(f"plot: {a.run_dir!r} holds no run (no log.csv); pass a run folder of train-classifier")
    print(f"wrote {plot_log(a.run_dir)}")
    return 0


def _add_summary(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="unet", choices=MODEL_NAMES, metavar="NAME",
                   help="network: " + ", ".join(MODEL_NAMES) + " (default unet)")
    p.add_argument("--size", type=positive_int, default=64, help="input height and width")
    p.add_argument("--batch", type=positive_int, default=1)
    p.add_argument("--bins", type=positive_int, default=313, help="number of output bins Q")
    p.add_argument("--width", type=positive_int, default=32)
    p.set_defaults(handler=_run_summary)


def _run_summary(a: argparse.Namespace) -> int:
    from colorclass.models import MODELS, build_model, summarize
    from colorclass.models.common import InputSizeError

    if a.model not in MODELS:
        raise UsageError(f"summary: unknown model {a.model!r}; choose one of {', '.join(sorted(MODELS))}")
    for flag, value, limit in (("--size", a.size, limits.MAX_LONG_SIDE), ("--batch", a.batch, limits.MAX_BATCH_SIZE),
                               ("--bins", a.bins, limits.MAX_BINS), ("--width", a.width, limits.MAX_WIDTH)):
        limits.check_at_most(f"summary: {flag}", value, limit, "use a smaller value")
    limits.check_batch_pixels("summary: --size x --size x --batch", a.size, a.batch, a.width)
    model = build_model(a.model, out_channels=a.bins, width=a.width)
    try:
        text = summarize(model, size=a.size, batch=a.batch)
    except InputSizeError as e:   # e.g. a U-Net at --size 1: the nearest valid size is in the message
        raise UsageError(f"summary: --size {a.size}: {e}") from None
    print(text)
    return 0
