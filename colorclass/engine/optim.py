"""Small generic pieces of the trainer: optimisers, schedules, seeding, sums (the data order
lives in distributed.py).

    EngineConfig.optim -> *build_optimizer, build_scheduler* -> Trainer
    Trainer -> *seed_everything, collate_sum, improved*
"""
from __future__ import annotations

import random
from typing import Any, Literal

import numpy as np
import torch

from colorclass.engine.settings import OptimSettings
from colorclass.support.errors import ColorclassError

__all__ = ["build_optimizer", "build_scheduler", "seed_everything", "collate_sum",
           "improved"]


def build_optimizer(params, cfg: OptimSettings) -> torch.optim.Optimizer:
    if not cfg.lr > 0:
        raise ColorclassError(f"optim.lr must be > 0, got {cfg.lr}")
    if cfg.name == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.name == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if cfg.name == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    raise ColorclassError(f"optim.name {cfg.name!r} is not one of adam, adamw, sgd, rmsprop")


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: OptimSettings, *, epochs: int, mode: str = "min"):
    """Per-epoch schedule (None for "none"); "plateau" watches a metric in direction ``mode``."""
    if cfg.schedule == "none":
        return None
    if cfg.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.step_size, gamma=cfg.gamma)
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, epochs))
    if cfg.schedule == "plateau":
        direction: Literal["min", "max"]
        if mode == "min":
            direction = "min"
        elif mode == "max":
            direction = "max"
        else:   # what ReduceLROnPlateau raises too
            raise ValueError(f"plateau schedule mode {mode!r} is not 'min' or 'max'")
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode=direction, factor=cfg.gamma,
                                                          patience=cfg.plateau_patience)
    raise ColorclassError(f"optim.schedule {cfg.schedule!r} is not one of none, step, cosine, plateau")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def collate_sum(sums: dict[str, Any], stats: dict[str, Any]) -> dict[str, Any]:
    """Add a batch's stats (floats or tensors) into the running sums."""
    for k, v in stats.items():
        v = v.detach().cpu() if torch.is_tensor(v) else v
        sums[k] = v if k not in sums else sums[k] + v
    return sums


def improved(value: float, best: float | None, mode: str) -> bool:
    """Whether ``value`` beats ``best`` in direction ``mode`` ("min" or "max"); any value beats None."""
    if best is None:
        return True
    return value < best if mode == "min" else value > best

