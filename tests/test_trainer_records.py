"""Trainer run records and a SIGKILL during training (moved from test_trainer.py, which keeps
the toy task, data and trainer helpers these tests use)."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from colorclass.runs.experiment import load_config
from colorclass.engine.checkpoint import load_checkpoint
from test_trainer import _weights_equal, config, trainer


def test_run_records(tmp_path):
    trainer(tmp_path, "train.epochs=1").fit()
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert {"colorclass_version", "git_revision", "torch_version", "device", "started"} <= set(meta)
    assert load_config(tmp_path / "config.toml") == config(tmp_path, "train.epochs=1")
    trainer(tmp_path, "train.epochs=2", resume=True).fit()
    meta2 = json.loads((tmp_path / "meta.json").read_text())
    assert meta2["started"] == meta["started"] and len(meta2["resumptions"]) == 1
    assert len((tmp_path / "command.txt").read_text().splitlines()) == 2


CHILD = """
import sys, time
sys.path.insert(0, {tests!r})
from pathlib import Path
from test_trainer import Hook, trainer
slow = [Hook(i, lambda t: time.sleep(0.15)) for i in range(1, 19)]
trainer(Path({run!r}), "train.checkpoint_every=2", callbacks=slow).fit()
"""


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")
def test_sigkill_then_resume_equals_uninterrupted(tmp_path):
    """kill -9 at an arbitrary moment (perhaps mid-checkpoint write): the checkpoint is whole,
    and the resumed run ends bitwise equal to an uninterrupted one."""
    run = tmp_path / "killed"
    code = CHILD.format(tests=str(Path(__file__).parent), run=str(run))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ckpt, deadline = run / "checkpoint.safetensors", time.time() + 60
    while not ckpt.is_file() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
    time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    _, state = load_checkpoint(ckpt)
    assert 2 <= state["iteration"] < 18 and not state["finished"]
    resumed = trainer(run, "train.checkpoint_every=2", resume=True)
    resumed.fit()
    full = trainer(tmp_path / "full", "train.checkpoint_every=2")
    full.fit()
    assert _weights_equal(full.raw_model.state_dict(), resumed.raw_model.state_dict())
