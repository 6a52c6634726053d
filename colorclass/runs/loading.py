"""Run folders: everything about a trained (or training) run on disk, in one place.

    RUN_DIR/{config.toml, bins.npz, model.safetensors | best.safetensors, checkpoint.safetensors}
        -> *load_run* -> Run(model, bins, config, device, decode settings)
        -> colorize / evaluate / calibrate / reports / activations

Training uses the same helpers to build the network (``model_from_config``), to load weights
(``load_weights``, ``check_weights``: one-line errors when a run does not match itself), to
refuse a folder that already holds a run (``check_can_start``), to hold the folder while training
(``run_lock``: an exclusive lock on RUN_DIR/.lock) and to write the run's records
(``write_run_records``: config.toml, command.txt, meta.json).
"""
from __future__ import annotations

import contextlib
import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from colorclass.runs.experiment import ExperimentConfig, config_to_toml, load_config
from colorclass.decoding.rules import DEFAULT_METHOD, DEFAULT_TEMPERATURE
from colorclass.support.devices import resolve_device
from colorclass.support.files import atomic_write_text

__all__ = ["Run", "RunFolderError", "RUN_FILES", "load_run", "model_from_config", "load_weights",
           "holds_run", "check_can_start", "CALIBRATION_FILE", "read_calibration", "weights_path",
           "write_run_records", "git_revision", "check_weights", "run_lock"]

CALIBRATION_FILE = "calibration.json"
RUN_FILES = ("config.toml", "bins.npz", "model.safetensors", "best.safetensors", "checkpoint.safetensors")


class RunFolderError(ValueError):
    """A run folder is missing, incomplete or does not match itself (a user-facing error)."""


@dataclass
class Run:
    """A trained run loaded for inference.

    model: the network in eval mode on ``device``; bins: its ``quantize.Bins``; config: the
    run's ``ExperimentConfig``; regression: True for the L2 baseline (the network outputs ab);
    method / temperature: the run's decoding rule (calibrated when ``temperature_source`` says so).
    """

    model: torch.nn.Module
    bins: object
    config: ExperimentConfig
    device: torch.device
    regression: bool
    run_dir: Path | None = None
    method: str = DEFAULT_METHOD
    temperature: float = DEFAULT_TEMPERATURE
    temperature_source: str = "config"
    calibrated_on: str | None = None

    def decode_description(self) -> str:
        """e.g. "decode=annealed, T=0.31 (calibrated on DIR)"; says where the rule came from."""
        text = f"decode={self.method}" + (f", T={self.temperature:g}" if self.method == "annealed" else "")
        where = f"calibrated on {self.calibrated_on}" if self.temperature_source == "calibration" \
            else "from the run's config"
        return f"{text} ({where})"

    @property
    def network_size(self) -> int | None:
        """Shorter side the network runs at by default (None keeps the photo's size)."""
        return self.config.data.resize or None


def holds_run(run_dir: str | Path) -> bool:
    """True when ``run_dir`` holds any file of a run (config, bins, weights or checkpoint)."""
    run_dir = Path(run_dir)
    return run_dir.is_dir() and any((run_dir / name).exists() for name in RUN_FILES)


def check_can_start(run_dir: str | Path, *, resume: bool, overwrite: bool = False) -> None:
    """Refuse to start a new run in a folder that holds any run file (config, bins, weights or
    checkpoint) unless resuming it or ``overwrite`` is asked for; refuse a file as the folder."""
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise RunFolderError(f"--out {str(run_dir)!r} is a file, not a folder; choose another --out")
    if not resume and not overwrite and holds_run(run_dir):
        raise RunFolderError(f"run folder {str(run_dir)!r} already holds a run; continue it with "
                             f"--resume {run_dir}, replace it with --overwrite, or choose another --out")


@contextlib.contextmanager
def run_lock(run_dir: str | Path):
    """Hold an exclusive lock on ``run_dir/.lock`` (fcntl.flock) while training into it.

    A second training into the same folder gets a RunFolderError at once instead of mixing its
    files with the first one's. Non-POSIX systems (no fcntl) train without the lock.
    """
    run_dir = Path(run_dir)
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks here
        yield
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(run_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunFolderError(f"run folder {str(run_dir)!r} is in use by another training; wait for "
                                 "it to finish or choose another --out") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


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


def write_run_records(run_dir: Path, cfg: ExperimentConfig, *, command: str = "", resume: bool = False,
                      device: torch.device | str = "cpu", world: int = 1) -> None:
    """config.toml, command.txt (one line per session) and meta.json (versions, device; a
    resumed run keeps the first session's record and lists the resumptions)."""
    from colorclass import __version__

    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.toml", config_to_toml(cfg))
    with open(run_dir / "command.txt", "a" if resume else "w") as f:
        f.write((command or shlex.join(sys.argv)) + "\n")
    session = {"colorclass_version": __version__, "git_revision": git_revision(),
               "torch_version": torch.__version__, "device": str(device), "world_size": world,
               "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    meta_path = run_dir / "meta.json"
    if resume and meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        meta["resumed"] = True
        meta.setdefault("resumptions", []).append(session)
    else:
        meta = {**session, "resumed": False}
    atomic_write_text(meta_path, json.dumps(meta, indent=2))


def model_from_config(cfg: ExperimentConfig, n_bins: int) -> torch.nn.Module:
    """The network of ``cfg.model`` with Q = ``n_bins`` outputs (2 for the MSE baseline)."""
    from colorclass.models import build_model

    m = cfg.model
    extra = {"depth": m.depth} if m.depth else {}
    if m.head_kernel:   # only non-default options are passed, so older model names keep working
        extra["head_kernel"] = m.head_kernel
    if m.output_stride != 1:
        extra["output_stride"] = m.output_stride
    return build_model(m.name, out_channels=2 if cfg.loss.name == "mse" else n_bins, width=m.width,
                       kernel_size=m.kernel_size, **extra)


def weights_path(run_dir: str | Path) -> Path:
    """The weights a run is used with: ``best.safetensors`` when present, else ``model.safetensors``."""
    run_dir = Path(run_dir)
    best = run_dir / "best.safetensors"
    return best if best.is_file() else run_dir / "model.safetensors"


def load_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a ``.safetensors`` file, or of a run folder's ``model.safetensors``."""
    from safetensors.torch import load_file

    p = Path(path)
    if p.is_dir():
        p = p / "model.safetensors"
    if not p.is_file():
        raise FileNotFoundError(f"{str(path)!r}: no weights found; pass a run folder or a .safetensors file")
    try:
        tensors = load_file(str(p))
    except OSError:
        raise
    except Exception as e:  # 0-byte, truncated, a pickle in a .safetensors slot, ...
        raise RunFolderError(f"{str(p)!r} is not a readable safetensors file ({_short(e)}); "
                             "retrain, or restore the file from a backup") from None
    if not tensors:
        raise RunFolderError(f"{str(p)!r} holds no tensors; retrain, or restore the file from a backup")
    return tensors


def _short(e: BaseException) -> str:
    return (str(e).splitlines() or [type(e).__name__])[0][:200]


def check_weights(model: torch.nn.Module, state: dict[str, torch.Tensor], *, source: str,
                  n_bins: int | None = None, bins_name: str = "bins.npz") -> None:
    """Raise a one-line RunFolderError when ``state`` does not fit ``model``.

    Output-layer mismatches name the bins ("bins.npz has 8 bins but the weights expect 24");
    missing/unexpected tensors or other shapes say the weights are of another architecture.
    """
    from colorclass.models import state_dict_differences
    missing, unexpected, wrong = state_dict_differences(state, model.state_dict())
    if missing or unexpected:
        raise RunFolderError(f"{source} are for another architecture: {len(missing)} tensors missing "
                             f"(e.g. {missing[:2]}), {len(unexpected)} unexpected (e.g. {unexpected[:2]}); "
                             "check model.name / model.width / model.depth in the config")
    if not wrong:
        return
    out = [(k, want, got) for k, want, got in wrong if n_bins is not None and want[:1] == (n_bins,)
           and len(got) == len(want) and got[1:] == want[1:]]
    if out and len(out) == len(wrong):
        k, want, got = out[0]
        raise RunFolderError(f"{bins_name} has {n_bins} bins but the {source} expect {got[0]}; "
                             "use the bins the weights were trained with")
    k, want, got = wrong[0]
    raise RunFolderError(f"{source} do not fit the configured network: {k} has shape {list(got)}, "
                         f"the network expects {list(want)}; check the model settings in the config")


def _check_finite(state: dict[str, torch.Tensor], source: str) -> None:
    """Weights with NaN or inf would colourise every photo with garbage: refuse them."""
    for k, v in state.items():
        if v.is_floating_point() and not bool(torch.isfinite(v).all()):
            raise RunFolderError(f"{source} are not finite (NaN or inf in {k}); the training diverged: "
                                 "use an earlier checkpoint or retrain with a lower learning rate")


def _require_files(run_dir: Path) -> None:
    if not run_dir.is_dir():
        raise RunFolderError(f"run folder {str(run_dir)!r} does not exist; train one with "
                             "`train-classifier` or `colorclass demo`")
    for name in ("config.toml", "bins.npz", "model.safetensors"):
        if not (run_dir / name).is_file():
            raise FileNotFoundError(f"run folder {str(run_dir)!r} has no {name}; "
                                    "train one with `train-classifier` or `colorclass demo`")


def read_calibration(run_dir: str | Path) -> dict | None:
    """RUN/calibration.json ({"method", "temperature", "metric", "data", ...}) or None."""
    from colorclass.decoding.rules import METHODS, check_temperature

    path = Path(run_dir) / CALIBRATION_FILE
    if not path.is_file():
        return None
    try:
        cal = json.loads(path.read_text())
        if cal["method"] not in METHODS:
            raise ValueError(cal["method"])
        cal["temperature"] = check_temperature(cal["temperature"])
    except (ValueError, KeyError, TypeError) as e:
        raise RunFolderError(f"{str(path)!r} is not a valid calibration ({e}); run `colorclass calibrate` "
                             "again or delete it") from None
    return cal


def load_run(run_dir: str | Path, *, device: str = "auto") -> Run:
    """Load config, bins and weights (safetensors) of a run folder, ready for inference."""
    import quantize

    run_dir = Path(run_dir)
    _require_files(run_dir)
    cfg = load_config(str(run_dir / "config.toml"), [])
    try:
        bins = quantize.load_bins(run_dir / "bins.npz")
    except (ValueError, KeyError, EOFError) as e:
        raise RunFolderError(f"{str(run_dir / 'bins.npz')!r} is unreadable ({_short(e)}); "
                             "restore it or retrain") from None
    model = model_from_config(cfg, bins.n_bins)
    wpath = weights_path(run_dir)
    state = load_weights(wpath)
    check_weights(model, state, source=f"weights in {wpath.name}", n_bins=bins.n_bins)
    _check_finite(state, f"weights in {wpath.name}")
    model.load_state_dict(state)
    dev = resolve_device(device)
    run = Run(model.to(dev).eval(), bins, cfg, dev, cfg.loss.name == "mse", run_dir,
              cfg.decode.method, cfg.decode.temperature)
    cal = None if run.regression else read_calibration(run_dir)
    if cal is not None:
        run.method, run.temperature = cal["method"], cal["temperature"]
        run.temperature_source, run.calibrated_on = "calibration", str(cal.get("data", "?"))
        print(f"run {run_dir}: {run.decode_description()}")
    return run
