"""Experiment runner: wires one config into the pipeline and hands it to the generic engine.

    config -> photos (data) + bins (quantize) -> network (models) + task (losses, targets)
           -> EngineConfig + Trainer (colorclass.engine) -> run folder

This is the only place that knows every stage; the engine itself knows nothing about colour
or experiments. The runner owns the run records (config.toml, command.txt, meta.json), the
refusal to reuse a run folder, and the command-line wording (the resume hint).
"""
from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from dataclasses import asdict, fields, replace
from pathlib import Path

import torch

from .config import ExperimentConfig, config_to_toml, load_config
from .engine.config import EngineConfig, OptimSettings
from .engine.device import resolve_device  # noqa: F401  (still importable from here)

__all__ = ["run_training", "resume_training", "build_experiment", "resolve_device", "model_from_config",
           "engine_config_from", "write_run_records", "check_run_folder", "resume_hint"]


def engine_config_from(cfg: ExperimentConfig) -> EngineConfig:
    """The engine's settings out of an experiment config (``train``, ``optim``, data workers)."""
    train = {f.name: getattr(cfg.train, f.name) for f in fields(EngineConfig) if hasattr(cfg.train, f.name)}
    return EngineConfig(**train, num_workers=cfg.data.num_workers, optim=OptimSettings(**asdict(cfg.optim)))


def check_run_folder(run_dir: Path, resume: bool) -> None:
    """Refuse to start a new run over an existing one."""
    if not resume and (run_dir / "checkpoint.safetensors").is_file():
        raise ValueError(f"run folder {str(run_dir)!r} already holds a run; continue it with "
                         f"--resume {run_dir} or choose another --out")


def resume_hint(run_dir: str | Path) -> str:
    return f"resume with: train-classifier --resume {run_dir}"


def git_revision() -> str | None:
    """The colorclass checkout's git revision (with "+dirty"), or None outside git."""
    root = Path(__file__).resolve().parents[1]
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                             timeout=5).stdout.strip()
        if not rev:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def write_run_records(run_dir: Path, cfg: ExperimentConfig, *, command: str = "", resume: bool = False,
                      device: torch.device | str = "cpu", world: int = 1) -> None:
    """config.toml, command.txt (one line per session) and meta.json (versions, device; a
    resumed run keeps the first session's record and lists the resumptions)."""
    from . import __version__

    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.toml").write_text(config_to_toml(cfg))
    with open(run_dir / "command.txt", "a" if resume else "w") as f:
        f.write((command or shlex.join(sys.argv)) + "\n")
    session = {"colorclass_version": __version__, "git_revision": git_revision(),
               "torch_version": torch.__version__, "device": str(device), "world_size": world,
               "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    meta_path = run_dir / "meta.json"
    if resume and meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        meta["resumed"] = True
        meta.setdefault("resumptions", []).append(session)
    else:
        meta = {**session, "resumed": False}
    meta_path.write_text(json.dumps(meta, indent=2))


def _load_or_fit_bins(cfg: ExperimentConfig, run_dir: Path):
    import quantize

    target = run_dir / "bins.npz"
    if cfg.bins.path:
        if not Path(cfg.bins.path).is_file():
            raise FileNotFoundError(f"bins file {cfg.bins.path!r} not found; create one with "
                                    "`fit-bins --k 24 DIR -o bins.npz`")
        bins = quantize.load_bins(cfg.bins.path)
        if Path(cfg.bins.path).resolve() != target.resolve():
            bins.save(target)
        return bins
    if target.is_file():  # resumed run, or an earlier auto-fit
        return quantize.load_bins(target)
    b = cfg.bins
    what = f"{b.preset} grid" if b.preset else f"{b.k} {b.family} {b.space or ''} bins"
    print(f"no bins file given: fitting {what} on {cfg.data.train} -> {target}")
    return quantize.fit_bins_from_folder(cfg.data.train, target, family=b.family, space=b.space or None,
                                         k=b.k, preset=b.preset or None, seed=cfg.train.seed)


def _datasets(cfg: ExperimentConfig):
    from .data import ImageFolderDataset, list_images, scan_images, split_files

    d = cfg.data
    files, report = scan_images(list_images(d.train), min_colorfulness=d.min_colorfulness)
    if report.total:
        print(f"skipped {report.total} training photos:\n  " + report.summary().replace("\n", "\n  "))
    if d.max_images:
        files = files[: d.max_images]
    if d.val:
        train_files = files
        val_files, vreport = scan_images(list_images(d.val), min_colorfulness=d.min_colorfulness)
        if vreport.total:
            print(f"skipped {vreport.total} validation photos:\n  " + vreport.summary().replace("\n", "\n  "))
    else:
        train_files, val_files = split_files(files, val_fraction=d.val_fraction, seed=cfg.train.seed)
    if not train_files:
        raise ValueError(f"no usable training photos in {d.train!r}; `colorclass data {d.train}` shows why")
    # files are already scanned above (the dataset's own scan is then a cache hit, kept quiet)
    common = dict(crop_size=d.crop_size, resize=d.resize, seed=cfg.train.seed, cache=d.cache, progress=False)
    train_set = ImageFolderDataset(train_files, flip=d.flip, min_scale=d.min_scale, rotate=d.rotate,
                                   shear=d.shear, train=True, repeat=d.repeat, **common)
    val_set = ImageFolderDataset(val_files, train=False, **common) if val_files else None
    return train_set, val_set


def build_experiment(cfg: ExperimentConfig, run_dir: Path, device: torch.device):
    """Bins, datasets, model and task for one config (no training)."""
    from .models import init_from_previous_stage
    from .task import ColorizationTask

    bins = _load_or_fit_bins(cfg, run_dir)
    train_set, val_set = _datasets(cfg)
    model = model_from_config(cfg, bins.n_bins)
    if cfg.model.init_from:
        init_from_previous_stage(model, _load_weights(cfg.model.init_from))
    task = ColorizationTask(bins, loss=cfg.loss.name, n_neighbors=cfg.bins.soft_neighbors,
                            sigma=cfg.bins.soft_sigma, rebalance=cfg.loss.rebalance,
                            lam=cfg.loss.rebalance_lambda, lowpass=cfg.loss.lowpass,
                            output_stride=model.output_stride, device=device)
    return bins, train_set, val_set, model, task


def model_from_config(cfg: ExperimentConfig, n_bins: int) -> torch.nn.Module:
    """The network of ``cfg.model`` with Q = ``n_bins`` outputs (2 for the MSE baseline)."""
    from .models import build_model

    m = cfg.model
    extra = {"depth": m.depth} if m.depth else {}
    return build_model(m.name, out_channels=2 if cfg.loss.name == "mse" else n_bins, width=m.width,
                       kernel_size=m.kernel_size, **extra)


def _load_weights(path: str) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    p = Path(path)
    if p.is_dir():
        p = p / "model.safetensors"
    if not p.is_file():
        raise FileNotFoundError(f"model.init_from {path!r}: no weights found; pass a run folder "
                                "or a .safetensors file")
    return load_file(str(p))


def run_training(cfg: ExperimentConfig, *, command: str = "", resume: bool = False) -> dict:
    """Train one experiment into ``cfg.out``; returns the trainer's summary."""
    from .engine.trainer import Trainer
    from .report import SampleGridCallback, build_run_report

    run_dir = Path(cfg.out)
    check_run_folder(run_dir, resume)
    run_dir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(cfg.train.device)
    bins, train_set, val_set, model, task = build_experiment(cfg, run_dir, device)
    samples = SampleGridCallback(task, val_set if val_set is not None else train_set, run_dir,
                                 every=cfg.train.sample_every, method=cfg.decode.method,
                                 temperature=cfg.decode.temperature)
    trainer = Trainer(model, task, train_set, val_set, engine_config_from(cfg), run_dir=run_dir,
                      callbacks=[samples], resume=resume, summary_hints=[resume_hint(run_dir)])
    if trainer.is_main_process:
        write_run_records(run_dir, cfg, command=command, resume=resume, device=trainer.device,
                          world=trainer.world)
    summary = trainer.fit()
    if trainer.is_main_process:
        build_run_report(run_dir)
    return summary


def resume_training(run_dir: str | Path, *, overrides: list[str] = (), command: str = "") -> dict:
    """Continue the run in ``run_dir`` from its last checkpoint, with its own config."""
    run_dir = Path(run_dir)
    cfg_path = run_dir / "config.toml"
    if not cfg_path.is_file():
        raise FileNotFoundError(f"--resume {str(run_dir)!r}: no config.toml there; is it a run folder?")
    cfg = load_config(str(cfg_path), list(overrides))
    cfg = replace(cfg, out=str(run_dir))
    return run_training(cfg, command=command, resume=True)
