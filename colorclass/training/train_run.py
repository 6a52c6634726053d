"""Experiment runner: wires one config into the pipeline and hands it to the generic engine.

    config -> photos (data) + bins (quantize) -> network (models) + task (losses, targets)
           -> EngineConfig + Trainer (colorclass.engine) -> run folder

This is the only place that knows every stage; the engine itself knows nothing about colour
or experiments. The runner owns the run records (config.toml, command.txt, meta.json), the
refusal to reuse a run folder, the folder lock, and the command-line wording (the resume hint,
printed only when a run stopped before its end). Everything a resume depends on (config, bins,
checkpoint, architecture, early-stopping metric) is checked before anything is written.
"""
from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import Sequence

import torch

from colorclass.engine.settings import EngineConfig, OptimSettings
from colorclass.evaluation.baselines import DATA_STATS_FILE
from colorclass.runs.experiment import ExperimentConfig, load_config
from colorclass.runs.loading import (
    CALIBRATION_FILE,
    RUN_FILES,
    RunFolderError,
    check_can_start,
    check_weights,
    load_weights,
    model_from_config,
    run_lock,
)
from colorclass.runs.records import remove_empty_run_dir, undo_failed_start, write_run_records
from colorclass.support.devices import resolve_device
from colorclass.support.errors import ColorclassError

__all__ = ["run_training", "resume_training", "build_experiment", "engine_config_from", "resume_hint",
           "initial_model", "check_early_stop_metric", "FINISHED_STOPS"]

log = logging.getLogger(__name__)

FINISHED_STOPS = ("epochs", "early stopping", "done")   # stop reasons after which nothing is left to resume
# removed by --overwrite: a new run must not inherit the old one's calibration or statistics
_RUN_RECORDS = (*RUN_FILES, "command.txt", "meta.json", "log.csv", CALIBRATION_FILE, DATA_STATS_FILE,
                "eval.json")


def engine_config_from(cfg: ExperimentConfig) -> EngineConfig:
    """The engine's settings out of an experiment config (``train``, ``optim``, data workers)."""
    train = {f.name: getattr(cfg.train, f.name) for f in fields(EngineConfig) if hasattr(cfg.train, f.name)}
    return EngineConfig(**train, num_workers=cfg.data.num_workers, optim=OptimSettings(**asdict(cfg.optim)))


def resume_hint(run_dir: str | Path) -> str:
    return f"resume with: train-classifier --resume {run_dir}"


def _load_or_fit_bins(cfg: ExperimentConfig, run_dir: Path, *, resume: bool = False):
    import quantize
    from colorclass.binning import fit_bins_from_folder, save_bins

    target = run_dir / "bins.npz"
    if resume and target.is_file():  # a resumed run keeps its bins (checked in _check_resume)
        return quantize.load_bins(target)
    if cfg.bins.path:
        if not Path(cfg.bins.path).is_file():
            raise FileNotFoundError(f"bins file {cfg.bins.path!r} not found; create one with "
                                    "`fit-bins --k 24 DIR -o bins.npz`")
        bins = quantize.load_bins(cfg.bins.path)
        if Path(cfg.bins.path).resolve() != target.resolve():
            save_bins(bins, target)
        return bins
    if target.is_file():  # resumed run, or an earlier auto-fit
        return quantize.load_bins(target)
    b = cfg.bins
    what = f"{b.preset} grid" if b.preset else f"{b.k} {b.family} {b.space or ''} bins"
    log.info(f"no bins file given: fitting {what} on {cfg.data.train} -> {target}")
    return fit_bins_from_folder(cfg.data.train, target, family=b.family, space=b.space or None,
                                k=b.k, preset=b.preset or None, seed=cfg.train.seed)


def _datasets(cfg: ExperimentConfig):
    from colorclass.photos import ImageFolderDataset
    from colorclass.runs.photo_split import run_photos

    d = cfg.data
    photos = run_photos(cfg)
    for what, report in (("training", photos.skipped_train), ("validation", photos.skipped_val)):
        if report is not None and report.total:
            log.info(f"skipped {report.total} {what} photos:\n  " + report.summary().replace("\n", "\n  "))
    train_files, val_files = photos.train, photos.val
    if not train_files:
        raise ColorclassError(f"no usable training photos in {d.train!r}; `colorclass data {d.train}` shows why")
    # files are already scanned above (the dataset's own scan is then a cache hit, kept quiet)
    common = dict(crop_size=d.crop_size, resize=d.resize, seed=cfg.train.seed, cache=d.cache, progress=False)
    train_set = ImageFolderDataset(train_files, flip=d.flip, min_scale=d.min_scale, rotate=d.rotate,
                                   shear=d.shear, train=True, repeat=d.repeat, **common)
    val_set = ImageFolderDataset(val_files, train=False, **common) if val_files else None
    return train_set, val_set


def check_early_stop_metric(cfg: ExperimentConfig) -> None:
    """train.early_stop_metric must be one the task reports (checked before any work)."""
    from colorclass.training.colorization_task import ColorizationTask

    names = ["val_loss", "train_loss", "ab_rmse"]
    if cfg.loss.name != "mse":
        names += list(ColorizationTask.metric_names)
    if cfg.train.early_stop_metric not in names:
        raise ColorclassError(f"train.early_stop_metric {cfg.train.early_stop_metric!r} is not a metric of this "
                         f"run; choose one of {', '.join(names)}")


def init_source(init_from: str) -> str | Path:
    """``model.init_from`` as a path: ``builtin:NAME`` is the installed built-in model NAME."""
    if init_from.startswith("builtin:"):
        from colorclass.builtin import builtin_run_dir
        return builtin_run_dir(init_from.removeprefix("builtin:") or "general")
    return init_from


def initial_model(cfg: ExperimentConfig, n_bins: int) -> torch.nn.Module:
    """The network with initial weights drawn from ``train.seed`` (same seed -> same weights)."""
    torch.manual_seed(cfg.train.seed)
    return model_from_config(cfg, n_bins)


def build_experiment(cfg: ExperimentConfig, run_dir: Path, device: torch.device, *, resume: bool = False):
    """Bins, datasets, model and task for one config (no training)."""
    from colorclass.models import init_from_weights
    from colorclass.training.colorization_task import ColorizationTask

    bins = _load_or_fit_bins(cfg, run_dir, resume=resume)
    train_set, val_set = _datasets(cfg)
    model = initial_model(cfg, bins.n_bins)
    if cfg.model.init_from:
        init_from_weights(model, load_weights(init_source(cfg.model.init_from)))
    task = ColorizationTask(bins, loss=cfg.loss.name, n_neighbors=cfg.bins.soft_neighbors,
                            sigma=cfg.bins.soft_sigma, rebalance=cfg.loss.rebalance,
                            lam=cfg.loss.rebalance_lambda, lowpass=cfg.loss.lowpass,
                            output_stride=int(getattr(model, "output_stride", 1)), method=cfg.decode.method,
                            temperature=cfg.decode.temperature, device=device, hints=cfg.model.hints,
                            hint_seed=cfg.train.seed, hint_zero_fraction=cfg.model.hint_zero_fraction)
    return bins, train_set, val_set, model, task


def with_loaded_bins(cfg: ExperimentConfig, bins) -> ExperimentConfig:
    """``cfg`` whose [bins] fitting fields (family, space, k, preset) describe ``bins``.

    With ``bins.path`` set those fields are not used, so their defaults (24 k-means colours)
    would otherwise go into the run's config.toml beside a file holding other bins.
    """
    if not cfg.bins.path:
        return cfg
    described = replace(cfg.bins, family=bins.family, space=bins.space, k=int(bins.n_bins),
                        preset=getattr(bins, "preset", None) or "")
    return replace(cfg, bins=described)


def _record_data_stats(run_dir: Path, train_set, source: str) -> None:
    """RUN/data_stats.json: the training photos' mean ab (a sample of them), for evaluate's
    ``mean`` baseline; kept as it is when a resumed run already has one."""
    from colorclass.evaluation.baselines import DATA_STATS_FILE, write_data_stats

    if not (run_dir / DATA_STATS_FILE).is_file():
        write_data_stats(run_dir, train_set.files, source)


# what a start writes before training begins (removed again when the start fails)
_START_RECORDS = (*_RUN_RECORDS, "bins.json", "bins.png", "samples", "samples.png", "loss.png", "report.html",
                  "report")


def run_training(cfg: ExperimentConfig, *, command: str = "", resume: bool = False,
                 overwrite: bool = False) -> dict:
    """Train one experiment into ``cfg.out`` (holding its lock); returns the trainer's summary.

    ``overwrite`` replaces a run already in the folder (its run files are removed first).
    """
    from colorclass.engine.trainer import Trainer
    from colorclass.reports.run_report import SampleGridCallback, build_run_report

    run_dir = Path(cfg.out)
    check_can_start(run_dir, resume=resume, overwrite=overwrite,
                    data=(("data.train", cfg.data.train), ("data.val", cfg.data.val)))
    check_early_stop_metric(cfg)
    if cfg.model.init_from:
        load_weights(init_source(cfg.model.init_from))  # unreadable weights: one line, before any work
    if resume:
        _check_resume(cfg, run_dir)
    main_rank = int(os.environ.get("RANK", "0")) == 0
    cleanup = main_rank and not resume            # a failed start removes what it wrote
    before = set(os.listdir(run_dir)) if run_dir.is_dir() else None
    locked = False
    try:
        with run_lock(run_dir) if main_rank else contextlib.nullcontext():
            locked = True
            try:
                if overwrite and not resume:
                    _remove_run_records(run_dir, cfg)
                device = resolve_device(cfg.train.device)
                bins, train_set, val_set, model, task = build_experiment(cfg, run_dir, device, resume=resume)
                samples = SampleGridCallback(task, val_set if val_set is not None else train_set, run_dir,
                                             every=cfg.train.sample_every)
                trainer = Trainer(model, task, train_set, val_set, engine_config_from(cfg), run_dir=run_dir,
                                  callbacks=[samples], resume=resume, device=device)
                task.iteration = trainer.iteration   # a resumed run continues its hint seeds
                if trainer.is_main_process:
                    write_run_records(run_dir, with_loaded_bins(cfg, bins), command=command, resume=resume,
                                      device=trainer.device, world=trainer.world)
                    _record_data_stats(run_dir, train_set, cfg.data.train)
            except BaseException:
                if cleanup:
                    undo_failed_start(run_dir, before or set(), _START_RECORDS)
                raise
            cleanup = False                       # training started: its files are a run (resumable)
            summary = _fit_or_explain(trainer, run_dir)
            if trainer.is_main_process:
                build_run_report(run_dir)
                if summary["stopped_by"] not in FINISHED_STOPS:
                    log.info(f"  {resume_hint(run_dir)}")
    finally:
        if cleanup and locked and before is None:  # the folder was ours: leave no empty folder behind
            remove_empty_run_dir(run_dir)
    return summary


def _fit_or_explain(trainer, run_dir: Path) -> dict:
    """``trainer.fit()``; a NaN/inf loss before the first checkpoint says so (the engine's
    message promises a checkpoint to --resume from, which does not exist then)."""
    from colorclass.engine.trainer import NonFiniteLossError

    try:
        return trainer.fit()
    except NonFiniteLossError as e:
        if (run_dir / "checkpoint.safetensors").is_file():
            raise
        first = (str(e).split(";")[0] or "the loss became NaN or inf").strip()
        raise NonFiniteLossError(f"{first}; stopped before any checkpoint was written (no checkpoint.safetensors "
                                 f"in {run_dir}, nothing to resume): lower optim.lr or set optim.grad_clip, then "
                                 f"start again with --out {run_dir} --overwrite") from None


def _remove_run_records(run_dir: Path, cfg: ExperimentConfig) -> None:
    """--overwrite: remove the old run's files, but never an input of the new run (its bins
    file or init_from weights may live in the folder)."""
    inputs = {Path(p).resolve() for p in (cfg.bins.path, init_source(cfg.model.init_from)) if p}
    for name in _RUN_RECORDS:
        if (run_dir / name).resolve() not in inputs:
            (run_dir / name).unlink(missing_ok=True)


def _check_resume(cfg: ExperimentConfig, run_dir: Path) -> None:
    """Everything a resume needs, read-only: the run's bins (a different bins file is refused),
    the checkpoint, and that the configured network fits the checkpoint's weights."""
    import numpy as np

    import quantize
    from colorclass.engine.checkpoint import load_checkpoint

    target = run_dir / "bins.npz"
    if not target.is_file():
        raise RunFolderError(f"--resume {str(run_dir)!r}: the run has no bins.npz; nothing to resume")
    bins = quantize.load_bins(target)
    if cfg.bins.path and Path(cfg.bins.path).resolve() != target.resolve():
        other = quantize.load_bins(cfg.bins.path)
        if other.n_bins != bins.n_bins or not np.allclose(other.centers_ab, bins.centers_ab):
            raise RunFolderError(f"bins.path={cfg.bins.path!r} has {other.n_bins} bins but the run {str(run_dir)!r} "
                                 f"was trained with its own {bins.n_bins}; a resumed run keeps its bins "
                                 "(drop the bins override, or start a new run with --out)")
    model_state, _ = load_checkpoint(run_dir / "checkpoint.safetensors")
    check_weights(model_from_config(cfg, bins.n_bins), model_state, source="checkpoint weights",
                  n_bins=bins.n_bins)


def resume_training(run_dir: str | Path, *, overrides: Sequence[str] = (), command: str = "") -> dict:
    """Continue the run in ``run_dir`` from its last checkpoint, with its own config."""
    run_dir = Path(run_dir)
    cfg_path = run_dir / "config.toml"
    if not cfg_path.is_file():
        raise FileNotFoundError(f"--resume {str(run_dir)!r}: no config.toml there; is it a run folder?")
    cfg = load_config(str(cfg_path), list(overrides))
    cfg = replace(cfg, out=str(run_dir))
    return run_training(cfg, command=command, resume=True)
