"""Per-step mechanics of the Trainer: device set-up, AMP, model wrapping, loaders, one step.

    EngineConfig -> *setup_device, amp_dtype, wrap_model* -> Trainer
    Trainer -> *make_loader* -> batches -> *to_device* -> *train_step* (task.training_loss,
        backward, clip, optimiser step)
"""
from __future__ import annotations

import contextlib
import math
from typing import Any, cast

import torch
from torch.utils.data import DataLoader

from colorclass.engine.distributed import ShardedEpochSampler, agree
from colorclass.engine.protocol import batch_size_of
from colorclass.engine.settings import EngineConfig
from colorclass.support.devices import resolve_device

__all__ = ["NonFiniteLossError", "setup_device", "configure_cuda", "amp_dtype", "autocast", "wrap_model",
           "make_loader", "to_device", "train_step"]


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is left as it was."""


def setup_device(cfg: EngineConfig) -> torch.device:
    """``cfg.device`` -> torch.device (``cuda:LOCAL_RANK`` under torchrun); no side effects."""
    return resolve_device(cfg.device)


def configure_cuda(device: torch.device, cfg: EngineConfig) -> None:
    """Make ``device`` current and set the cuDNN flags (nothing on the CPU)."""
    if device.type != "cuda":
        return
    torch.cuda.set_device(device.index)
    torch.backends.cudnn.benchmark = not cfg.deterministic
    torch.backends.cudnn.deterministic = cfg.deterministic


def amp_dtype(device: torch.device, amp: str) -> torch.dtype | None:
    """Autocast dtype for ``amp`` (auto | off | bf16 | fp16); None = full precision (the CPU)."""
    if device.type != "cuda" or amp == "off":
        return None
    if amp == "fp16" or (amp == "auto" and not torch.cuda.is_bf16_supported()):
        return torch.float16
    return torch.bfloat16


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    return torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None)


def wrap_model(model: torch.nn.Module, cfg: EngineConfig, device: torch.device, world: int) -> torch.nn.Module:
    """``torch.compile`` (when asked), then DDP (with SyncBatchNorm when asked) for ``world > 1``."""
    if cfg.compile:
        model = cast(torch.nn.Module, torch.compile(model))
    if world > 1:
        ids = [device.index] if device.type == "cuda" else None
        if cfg.sync_bn and device.type == "cuda":
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        model = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)
    return model


def make_loader(dataset, cfg: EngineConfig, *, rank: int, world: int, device: torch.device, epoch: int,
                start_batch: int = 0, shuffle: bool = True, training: bool = True, collate_fn=None) -> DataLoader:
    """This rank's loader for one epoch; the order is a function of (seed, epoch) only."""
    n = len(dataset)
    if cfg.overfit_batches:
        n, shuffle = min(n, cfg.overfit_batches * cfg.batch_size * world), False
    sampler = ShardedEpochSampler(n, seed=cfg.seed, epoch=epoch, shuffle=shuffle, rank=rank, world=world,
                                  batch_size=cfg.batch_size, start_batch=start_batch, pad=training)
    if training and hasattr(dataset, "set_epoch"):
        dataset.set_epoch(0 if cfg.overfit_batches else epoch)
    return DataLoader(dataset, batch_size=cfg.batch_size, sampler=sampler, num_workers=cfg.num_workers,
                      pin_memory=device.type == "cuda", collate_fn=collate_fn,
                      drop_last=False, persistent_workers=False,
                      # own generator: creating an iterator must not touch the global RNG
                      generator=torch.Generator().manual_seed(cfg.seed))


def to_device(batch: Any, device: torch.device) -> Any:
    """Move every tensor of a (nested dict / list / tuple) batch to ``device``."""
    if torch.is_tensor(batch):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


def train_step(t, batch) -> dict[str, float]:
    """One optimisation step of trainer ``t`` on a device batch -> logs (global mean ``train_loss``
    and the task's floats). Raises :class:`NonFiniteLossError` before stepping on NaN/inf."""
    t.model.train()
    with autocast(t.device, t.amp_dtype):
        loss, logs = t.task.training_loss(t.model, batch)
    value, n = float(loss.detach()), batch_size_of(t.task, batch)
    # one collective per step under DDP: the global mean loss, and whether any rank saw NaN/inf
    loss_n, total_n, bad = agree([value * n if math.isfinite(value) else 0.0, float(n),
                                  float(not math.isfinite(value))], t.device)
    if bad:
        shown = value if not math.isfinite(value) else "non-finite on another rank"
        raise NonFiniteLossError(
            f"loss became {shown} at epoch {t.epoch + 1}, iteration {t.iteration + 1}; stopped. "
            "The last good checkpoint is intact: lower optim.lr or set optim.grad_clip, then --resume")
    t.optimizer.zero_grad(set_to_none=True)
    t.scaler.scale(loss).backward()
    if t.cfg.optim.grad_clip:
        t.scaler.unscale_(t.optimizer)
        torch.nn.utils.clip_grad_norm_(t.raw_model.parameters(), t.cfg.optim.grad_clip)
    t.scaler.step(t.optimizer)
    t.scaler.update()
    return {"train_loss": loss_n / total_n, **{k: v for k, v in logs.items() if k != "loss"}}
