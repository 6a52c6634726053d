"""Robustness round 3 (issue 21), sizes and files that lie: every size-like value is bounded
(support.limits) where it enters; every small file read back goes through support.records
(size, nesting, numbers, schema, one line naming the file); weights of the wrong dtype, a NaN
loss before the first checkpoint, a full disk, FIFOs and leading-dash names."""
import errno
import os
import shutil
import types

import numpy as np
import pytest
from evalrun import run_main
import torch
from safetensors.torch import save_file
from test_robustness_run import TRAIN_ARGS, build_tiny_run

from colorclass.support import limits
from colorclass.support.errors import ColorclassError, InputFileError

LIES = {                                   # name -> JSON text of a file that lies
    "digits": '{"mean_ab": [' + "9" * 400 + ', 1], "method": "annealed", "temperature": ' + "1" * 400 + "}",
    "deep": "[" * 100_000 + "]" * 100_000,
    "no_field": '{"n_pixels": 3}',
    "nan": '{"mean_ab": [NaN, 1.0], "method": "annealed", "temperature": NaN}',
    "huge": '{"mean_ab": [1e308, 1.0], "method": "annealed", "temperature": 1e400}',
    "text": '{"mean_ab": ["red", "green"], "method": "annealed", "temperature": "warm"}',
    "bool": '{"mean_ab": [true, false], "method": "annealed", "temperature": true}',
    "binary": "\x00\x01\x02PK",
}


_main = run_main   # colorclass.cli.main in this process: (code, stdout, stderr)


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip() and "%|" not in line]
    assert len(lines) == 1, err
    assert "Traceback" not in err and "internal error" not in err, err
    return lines[0]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_run(tmp_path_factory)


def _copy(run, tmp_path, name="run"):
    dst = tmp_path / name
    shutil.copytree(run, dst, ignore=shutil.ignore_patterns(".lock"))
    return dst


# ----------------------------------------------------------------------------- class 7: sizes

@pytest.mark.parametrize("argv, fragment", [
    (["train", "--data", ".", "--crop-size", "100000"], "--crop-size 100000 is over the limit of 1024"),
    (["train", "--data", ".", "--set", "data.resize=20000"], "data.resize: 20000 is over the limit of 4096"),
    (["train", "--data", ".", "--width", "100000"], "--width 100000 is over the limit"),
    (["train", "--data", ".", "--crop-size", "1024", "--batch-size", "64"], "pixels a batch is over the limit"),
    (["train", "--data", ".", "--set", "bins.family=gmm", "--set", "bins.k=1000"], "bins.k"),
    (["fit-bins", ".", "-o", "b.npz", "--family", "gmm", "--k", "1000"], "--k for --family gmm 1000 is over"),
    (["fit-bins", ".", "-o", "b.npz", "--k", "100000"], "is over the limit of 1024"),
    (["fit-bins", ".", "-o", "b.npz", "--family", "grid", "--grid-step", "0.01"], "--grid-step 0.01 is under"),
    (["fit-bins", ".", "-o", "b.npz", "--max-pixels", "10000000000"], "--max-pixels"),
    (["summary", "--size", "100000"], "--size 100000 is over the limit of 4096"),
    (["summary", "--batch", "100000"], "--batch 100000 is over the limit"),
    (["summary", "--size", "4096", "--batch", "2"], "pixels a batch is over the limit"),
    (["summary", "--bins", "100000"], "--bins 100000 is over"),
])
def test_size_like_values_are_bounded_before_any_work(argv, fragment, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = _main(*argv)
    assert code == 2 and fragment in _one_line(err)
    assert sorted(os.listdir(tmp_path)) == []          # nothing written, nothing started


def test_summary_library_call_is_bounded_too():
    from colorclass.models import build_model, summarize

    with pytest.raises(ColorclassError, match="over the limit"):
        summarize(build_model("cnn", out_channels=4, width=4), size=4096, batch=2, measure=False)


def test_a_long_gmm_fit_honours_its_time_budget():
    import quantize

    pixels = np.random.default_rng(0).integers(0, 256, (3000, 3), dtype=np.uint8)
    bins = quantize.fit_bins(quantize.make_bins("gmm", k=8), pixels, with_prior=False, progress=False,
                             max_fit_seconds=0.0)
    assert bins.meta["fit"]["stopped_by"] == "time budget" and bins.meta["fit"]["iterations"] == 1
    bins.to_npz_bytes()                                        # the record is plain JSON
    full = quantize.fit_bins(quantize.make_bins("gmm", k=8), pixels, with_prior=False, progress=False)
    assert full.meta["fit"]["stopped_by"] == "converged" and full.meta["fit"]["iterations"] > 1


# ----------------------------------------------------------------------------- class 9, 12: files that lie

@pytest.mark.parametrize("lie", sorted(LIES))
def test_data_stats_that_lie_are_one_line_naming_the_file(lie, tmp_path):
    from colorclass.evaluation.baselines import run_mean_ab

    (tmp_path / "data_stats.json").write_text(LIES[lie])
    run = types.SimpleNamespace(run_dir=tmp_path, config=None)
    with pytest.raises(InputFileError) as e:
        run_mean_ab(run)
    assert str(tmp_path / "data_stats.json") in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("lie", sorted(LIES))
def test_calibration_and_card_that_lie_are_refused(lie, tmp_path):
    from colorclass.builtin import read_card
    from colorclass.runs.loading import read_calibration

    (tmp_path / "calibration.json").write_text(LIES[lie])
    with pytest.raises(InputFileError, match="calibration.json"):
        read_calibration(tmp_path)
    card = LIES[lie].replace('"temperature"', '"calibrated_temperature"').replace('"method"', '"decode_method"')
    (tmp_path / "card.json").write_text(card)
    if lie == "no_field":                                # a card's fields are optional
        assert read_card(tmp_path / "card.json") == {"n_pixels": 3}
        return
    with pytest.raises(InputFileError, match="card.json"):
        read_card(tmp_path / "card.json")


def test_temperature_true_is_refused_everywhere(tmp_path):
    from colorclass.runs.experiment import load_config

    (tmp_path / "c.toml").write_text("[decode]\ntemperature = true\n")
    with pytest.raises(ColorclassError, match="decode.temperature"):
        load_config(tmp_path / "c.toml")
    with pytest.raises(ColorclassError, match="decode.temperature"):
        load_config(None, ["decode.temperature=true"])


def test_a_run_with_lying_files_is_one_line(tiny, tmp_path):
    _, data, run = tiny
    run = _copy(run, tmp_path)
    (run / "data_stats.json").write_text('{"mean_ab": ["a", "b"]}')
    code, _, err = _main("evaluate", data, "--run", run, "--baselines", "mean", "-o", tmp_path / "m.json",
                         "--device", "cpu")
    assert code == 2 and "data_stats.json" in _one_line(err) and str(run) in err
    (run / "data_stats.json").unlink()
    (run / "calibration.json").write_text('{"method": "annealed", "temperature": ' + "1" * 400 + "}")
    code, _, err = _main("colorize", "--run", run, data, "-o", tmp_path / "out")
    assert code == 2 and "calibration.json" in _one_line(err) and "400 characters" in err


@pytest.mark.parametrize("content", [b"\x00\x89PNG\x01" * 100, b"epoch,iteration\n1," + b"9" * 200_000 + b"\n",
                                     b"epoch,iteration\n1," + b"x" * 10_000 + b"\n", b"\xff\xfe" * 50])
def test_plot_of_a_log_that_lies_names_the_file(tiny, tmp_path, content):
    run = _copy(tiny[2], tmp_path)
    (run / "log.csv").write_bytes(content)
    code, _, err = _main("plot", run)
    assert code == 2 and "log.csv" in _one_line(err) and str(run) in err


def test_plot_of_a_fifo_log_is_not_a_regular_file(tiny, tmp_path):
    run = _copy(tiny[2], tmp_path)
    (run / "log.csv").unlink()
    os.mkfifo(run / "log.csv")
    code, _, err = _main("plot", run)
    assert code == 2 and "not a regular file" in _one_line(err)


def test_meta_json_that_lies_is_refused_on_resume(tmp_path):
    from colorclass.runs.experiment import ExperimentConfig
    from colorclass.runs.records import write_run_records

    (tmp_path / "meta.json").write_text("[" * 10_000 + "]" * 10_000)
    with pytest.raises(InputFileError, match="meta.json"):
        write_run_records(tmp_path, ExperimentConfig(out=str(tmp_path)), resume=True)


@pytest.mark.parametrize("dtype", [torch.int8, torch.bool, torch.int32])
def test_weights_must_be_floating_point(tiny, tmp_path, dtype):
    from colorclass.runs.loading import RunFolderError, load_weights

    _, data, run = tiny
    run = _copy(run, tmp_path)
    (run / "best.safetensors").unlink(missing_ok=True)
    state = load_weights(run / "model.safetensors")
    first = sorted(k for k in state if k.endswith("weight"))[0]
    state[first] = state[first].to(dtype)
    save_file(state, str(run / "model.safetensors"))
    with pytest.raises(RunFolderError, match=str(dtype).replace("torch.", "")):
        load_weights(run / "model.safetensors")
    code, _, err = _main("colorize", "--run", run, data, "-o", tmp_path / "out")
    assert code == 2 and "floating point" in _one_line(err) and first in err


# ----------------------------------------------------------------------------- class 13, 14

def test_nan_loss_before_the_first_checkpoint_says_there_is_none(tiny, tmp_path, monkeypatch):
    from colorclass.training.colorization_task import ColorizationTask

    root, data, _ = tiny
    real = ColorizationTask.training_loss

    def nan_loss(self, model, batch):
        loss, logs = real(self, model, batch)
        return loss * float("nan"), logs

    monkeypatch.setattr(ColorizationTask, "training_loss", nan_loss)
    out = tmp_path / "run"
    code, _, err = _main("train", "--bins", root / "bins.npz", "--data", data, *TRAIN_ARGS, "--out", out)
    line = _one_line(err)
    assert code == 1 and "no checkpoint" in line and "--overwrite" in line and "intact" not in line
    assert not (out / "checkpoint.safetensors").exists()


def test_a_full_disk_names_the_file(tiny, tmp_path, monkeypatch):
    run = _copy(tiny[2], tmp_path)

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    code, _, err = _main("plot", run)
    assert code == 1 and f"{run / 'loss.png'}: No space left on device" in _one_line(err)
    assert not [p for p in run.iterdir() if ".tmp" in p.name]


def test_fifos_and_devices_are_not_regular_files(tiny, tmp_path):
    from colorclass.photos import load_rgb
    from colorclass.photos.read import UnreadableImage

    folder = tmp_path / "photos"
    folder.mkdir()
    os.mkfifo(folder / "pipe.png")
    for path in (folder / "pipe.png", "/dev/null"):
        with pytest.raises(UnreadableImage) as e:
            load_rgb(path)
        assert e.value.reason == "not a regular file"
    code, out, err = _main("colorize", "--run", tiny[2], folder / "pipe.png", "-o", tmp_path / "out")
    assert code == 1 and "not a regular file: 1" in out and "empty file" not in out + err
    code, out, _ = _main("data", folder)
    assert code == 0 and "not a regular file: 1" in out


@pytest.mark.parametrize("argv", [["colorize"], ["fit-bins", "-o", "b.npz"], ["evaluate"], ["data"]])
def test_a_leading_dash_name_gets_a_hint(argv, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "-photos").mkdir()
    code, _, err = _main(*argv, "-photos")
    assert code == 2 and "put paths after --" in _one_line(err) and "-- -photos" in err


def test_limits_are_documented_in_one_home():
    for name in ("MAX_CROP_SIZE", "MAX_RESIZE", "MAX_GMM_K", "MAX_BATCH_PIXELS", "MAX_RECORD_BYTES",
                 "MAX_JSON_DEPTH", "MAX_NUMBER_DIGITS", "MAX_CSV_FIELD"):
        assert name in limits.__all__ and isinstance(getattr(limits, name), (int, float))
    assert limits.MAX_GMM_K <= limits.MAX_BINS and limits.CONFIG_BOUNDS["data.resize"] == limits.MAX_RESIZE
