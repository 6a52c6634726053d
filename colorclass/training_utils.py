"""Small generic pieces of the trainer: data order, optimisers, schedules, seeding, sums.

    trainer -> *EpochSampler, build_optimizer, build_scheduler, seed_everything, collate_sum*
"""
from __future__ import annotations

import random
import subprocess
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from torch.utils.data import Sampler

from .config import OptimConfig

__all__ = ["EpochSampler", "build_optimizer", "build_scheduler", "seed_everything", "collate_sum",
           "improved", "git_revision"]


class EpochSampler(Sampler[int]):
    """Indices of one epoch as a pure function of (seed, epoch): a seeded permutation (or
    0..n-1 without shuffle), split across DDP ranks batch by batch, starting at ``start_batch``
    (to resume mid-epoch). Rank r of W takes items r, r+W, ... so that the union of the ranks'
    batches of size B equals the single-process batch of size B*W."""

    def __init__(self, n: int, *, seed: int, epoch: int, shuffle: bool = True, rank: int = 0,
                 world: int = 1, batch_size: int = 1, start_batch: int = 0) -> None:
        if shuffle:
            g = torch.Generator().manual_seed(int(seed) * 1_000_003 + int(epoch))
            order = torch.randperm(n, generator=g).tolist()
        else:
            order = list(range(n))
        self.indices = order[rank::world][start_batch * batch_size:]

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def build_optimizer(params, cfg: OptimConfig) -> torch.optim.Optimizer:
    if not cfg.lr > 0:
        raise ValueError(f"optim.lr must be > 0, got {cfg.lr}")
    if cfg.name == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.name == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if cfg.name == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    raise ValueError(f"optim.name {cfg.name!r} is not one of adam, adamw, sgd, rmsprop")


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: OptimConfig, *, epochs: int):
    """Per-epoch schedule (None for "none")."""
    if cfg.schedule == "none":
        return None
    if cfg.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.step_size, gamma=cfg.gamma)
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, epochs))
    if cfg.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=cfg.gamma,
                                                          patience=cfg.plateau_patience)
    raise ValueError(f"optim.schedule {cfg.schedule!r} is not one of none, step, cosine, plateau")


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
    if best is None:
        return True
    return value < best if mode == "min" else value > best


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
