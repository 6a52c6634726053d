"""A training run killed with SIGKILL resumes with --resume and finishes (issue 5)."""
import os
import signal
import subprocess
import sys
import time

import pytest

from colorclass.engine.checkpoint import load_checkpoint
from test_cli import make_photos


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")
def test_sigkill_then_resume_finishes(tmp_path):
    data = make_photos(tmp_path / "photos", 8)
    run = tmp_path / "run"
    argv = [sys.executable, "-m", "colorclass", "train", "--data", str(data), "--val-fraction", "0.25",
            "--epochs", "3", "--batch-size", "2", "--crop-size", "32", "--width", "8", "--out", str(run),
            "--set", "data.repeat=20", "--set", "train.checkpoint_every=5", "--set", "bins.k=8"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt = run / "checkpoint.safetensors"
    deadline = time.time() + 120
    while not ckpt.is_file() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "training ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    _, state = load_checkpoint(ckpt)  # whatever moment the kill hit, the checkpoint is whole
    assert not state["finished"] and state["iteration"] < 180
    done = subprocess.run([sys.executable, "-m", "colorclass", "train", "--resume", str(run)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "resuming" in done.stdout
    _, state = load_checkpoint(ckpt)
    assert state["finished"] and state["epoch"] == 3 and state["iteration"] == 180  # 6 photos x 20 crops / 2 x 3 epochs
    assert (run / "model.safetensors").is_file() and (run / "report.html").is_file()
