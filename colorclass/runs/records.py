"""Run records: what a training run writes about itself (config.toml, command.txt, meta.json).

    ExperimentConfig + command + device -> *write_run_records* -> RUN/{config.toml, command.txt, meta.json}
"""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import torch

from colorclass.runs.experiment import ExperimentConfig, config_to_toml
from colorclass.support.files import atomic_write_text
from colorclass.support.records import read_json

__all__ = ["write_run_records", "git_revision", "undo_failed_start", "remove_empty_run_dir"]


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


def _check_meta(meta) -> None:
    if not isinstance(meta, dict) or not isinstance(meta.get("resumptions", []), list):
        raise ValueError("not a JSON object with a list of resumptions")


def write_run_records(run_dir: Path, cfg: ExperimentConfig, *, command: str = "", resume: bool = False,
                      device: torch.device | str = "cpu", world: int = 1) -> None:
    """config.toml, command.txt (one line per session) and meta.json (versions, device; a
    resumed run keeps the first session's record and lists the resumptions)."""
    from colorclass import __version__

    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.toml", config_to_toml(cfg))
    try:
        with open(run_dir / "command.txt", "a" if resume else "w") as f:
            f.write((command or shlex.join(sys.argv)) + "\n")
    except OSError as e:   # a full disk names no file: name it
        if e.filename is None:
            raise OSError(e.errno, e.strerror or str(e), str(run_dir / "command.txt")) from e
        raise
    session = {"colorclass_version": __version__, "git_revision": git_revision(),
               "torch_version": torch.__version__, "device": str(device), "world_size": world,
               "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    meta_path = run_dir / "meta.json"
    if resume and meta_path.is_file():
        meta = read_json(meta_path, what="run record", check=_check_meta,
                         fix="move it away and resume again (a fresh record is written)")
        meta["resumed"] = True
        meta.setdefault("resumptions", []).append(session)
    else:
        meta = {**session, "resumed": False}
    atomic_write_text(meta_path, json.dumps(meta, indent=2))


def undo_failed_start(run_dir: Path, before: set[str], records: tuple[str, ...]) -> None:
    """A start that failed before training (no photos, bad bins, Ctrl-C while fitting bins)
    removes the run records it wrote, so that the same command can simply be run again; files
    that were there before, and anything not named like a run's record, are kept."""
    import shutil

    if not run_dir.is_dir():
        return
    for name in sorted(set(os.listdir(run_dir)) - before):
        if name not in records:
            continue
        path = run_dir / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def remove_empty_run_dir(run_dir: Path) -> None:
    """Remove a run folder this start created when only its lock file is left in it."""
    try:
        if set(os.listdir(run_dir)) <= {".lock"}:
            (run_dir / ".lock").unlink(missing_ok=True)
            run_dir.rmdir()
    except OSError:
        pass
