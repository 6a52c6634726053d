"""The engine's own settings: what the training loop needs, and nothing about experiments.

    experiment config (colorclass.runs.experiment) -> runner (colorclass.training.train_run.engine_config_from)
        -> *EngineConfig* -> Trainer

Frozen dataclasses, torch-free. The experiment config reuses them for its ``[train]``
(``LoopSettings``) and ``[optim]`` (``OptimSettings``) sections, so each field and default is
written once; ``EngineConfig`` adds what the runner takes from elsewhere (``num_workers``, ``optim``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from colorclass.support.devices import DEVICE_CHOICES  # torch-free; the one list of devices

__all__ = ["DEVICE_CHOICES", "EngineConfig", "LoopSettings", "OptimSettings"]


@dataclass(frozen=True)
class OptimSettings:
    """Optimiser and per-epoch learning-rate schedule."""

    name: str = "adam"           # adam | adamw | sgd | rmsprop
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9
    schedule: str = "none"       # none | step | cosine | plateau
    step_size: int = 10          # epochs
    gamma: float = 0.5
    plateau_patience: int = 2
    grad_clip: float = 0.0       # 0 = off


@dataclass(frozen=True)
class LoopSettings:
    """The training loop. ``batch_size`` is per process (global = batch_size * world)."""

    epochs: int = 10
    max_minutes: float = 0.0     # 0 = unlimited
    batch_size: int = 32
    seed: int = 0
    device: str = "auto"         # auto | cpu | cuda
    amp: str = "auto"            # auto | off | bf16 | fp16
    channels_last: bool = True   # NHWC weights: 1.2-1.5x faster U-Net steps on CPU (BENCHMARKS.md)
    compile: bool = False
    checkpoint_every: int = 0    # iterations; 0 = each epoch end only
    sample_every: int = 0        # iterations; 0 = epoch ends only (for sample callbacks)
    early_stop_metric: str = "val_loss"
    early_stop_mode: str = "min"  # min | max (also the direction of the "plateau" schedule)
    early_stop_patience: int = 0  # epochs; 0 = off
    overfit_batches: int = 0     # > 0: train and validate on this many fixed batches
    log_every: int = 20          # iterations per training row of log.csv
    deterministic: bool = False  # CUDA: deterministic cuDNN kernels
    sync_bn: bool = False        # DDP on CUDA: synchronise BatchNorm statistics


@dataclass(frozen=True)
class EngineConfig(LoopSettings):
    """Everything the Trainer reads: the loop, the data loader workers and the optimiser."""

    num_workers: int = 0         # DataLoader worker processes
    optim: OptimSettings = field(default_factory=OptimSettings)
