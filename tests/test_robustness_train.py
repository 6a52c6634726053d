"""Training into run folders: refused resumes change nothing, locks, overwrite, seeds, exit codes (issue 11)."""
import contextlib
import io
import shutil

import pytest
import torch

from colorclass.cli import main
from colorclass.runs.experiment import load_config
from colorclass.runs.loading import run_lock
from colorclass.training.train_run import initial_model
from test_robustness_corpus import build_corpus
from test_robustness_run import TRAIN_ARGS, build_tiny_run


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_run(tmp_path_factory)


def _main(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def _snapshot(folder):
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir()) if p.is_file()}


def _copy(tiny, tmp_path):
    dst = tmp_path / "run"
    shutil.copytree(tiny[2], dst, ignore=shutil.ignore_patterns(".lock"))
    return dst


@pytest.fixture(scope="module")
def other_bins(tiny, tmp_path_factory):
    other = tmp_path_factory.mktemp("other") / "other.npz"
    assert main(["fit-bins", str(tiny[1]), "-o", str(other), "--k", "6"]) == 0
    return other


@pytest.mark.parametrize("override, fragment", [
    ("bins.path={other}", "has 6 bins but the run"),
    ("model.width=16", "checkpoint weights do not fit"),
    ("model.name=fcn32s", "another architecture"),
    ("train.early_stop_metric=bogus", "bogus"),
])
def test_refused_resume_changes_nothing(tiny, other_bins, tmp_path, override, fragment):
    _, data, _ = tiny
    run = _copy(tiny, tmp_path)
    before = _snapshot(run)
    code, _, err = _main("train", "--resume", run, "--set", override.format(other=other_bins))
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and fragment in lines[0], err
    assert _snapshot(run) == before
    if "bins" not in override:
        return
    code, out, _ = _main("train", "--resume", run)             # the run still resumes
    assert code == 0 and "run already finished" in out and "resume with:" not in out
    assert _main("colorize", "--run", run, data, "-o", tmp_path / "o")[0] == 0


def test_second_training_into_a_locked_folder_is_refused(tiny, tmp_path):
    _, data, _ = tiny
    out = tmp_path / "busy"
    with run_lock(out):
        code, _, err = _main("train", "--data", data, *TRAIN_ARGS, "--out", out)
    assert code == 2 and "in use by another training" in err
    assert sorted(p.name for p in out.iterdir()) == [".lock"]


def test_folder_holding_a_run_without_checkpoint_is_refused_then_overwritten(tiny, tmp_path):
    root, data, original = tiny
    run = _copy(tiny, tmp_path)
    (run / "checkpoint.safetensors").unlink()
    before = _snapshot(run)
    argv = ["train", "--bins", root / "bins.npz", "--data", data, *TRAIN_ARGS, "--out", run]
    code, _, err = _main(*argv)
    assert code == 2 and "--overwrite" in err and _snapshot(run) == before
    code, out, _ = _main(*argv, "--overwrite")
    assert code == 0 and "resume with:" not in out
    # same seed, same data, CPU: bit-identical weights (the first run trained earlier in this process)
    assert (run / "model.safetensors").read_bytes() == (original / "model.safetensors").read_bytes()
    assert "resume with:" not in (root / "train_stdout.txt").read_text()


def test_initial_weights_follow_the_seed():
    cfg = load_config(None, ["model.width=4"])
    torch.manual_seed(123)
    a = initial_model(cfg, 8).state_dict()
    torch.rand(10)                                              # whatever ran before
    b = initial_model(cfg, 8).state_dict()
    c = initial_model(load_config(None, ["model.width=4", "train.seed=1"]), 8).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_interrupted_run_exits_130_with_the_resume_hint(tiny, tmp_path, monkeypatch):
    from colorclass.engine.trainer import Trainer

    root, data, _ = tiny
    run = tmp_path / "run"
    monkeypatch.setattr(Trainer, "_out_of_time", lambda self: self.request_stop("interrupted") or False)
    code, out, _ = _main("train", "--bins", root / "bins.npz", "--data", data, *TRAIN_ARGS,
                         "--set", "data.repeat=2", "--out", run)
    assert code == 130 and f"resume with: train-classifier --resume {run}" in out
    monkeypatch.undo()
    code, out, _ = _main("train", "--resume", run)
    assert code == 0 and "resume with:" not in out


@pytest.mark.parametrize("argv, fragment", [
    (["train", "--data", "{data}", "--set", "train.early_stop_metric=bogus", "--out", "{tmp}/r"], "bogus"),
    (["train", "--data", "{data}", "--lr", "inf", "--out", "{tmp}/r"], "--lr"),
    (["train", "--data", "{data}", "--max-minutes", "nan", "--out", "{tmp}/r"], "--max-minutes"),
    (["train", "--data", "{data}", "--out", "{tmp}/f.txt"], "is a file"),
    (["train", "--resume", "{tmp}/r", "--overwrite"], "only one"),
    (["train", "--data", "{data}", "--set", "model.name=fcn16s", "--set", "model.init_from={tmp}/e.safetensors",
      "--out", "{tmp}/r"], "not a readable safetensors file"),
    (["evaluate", "--run", "{run}", "{data}", "--temperature", "0"], "temperature"),
    (["evaluate", "--run", "{run}", "{data}", "--max-images", "-1"], "--max-images"),
])
def test_bad_training_options_are_one_line_before_any_work(tiny, tmp_path, argv, fragment):
    _, data, run = tiny
    (tmp_path / "f.txt").write_text("x")
    (tmp_path / "e.safetensors").write_bytes(b"")
    (tmp_path / "r").mkdir() if "--resume" in argv else None
    code, _, err = _main(*[a.format(data=data, tmp=tmp_path, run=run) for a in argv])
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and fragment in lines[0], err
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())


def test_train_over_the_corpus_skips_bad_files_with_reasons(tiny, tmp_path):
    root, _, _ = tiny
    folder, good, reasons = build_corpus(tmp_path)
    code, out, err = _main("train", "--bins", root / "bins.npz", "--data", folder, *TRAIN_ARGS,
                           "--out", tmp_path / "run")
    assert code == 0, err
    assert "skipped 9 training photos" in out                  # 7 bad files + 2 symlink loops
    for reason, n in reasons.items():
        assert f"{reason}: {n}" in out
    assert (tmp_path / "run" / "model.safetensors").is_file()
