"""Checkpoints: pickle-free round trips of optimiser / scheduler / RNG state, atomic writes."""
import random

import numpy as np
import pytest
import torch
from torch import nn

import colorclass.support.files as files
from colorclass.engine.checkpoint import (CheckpointError, atomic_write_bytes, capture_rng, load_checkpoint,
                                          load_weights, restore_rng, save_checkpoint, save_weights)

OPTIMIZERS = {
    "adam": lambda p: torch.optim.Adam(p, lr=1e-2),
    "adamw": lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=0.1),
    "sgd": lambda p: torch.optim.SGD(p, lr=1e-2, momentum=0.9),
    "rmsprop": lambda p: torch.optim.RMSprop(p, lr=1e-3, momentum=0.5),
}
SCHEDULERS = {
    "step": lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=1, gamma=0.5),
    "cosine": lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=5),
    "plateau": lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(o, mode="max", patience=0),
}


def _setup(opt_name, sched_name):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))
    opt = OPTIMIZERS[opt_name](model.parameters())
    return model, opt, SCHEDULERS[sched_name](opt)


def _steps(model, opt, sched, n, seed):
    g = torch.Generator().manual_seed(seed)
    for i in range(n):
        x = torch.randn(8, 3, generator=g)
        opt.zero_grad()
        model(x).square().mean().backward()
        opt.step()
        sched.step(-float(i)) if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau) else sched.step()


@pytest.mark.parametrize("opt_name", OPTIMIZERS)
@pytest.mark.parametrize("sched_name", SCHEDULERS)
def test_state_round_trip_continues_identically(tmp_path, opt_name, sched_name):
    """Save after 3 steps, load into fresh objects, take 3 more steps: bitwise equal to 6 steps."""
    ref = _setup(opt_name, sched_name)
    _steps(*ref, 3, seed=1)
    save_checkpoint(tmp_path / "c.safetensors", model_state=ref[0].state_dict(),
                    state={"optimizer": ref[1].state_dict(), "scheduler": ref[2].state_dict(), "epoch": 3})
    _steps(*ref, 3, seed=2)

    model, opt, sched = _setup(opt_name, sched_name)
    weights, state = load_checkpoint(tmp_path / "c.safetensors")
    model.load_state_dict(weights)
    opt.load_state_dict(state["optimizer"])
    sched.load_state_dict(state["scheduler"])
    assert state["epoch"] == 3
    _steps(model, opt, sched, 3, seed=2)
    for k, v in ref[0].state_dict().items():
        assert torch.equal(v, model.state_dict()[k]), k
    assert opt.param_groups[0]["lr"] == ref[1].param_groups[0]["lr"]


def test_nested_structures_and_rng_round_trip(tmp_path):
    state = {"tuple": (1, 2.5, "x"), "int_keys": {0: torch.arange(3), 7: None}, "inf": float("inf"),
             "nested": [{"a": torch.ones(2, 2, dtype=torch.float16)}], "rng": capture_rng()}
    save_checkpoint(tmp_path / "c.safetensors", model_state={}, state=state)
    _, back = load_checkpoint(tmp_path / "c.safetensors")
    assert back["tuple"] == (1, 2.5, "x") and back["inf"] == float("inf")
    assert torch.equal(back["int_keys"][0], torch.arange(3)) and back["int_keys"][7] is None
    assert back["nested"][0]["a"].dtype == torch.float16
    expected = (torch.rand(3), np.random.rand(3), random.random())
    restore_rng(back["rng"])
    assert torch.equal(torch.rand(3), expected[0])
    assert np.array_equal(np.random.rand(3), expected[1]) and random.random() == expected[2]


def test_objects_that_would_need_pickle_are_refused(tmp_path):
    with pytest.raises(CheckpointError, match="without pickle"):
        save_checkpoint(tmp_path / "c.safetensors", model_state={}, state={"fn": print})


def test_failed_write_keeps_previous_file_and_leaves_no_temp(tmp_path, monkeypatch):
    save_weights(tmp_path / "w.safetensors", {"w": torch.zeros(3)})

    def crash(src, dst):
        assert (tmp_path / src).is_file()   # the temporary file was fully written ...
        raise OSError("power cut (simulated)")  # ... but never renamed over the old one
    monkeypatch.setattr(files.os, "replace", crash)
    with pytest.raises(OSError, match="simulated"):
        save_weights(tmp_path / "w.safetensors", {"w": torch.ones(3)})
    assert torch.equal(load_weights(tmp_path / "w.safetensors")["w"], torch.zeros(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.safetensors"]


def test_truncated_or_foreign_files_give_clear_errors(tmp_path):
    save_checkpoint(tmp_path / "c.safetensors", model_state={"w": torch.ones(4)}, state={"epoch": 1})
    data = (tmp_path / "c.safetensors").read_bytes()
    atomic_write_bytes(tmp_path / "cut.safetensors", data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="unreadable"):
        load_checkpoint(tmp_path / "cut.safetensors")
    save_weights(tmp_path / "w.safetensors", {"w": torch.ones(4)})
    with pytest.raises(CheckpointError, match="not a colorclass checkpoint"):
        load_checkpoint(tmp_path / "w.safetensors")
    with pytest.raises(CheckpointError, match="nothing to resume"):
        load_checkpoint(tmp_path / "missing.safetensors")
