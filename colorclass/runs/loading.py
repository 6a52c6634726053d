"""Run folders: everything about a trained (or training) run on disk, in one place.

    RUN_DIR/{config.toml, bins.npz, model.safetensors | best.safetensors, checkpoint.safetensors}
        -> *load_run* -> Run(model, bins, config, device) -> inference.predictor.Predictor
        -> colorize / evaluate / calibrate / reports / activations

Training uses the same helpers to build the network (``model_from_config``), to load weights
(``load_weights``, ``check_weights``: one-line errors when a run does not match itself), to
refuse a folder that already holds a run (``check_can_start``), to hold the folder while training
(``run_lock``: an exclusive lock on RUN_DIR/.lock); its records are written by ``runs.records``.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from colorclass.runs.experiment import ExperimentConfig, load_config
from colorclass.support.devices import resolve_device
from colorclass.support.errors import InputFileError

__all__ = ["Run", "RunFolderError", "RUN_FILES", "load_run", "model_from_config", "load_weights",
           "holds_run", "check_can_start", "CALIBRATION_FILE", "read_calibration", "weights_path",
           "check_weights", "run_lock", "IGNORED_ENTRIES"]

CALIBRATION_FILE = "calibration.json"
RUN_FILES = ("config.toml", "bins.npz", "model.safetensors", "best.safetensors", "checkpoint.safetensors")


class RunFolderError(InputFileError):
    """A run folder is missing, incomplete or does not match itself (a user-facing error)."""


@dataclass
class Run:
    """A trained run loaded for inference (decoding settings are resolved by the Predictor).

    model: the network in eval mode on ``device``; bins: its ``quantize.Bins``; config: the
    run's ``ExperimentConfig``; regression: True for the L2 baseline (the network outputs ab).
    """

    model: torch.nn.Module
    bins: Any
    config: ExperimentConfig
    device: torch.device
    regression: bool
    run_dir: Path | None = None


# entries of a folder that do not make it "a user's folder": our lock, file-manager droppings
IGNORED_ENTRIES = (".lock", ".DS_Store", "Thumbs.db", "desktop.ini")


def holds_run(run_dir: str | Path) -> bool:
    """True when ``run_dir`` holds any file of a run (config, bins, weights or checkpoint)."""
    run_dir = Path(run_dir)
    return run_dir.is_dir() and any((run_dir / name).exists() for name in RUN_FILES)


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_can_start(run_dir: str | Path, *, resume: bool, overwrite: bool = False,
                    data: tuple[tuple[str, str | Path | None], ...] = ()) -> None:
    """Refuse, before any work: a file as the folder; a folder that is, or lies inside, a
    training data folder of ``data`` (("data.train", path), ...; paths resolved) -- even with
    ``overwrite``; unless resuming, a folder that holds a run (any run file) or any other file
    (a user's folder: a run's records would be written among them), unless ``overwrite``."""
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise RunFolderError(f"--out {str(run_dir)!r} is a file, not a folder; choose another --out")
    out_real = run_dir.resolve()
    for what, folder in data:
        if folder and _inside(out_real, Path(folder).resolve()):
            where = "is" if out_real == Path(folder).resolve() else "is inside"
            raise RunFolderError(f"--out {str(run_dir)!r} {where} the training photos' folder {what}={str(folder)!r} "
                                 "(the run's files would be read as photos); choose an --out outside it")
    if resume or overwrite or not run_dir.is_dir():
        return
    if holds_run(run_dir):
        raise RunFolderError(f"run folder {str(run_dir)!r} already holds a run; continue it with "
                             f"--resume {run_dir}, replace it with --overwrite, or choose another --out")
    others = sorted(name for name in os.listdir(run_dir) if name not in IGNORED_ENTRIES)
    if others:
        raise RunFolderError(f"--out {str(run_dir)!r} is not empty and holds no run ({len(others)} entries, e.g. "
                             f"{others[0]!r}); choose a new or empty folder, or pass --overwrite to write the run "
                             "among those files (only files named like a run's records are replaced)")


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


def model_from_config(cfg: ExperimentConfig, n_bins: int) -> torch.nn.Module:
    """The network of ``cfg.model`` with Q = ``n_bins`` outputs (2 for the MSE baseline)."""
    from colorclass.models import build_model

    m = cfg.model
    extra = {"depth": m.depth} if m.depth else {}
    if m.head_kernel:   # only non-default options are passed, so older model names keep working
        extra["head_kernel"] = m.head_kernel
    if m.output_stride != 1:
        extra["output_stride"] = m.output_stride
    if m.global_context:
        extra["global_context"] = True
    if m.hints:   # L + the hint planes [a/110, b/110, mask] (colorclass.hints.points.HINT_CHANNELS)
        extra["in_channels"] = 4
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
    for k, v in tensors.items():   # the network's own dtypes are checked by check_weights
        want = "integer" if k.endswith("num_batches_tracked") else "floating point"
        if _dtype_family(v) != want:
            raise RunFolderError(f"{str(p)!r} holds {k} as {v.dtype}; colorclass weights are {want} "
                                 "(quantised or converted weights are not read): use the run's own weights "
                                 "or retrain")
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
        _check_dtypes(model, state, source)
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


def _dtype_family(t: torch.Tensor) -> str:
    return "bool" if t.dtype == torch.bool else "floating point" if t.is_floating_point() else \
        "complex" if t.is_complex() else "integer"


def _check_dtypes(model: torch.nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Each tensor must be of the dtype family the network expects: floating point for weights
    (int8, bool or integer weights would be cast silently into nonsense), integer for counters
    such as BatchNorm's num_batches_tracked."""
    from colorclass.models.common import unwrap_state_dict

    expected = model.state_dict()
    for k, v in unwrap_state_dict(state).items():
        want, got = _dtype_family(expected[k]), _dtype_family(v)
        if want != got:
            raise RunFolderError(f"{source} hold {k} as {v.dtype} ({got}), the network expects {want} "
                                 f"({expected[k].dtype}); these are not weights colorclass wrote (quantised or "
                                 "converted?): use the run's own float weights or retrain")


def _check_finite(state: dict[str, torch.Tensor], source: str) -> None:
    """Weights with NaN or inf would colourise every photo with garbage: refuse them."""
    for k, v in state.items():
        if v.is_floating_point() and not bool(torch.isfinite(v).all()):
            raise RunFolderError(f"{source} are not finite (NaN or inf in {k}); the training diverged: "
                                 "use an earlier checkpoint or retrain with a lower learning rate")


def require_run_files(run_dir: Path) -> None:
    """RunFolderError / FileNotFoundError naming what is missing from a run folder."""
    if not run_dir.is_dir():
        raise RunFolderError(f"run folder {str(run_dir)!r} does not exist; train one with "
                             "`train-classifier` or `colorclass demo`")
    for name in ("config.toml", "bins.npz", "model.safetensors"):
        if not (run_dir / name).is_file():
            raise FileNotFoundError(f"run folder {str(run_dir)!r} has no {name}; "
                                    "train one with `train-classifier` or `colorclass demo`")


def read_calibration(run_dir: str | Path) -> dict | None:
    """RUN/calibration.json ({"method", "temperature", "metric", "data", ...}) or None.

    Read with ``support.records.read_json`` (a regular file of at most MAX_RECORD_BYTES, bounded
    nesting and numbers) and checked: method a known name, temperature a number (not a bool); the
    temperature's range is checked with every other source by ``inference.settings``."""
    from colorclass.decoding.rules import METHODS
    from colorclass.support.records import number, read_json, text_field

    path = Path(run_dir) / CALIBRATION_FILE
    if not os.path.lexists(path):
        return None

    def check(cal) -> None:
        text_field(cal, "method", choices=METHODS)
        number(cal, "temperature")

    return read_json(path, what="calibration", check=check,
                     fix="run `colorclass calibrate` again or delete it")


def load_run(run_dir: str | Path, *, device: str = "auto") -> Run:
    """Load config, bins and weights (safetensors) of a run folder, ready for inference."""
    import quantize

    run_dir = Path(run_dir)
    require_run_files(run_dir)
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
    run = Run(model.to(dev).eval(), bins, cfg, dev, cfg.loss.name == "mse", run_dir)
    return run
