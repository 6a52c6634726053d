"""Run folders: everything about a trained (or training) run on disk, in one place.

    RUN_DIR/{config.toml, bins.npz, model.safetensors | best.safetensors, checkpoint.safetensors}
        -> *load_run* -> Run(model, bins, config, device, decode settings)
        -> colorize / evaluate / calibrate / reports / activations

Training uses the same helpers to build the network (``model_from_config``), to load weights
(``load_weights``) and to refuse a folder that already holds a run (``check_can_start``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from .config import ExperimentConfig, load_config
from .decode_rules import DEFAULT_METHOD, DEFAULT_TEMPERATURE
from .engine.device import resolve_device

__all__ = ["Run", "RunFolderError", "RUN_FILES", "load_run", "model_from_config", "load_weights",
           "holds_run", "check_can_start", "weights_path"]

RUN_FILES = ("config.toml", "bins.npz", "model.safetensors", "best.safetensors", "checkpoint.safetensors")


class RunFolderError(ValueError):
    """A run folder is missing, incomplete or does not match itself (a user-facing error)."""


@dataclass
class Run:
    """A trained run loaded for inference.

    model: the network in eval mode on ``device``; bins: its ``quantize.Bins``; config: the
    run's ``ExperimentConfig``; regression: True for the L2 baseline (the network outputs ab);
    method / temperature: the run's decoding rule (calibrated when ``temperature_source`` says so).
    """

    model: torch.nn.Module
    bins: object
    config: ExperimentConfig
    device: torch.device
    regression: bool
    run_dir: Path | None = None
    method: str = DEFAULT_METHOD
    temperature: float = DEFAULT_TEMPERATURE
    temperature_source: str = "config"

    @property
    def network_size(self) -> int | None:
        """Shorter side the network runs at by default (None keeps the photo's size)."""
        return self.config.data.resize or None


def holds_run(run_dir: str | Path) -> bool:
    """True when ``run_dir`` holds any file of a run (config, bins, weights or checkpoint)."""
    run_dir = Path(run_dir)
    return run_dir.is_dir() and any((run_dir / name).exists() for name in RUN_FILES)


def check_can_start(run_dir: str | Path, *, resume: bool) -> None:
    """Refuse to start a new run in a folder that already holds one (unless resuming)."""
    run_dir = Path(run_dir)
    if not resume and (run_dir / "checkpoint.safetensors").is_file():
        raise RunFolderError(f"run folder {str(run_dir)!r} already holds a run; continue it with "
                             f"--resume {run_dir} or choose another --out")


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


def weights_path(run_dir: str | Path) -> Path:
    """The weights a run is used with: ``best.safetensors`` when present, else ``model.safetensors``."""
    run_dir = Path(run_dir)
    best = run_dir / "best.safetensors"
    return best if best.is_file() else run_dir / "model.safetensors"


def load_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a ``.safetensors`` file, or of a run folder's ``model.safetensors``."""
    from safetensors.torch import load_file

    p = Path(path)
    if p.is_dir():
        p = p / "model.safetensors"
    if not p.is_file():
        raise FileNotFoundError(f"{str(path)!r}: no weights found; pass a run folder or a .safetensors file")
    return load_file(str(p))


def _require_files(run_dir: Path) -> None:
    if not run_dir.is_dir():
        raise RunFolderError(f"run folder {str(run_dir)!r} does not exist; train one with "
                             "`train-classifier` or `colorclass demo`")
    for name in ("config.toml", "bins.npz", "model.safetensors"):
        if not (run_dir / name).is_file():
            raise FileNotFoundError(f"run folder {str(run_dir)!r} has no {name}; "
                                    "train one with `train-classifier` or `colorclass demo`")


def load_run(run_dir: str | Path, *, device: str = "auto") -> Run:
    """Load config, bins and weights (safetensors) of a run folder, ready for inference."""
    import quantize

    run_dir = Path(run_dir)
    _require_files(run_dir)
    cfg = load_config(str(run_dir / "config.toml"), [])
    bins = quantize.load_bins(run_dir / "bins.npz")
    model = model_from_config(cfg, bins.n_bins)
    model.load_state_dict(load_weights(weights_path(run_dir)))
    dev = resolve_device(device)
    return Run(model.to(dev).eval(), bins, cfg, dev, cfg.loss.name == "mse", run_dir,
               cfg.decode.method, cfg.decode.temperature)
