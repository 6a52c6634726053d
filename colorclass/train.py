"""Experiment runner: wires one config into the pipeline and hands it to the trainer.

    config -> photos (data) + bins (quantize) -> network (models) + task (losses, targets)
           -> Trainer (generic) -> run folder

This is the only place that knows every stage; the trainer itself knows nothing about colour.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch

from .config import ExperimentConfig, load_config

__all__ = ["run_training", "resume_training", "build_experiment", "resolve_device", "model_from_config"]


def resolve_device(name: str) -> torch.device:
    """"auto" -> CUDA when available, else CPU; "cuda" without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but no CUDA GPU is available; use --device cpu or auto")
    return torch.device(name)


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
                            output_stride=model.output_stride, method=cfg.decode.method,
                            temperature=cfg.decode.temperature, device=device)
    return bins, train_set, val_set, model, task


def model_from_config(cfg: ExperimentConfig, n_bins: int) -> torch.nn.Module:
    """The network of ``cfg.model`` with Q = ``n_bins`` outputs (2 for the MSE baseline)."""
    from .models import build_model

    m = cfg.model
    extra = {"depth": m.depth} if m.depth else {}
    if m.head_kernel:   # only non-default options are passed, so older model names keep working
        extra["head_kernel"] = m.head_kernel
    if m.output_stride != 1:
        extra["output_stride"] = m.output_stride
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
    from .report import SampleGridCallback, build_run_report
    from .trainer import Trainer

    run_dir = Path(cfg.out)
    if not resume and (run_dir / "checkpoint.safetensors").is_file():
        raise ValueError(f"run folder {str(run_dir)!r} already holds a run; continue it with "
                         f"--resume {run_dir} or choose another --out")
    run_dir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(cfg.train.device)
    bins, train_set, val_set, model, task = build_experiment(cfg, run_dir, device)
    samples = SampleGridCallback(task, val_set if val_set is not None else train_set, run_dir,
                                 every=cfg.train.sample_every, method=cfg.decode.method,
                                 temperature=cfg.decode.temperature)
    trainer = Trainer(model, task, train_set, val_set, cfg, run_dir=run_dir, callbacks=[samples],
                      command=command, resume=resume)
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
