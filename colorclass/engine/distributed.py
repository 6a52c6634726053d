"""Multi-process training helpers: process groups, the data order, cross-rank agreement.

    Trainer (DDP under torchrun) -> *init_distributed, ShardedEpochSampler, agree, all_reduce_sums*

Generic (nothing about colour). ``torchrun`` sets ``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``,
``MASTER_ADDR`` and ``MASTER_PORT``; with ``WORLD_SIZE > 1`` the trainer joins a process group
(gloo on CPU, nccl on CUDA). The training data order is a pure function of (seed, epoch), so
a resumed run replays it exactly and every rank agrees on it without communication.
"""
from __future__ import annotations

import os
from typing import Any, Iterator

import torch
import torch.distributed as dist
from torch.utils.data import Sampler

__all__ = ["init_distributed", "ShardedEpochSampler", "agree", "all_reduce_sums", "epoch_seed"]


def init_distributed(device_type: str) -> tuple[int, int, bool]:
    """Join the torchrun process group when ``WORLD_SIZE > 1``.

    Returns ``(rank, world_size, created)``; ``created`` tells whether this call created the
    group (then the caller destroys it when done). Without torchrun: ``(0, 1, False)``.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size(), False
    if world <= 1:
        return 0, 1, False
    missing = [k for k in ("RANK", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise ValueError(f"WORLD_SIZE={world} but {', '.join(missing)} not set; launch with "
                         f"`torchrun --nproc_per_node N ...` or unset WORLD_SIZE")
    dist.init_process_group("nccl" if device_type == "cuda" else "gloo")
    return dist.get_rank(), dist.get_world_size(), True


def epoch_seed(seed: int, epoch: int) -> int:
    """Seed of the data order of one epoch (a pure function of seed and epoch)."""
    return int(seed) * 1_000_003 + int(epoch)


class ShardedEpochSampler(Sampler[int]):
    """Dataset indices for one rank and one epoch, as a pure function of (seed, epoch).

    The epoch's order is a seeded permutation of ``range(n)`` (or ``range(n)`` without
    shuffle). For training (``pad=True``) it is padded by wrapping around to a multiple of
    ``world`` (like ``DistributedSampler``) so that every rank runs the same number of
    batches; rank r takes items r, r + world, ...: the ranks' batches of size B together are
    exactly the single-process batch of size B * world. ``start_batch`` skips the batches a
    resumed run already trained on. Validation uses ``pad=False`` (no sample counted twice).
    """

    def __init__(self, n: int, *, seed: int, epoch: int, shuffle: bool = True, rank: int = 0,
                 world: int = 1, batch_size: int = 1, start_batch: int = 0, pad: bool = True) -> None:
        if not 0 <= rank < world:
            raise ValueError(f"rank {rank} is outside 0..{world - 1}")
        if shuffle:
            g = torch.Generator().manual_seed(epoch_seed(seed, epoch))
            order = torch.randperm(n, generator=g).tolist()
        else:
            order = list(range(n))
        if pad and n and len(order) % world:
            extra = world - len(order) % world
            order += (order * (extra // n + 1))[:extra]
        self.indices = order[rank::world][start_batch * batch_size:]

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def agree(values: list[float], device: torch.device) -> list[float]:
    """Sum ``values`` over all ranks (identity in a single process).

    The trainer sends ``[loss * n, n, non_finite, stop]`` once per iteration so that every
    rank logs the global mean loss and stops (time budget, Ctrl-C, NaN) at the same iteration;
    a rank that stopped alone would leave the others waiting forever in the next backward.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def all_reduce_sums(sums: dict[str, Any], device: torch.device) -> dict[str, Any]:
    """Add the validation sums (floats or tensors) of all ranks; keys must match across ranks."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return sums
    out: dict[str, Any] = {}
    for key in sorted(sums):
        t = torch.as_tensor(sums[key], dtype=torch.float64).to(device).clone()
        dist.all_reduce(t)
        out[key] = t.cpu() if t.ndim else float(t)
    return out
