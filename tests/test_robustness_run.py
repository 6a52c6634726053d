"""colorize and run folders over bad inputs: a user's files are never lost (issue 11)."""
import contextlib
import errno
import io
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from colorclass.cli import main
from colorclass.support.limits import MAX_LONG_SIDE, MAX_NETWORK_PIXELS, capped_size
from colorclass.runs.loading import RunFolderError, load_run, load_weights
from test_cli import make_photos
from test_robustness_corpus import BAD_NAME, build_corpus


TRAIN_ARGS = ["--val-fraction", "0.25", "--epochs", "1", "--batch-size", "2", "--crop-size", "16",
              "--width", "4", "--set", "data.resize=16"]


def build_tiny_run(tmp_path_factory):
    """(root, photos, run folder) of one tiny trained run, built once per session (first caller)."""
    root = tmp_path_factory.getbasetemp() / "robust-tiny"
    data, bins, run = root / "train", root / "bins.npz", root / "run"
    if not (root / "done").is_file():
        shutil.rmtree(root, ignore_errors=True)
        make_photos(data, 4, size=(24, 28))
        assert main(["fit-bins", str(data), "-o", str(bins), "--k", "8"]) == 0
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(["train", "--bins", str(bins), "--data", str(data), *TRAIN_ARGS, "--out", str(run)]) == 0
        (root / "train_stdout.txt").write_text(out.getvalue())
        (root / "done").write_text("")
    return root, data, run


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_run(tmp_path_factory)


def _colorize(run, *args, subprocess_=False):
    """colorize in this process (fast; an escaping exception fails the test) or in a new one."""
    argv = ["colorize", "--run", str(run), *map(str, args)]
    if subprocess_:
        proc = subprocess.run([sys.executable, "-m", "colorclass", *argv], capture_output=True, text=True,
                              timeout=300)
        assert "Traceback" not in proc.stderr, proc.stderr
        return proc
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


def test_colorize_corpus_keeps_paths_formats_and_counts(tiny, tmp_path):
    _, _, run = tiny
    folder, good, _ = build_corpus(tmp_path)
    out = tmp_path / "out"
    proc = _colorize(run, folder, "-o", out, subprocess_=True)
    assert proc.returncode == 0, proc.stderr
    assert "colourised 14 photo(s)" in proc.stdout              # colourless photos are colourised too
    for reason in ("empty file: 1", "not an image: 1", "corrupt: 2", "symlink loop"):
        assert reason in proc.stdout
    assert (out / "plain.png").is_file() and (out / "sub" / "plain.png").is_file()
    assert (out / "photo.jpg").is_file() and not (out / "photo.png").exists()    # JPEG in -> JPEG out
    assert Image.open(out / "photo.jpg").format == "JPEG"
    assert (out / BAD_NAME).is_file()
    assert Image.open(out / "rotated.jpg").size == (20, 30)
    assert Image.open(out / "wide.png").size == (400, 10)
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]


def test_evaluate_over_the_corpus(tiny, tmp_path):
    _, _, run = tiny
    folder, _, _ = build_corpus(tmp_path)
    code = main(["evaluate", "--run", str(run), str(folder), "-o", str(tmp_path / "m.json")])
    assert code == 0 and (tmp_path / "m.json").is_file()


def test_colorize_refuses_inputs_and_existing_outputs(tiny, tmp_path):
    _, data, run = tiny
    before = {p.name: p.read_bytes() for p in data.iterdir()}
    proc = _colorize(run, data, "-o", data)
    assert proc.returncode == 2 and "input folder" in proc.stderr
    assert {p.name: p.read_bytes() for p in data.iterdir()} == before
    one = tmp_path / "x.png"
    shutil.copy(data / "photo_00.png", one)
    assert _colorize(run, one, "-o", tmp_path).returncode == 2     # x.png -> x.png is the input
    out = tmp_path / "out"
    assert _colorize(run, data, "-o", out).returncode == 0
    mark = out / "photo_00.png"
    mark.write_bytes(b"mine")
    proc = _colorize(run, data, "-o", out)
    assert proc.returncode == 2 and "--overwrite" in proc.stderr and mark.read_bytes() == b"mine"
    assert _colorize(run, data, "-o", out, "--overwrite", "--format", "jpg").returncode == 0
    assert mark.read_bytes() == b"mine" and (out / "photo_00.jpg").is_file()
    assert _colorize(run, data, "-o", out, "--overwrite").returncode == 0
    assert Image.open(mark).size == (28, 24)


def test_colorize_same_stems_do_not_collide(tiny, tmp_path):
    _, data, run = tiny
    src = tmp_path / "in"
    for sub in ("a", "b"):
        (src / sub).mkdir(parents=True)
        shutil.copy(data / "photo_00.png", src / sub / "x.png")
    Image.open(data / "photo_01.png").save(src / "x.jpg")
    shutil.copy(data / "photo_02.png", src / "x.png")
    out = tmp_path / "out"
    assert _colorize(run, src, "-o", out, "--format", "png").returncode == 0
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.png")) == ["a/x.png", "b/x.png", "x.png", "x_jpg.png"]


def test_colorize_empty_folder_and_bad_options(tiny, tmp_path):
    _, data, run = tiny
    (tmp_path / "empty").mkdir()
    proc = _colorize(run, tmp_path / "empty", "-o", tmp_path / "o")
    assert proc.returncode == 2 and "no photos" in proc.stderr
    (tmp_path / "file").write_text("x")
    for args, fragment in [(("--size", "-1"), "--size"), (("--size", "100000"), "--size"),
                           (("--temperature", "inf"), "temperature"), (("-o", tmp_path / "file"), "is a file")]:
        argv = [data, "-o", tmp_path / "o2", *args] if args[0] != "-o" else [data, *args]
        proc = _colorize(run, *argv)
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert proc.returncode == 2 and len(lines) == 1 and fragment in lines[0], proc.stderr


def test_network_size_is_capped_keeping_the_aspect():
    assert capped_size(10, 4000, 64) == int(MAX_LONG_SIDE * 10 / 4000)
    assert capped_size(3000, 3000, None) == int(np.sqrt(MAX_NETWORK_PIXELS))
    assert capped_size(24, 28, None) is None and capped_size(24, 28, 16) == 16
    for h, w, size in [(10, 4000, 64), (4000, 10, 100000), (5000, 7000, None), (1, 1, 4096)]:
        s = capped_size(h, w, size) or min(h, w)
        long_side = s * max(h, w) / min(h, w)
        assert long_side <= MAX_LONG_SIDE + 1 and s * long_side <= MAX_NETWORK_PIXELS + long_side


def test_extreme_aspect_and_out_of_memory_do_not_end_the_job(tiny, tmp_path, monkeypatch, capsys):
    import colorclass.inference.colorize_files as colorize

    _, data, run = tiny
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(np.full((10, 4000, 3), (200, 40, 40), np.uint8)).save(src / "long.png")
    for i in range(2):
        shutil.copy(data / f"photo_0{i}.png", src / f"p{i}.png")
    assert main(["colorize", "--run", str(run), str(src), "-o", str(tmp_path / "o"), "--size", "64"]) == 0
    assert Image.open(tmp_path / "o" / "long.png").size == (4000, 10)
    real = colorize._colorize_one

    def oom(f, predictor, hints=None):
        if f.name == "long.png":   # the CPU allocator's error: a RuntimeError without a type of its own
            raise RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't "
                               "allocate memory: you tried to allocate 7200000000 bytes.")
        return real(f, predictor, hints)

    monkeypatch.setattr(colorize, "_colorize_one", oom)
    capsys.readouterr()
    assert main(["colorize", "--run", str(run), str(src), "-o", str(tmp_path / "o3")]) == 0
    text = capsys.readouterr().out
    assert "colourised 2" in text and "out of memory: 1" in text


def test_colorize_full_disk_leaves_no_partial_file(tiny, tmp_path, monkeypatch, capsys):
    _, data, run = tiny
    real_save = Image.Image.save

    def full_disk(self, fp, *a, **k):
        real_save(self, fp, *a, **k)                  # a partial file exists, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device", str(fp))

    monkeypatch.setattr(Image.Image, "save", full_disk)
    out = tmp_path / "out"
    assert main(["colorize", "--run", str(run), str(data), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err and "photo_00.png" in err and "Traceback" not in err
    assert list(out.rglob("*")) == []


# ----------------------------------------------------------------------------- run folders

def _broken_copy(tiny, tmp_path, name="run"):
    _, _, run = tiny
    dst = tmp_path / name
    shutil.copytree(run, dst, ignore=shutil.ignore_patterns(".lock"))
    return dst


@pytest.mark.parametrize("damage, fragment", [
    ("bins", "bins.npz has 6 bins but the weights in model.safetensors expect 8"),
    ("empty", "not a readable safetensors file"),
    ("truncated", "not a readable safetensors file"),
    ("pickle", "not a readable safetensors file"),
    ("architecture", "another architecture"),
    ("nan", "not finite"),
])
def test_run_that_does_not_match_itself_is_one_line(tiny, tmp_path, damage, fragment):
    root, data, _ = tiny
    run = _broken_copy(tiny, tmp_path)
    weights = run / "model.safetensors"
    (run / "best.safetensors").unlink(missing_ok=True)
    if damage == "bins":
        assert main(["fit-bins", str(data), "-o", str(run / "bins.npz"), "--k", "6"]) == 0
    elif damage == "empty":
        weights.write_bytes(b"")
    elif damage == "truncated":
        weights.write_bytes(weights.read_bytes()[:1000])
    elif damage == "pickle":
        import pickle
        weights.write_bytes(pickle.dumps({"a": 1}))
    elif damage == "architecture":
        save_file({"conv.weight": torch.zeros(3, 3)}, str(weights))
    else:
        state = load_weights(weights)
        first = sorted(state)[0]
        state[first] = torch.full_like(state[first], float("nan"))
        save_file(state, str(weights))
    with pytest.raises(RunFolderError, match=fragment):
        load_run(run, device="cpu")
    proc = _colorize(run, data, "-o", tmp_path / "o")
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and fragment in lines[0], proc.stderr


def test_plot_refuses_a_folder_without_a_run(tmp_path, capsys):
    assert main(["plot", str(tmp_path)]) == 2
    assert "holds no run" in capsys.readouterr().err
