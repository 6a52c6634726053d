"""The Task contract: everything the generic engine asks of a problem (loss, metrics, columns).

    model + *task* + datasets + EngineConfig -> Trainer.fit() -> run folder

The engine never looks inside a batch or a prediction: the task turns a batch (whatever
the dataset and collate function yield, already moved to the device) into a loss and
validation sums. ``colorclass.training.colorization_task.ColorizationTask`` is the colour implementation.

Optional extra: ``task.batch_size_of(batch) -> int`` (samples in a batch, for images/s and the
global mean loss); without it the engine takes the length of the first tensor of the batch.
``isinstance(task, Task)`` checks the required members only.
"""
from __future__ import annotations

from typing import Any, Mapping, Protocol, Sequence, runtime_checkable

import torch

__all__ = ["Task", "batch_size_of", "metric_names_of"]


@runtime_checkable
class Task(Protocol):
    """What the Trainer calls. Batches are the DataLoader's output on the training device."""

    metric_names: Sequence[str]
    """The task's metric columns of log.csv and loss.png, placed right after ``val_loss``
    (e.g. ``("pixel_acc", "miou")``). ``finalize_stats`` may return more keys: they become
    extra columns at the end of the header, in sorted order."""

    def training_loss(self, model: torch.nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, float]]:
        """One training step: (scalar loss tensor with grad, loggable floats). The engine
        runs it under autocast, checks it is finite, then back-propagates; a ``"loss"`` key
        in the floats is ignored (the engine logs ``train_loss`` itself)."""
        ...

    def validation_stats(self, model: torch.nn.Module, batch: Any) -> dict[str, float | torch.Tensor]:
        """Sums over one validation batch (floats or tensors of any fixed shape, e.g. per-class
        counts (Q,)). The engine adds them over batches and DDP ranks; so they must be sums,
        never means. Called under ``torch.no_grad`` with the model in eval mode."""
        ...

    def finalize_stats(self, sums: dict[str, float | torch.Tensor]) -> dict[str, float]:
        """Added sums of the whole validation set -> metrics, at least ``val_loss`` (or the
        configured early-stopping metric), e.g. ``{"val_loss", "pixel_acc", "miou"}``."""
        ...


def metric_names_of(task: Any) -> tuple[str, ...]:
    """The task's ``metric_names`` (none when it declares none)."""
    return tuple(getattr(task, "metric_names", ()))


def batch_size_of(task: Any, batch: Any) -> int:
    """``task.batch_size_of(batch)`` when the task has it, else the first tensor's length."""
    own = getattr(task, "batch_size_of", None)
    return int(own(batch)) if callable(own) else _first_len(batch)


def _first_len(batch: Any) -> int:
    if torch.is_tensor(batch):
        return len(batch)
    if isinstance(batch, Mapping):
        return _first_len(next(iter(batch.values())))
    if isinstance(batch, (list, tuple)):
        return _first_len(batch[0])
    return 1
