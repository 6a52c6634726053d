"""A user's files under colorize and train-classifier, round 3 (issue 21): a user's folder as
--out, name collisions that differ only by case, outputs that appear meanwhile, -o inside an
input folder, --skip-existing, photos of extreme aspect, SIGTERM while writing."""
import os
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from evalrun import run_main
from PIL import Image

from colorclass.cli import main
from colorclass.inference.colorize_files import APPEARED, ALREADY_EXISTS, plan_outputs
from colorclass.photos.write import made_by_colorclass, save_image
from colorclass.support import limits
from colorclass.support.files import atomic_path, sigterm_as_interrupt

REPO = Path(__file__).resolve().parents[1]
TRAIN_ARGS = ["--val-fraction", "0.25", "--epochs", "1", "--batch-size", "2", "--crop-size", "16",
              "--width", "4", "--set", "data.resize=16"]


def _photo(path: Path, size=(20, 24), seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(path)
    return path


def _photos(folder: Path, n: int) -> Path:
    for i in range(n):
        _photo(folder / f"photo_{i:02d}.png", seed=i)
    return folder


_main = run_main   # colorclass.cli.main in this process: (code, stdout, stderr)


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip() and "img/s" not in line and "%|" not in line]
    assert len(lines) == 1, err
    return lines[0]


def _snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _temps(folder: Path) -> list:
    return [p for p in folder.rglob("*") if ".tmp" in p.name]


class FakePredictor:
    """Stands in for Predictor.load(...): the colour photo is the input (the save path is tested)."""

    regression = False
    on_colorize = None

    class settings:  # noqa: N801 -- mirrors Predictor.settings
        @staticmethod
        def describe(regression=False):
            return "fake"

    def describe(self):
        return "fake predictor"

    def colorize(self, rgb):
        if FakePredictor.on_colorize is not None:
            FakePredictor.on_colorize(rgb)
        return rgb, 0


@pytest.fixture
def fake(monkeypatch):
    from colorclass.inference import engines

    FakePredictor.on_colorize = None
    monkeypatch.setattr(engines, "load_predictor", lambda *a, **k: FakePredictor())
    yield FakePredictor
    FakePredictor.on_colorize = None


# ----------------------------------------------------------------------------- 1. train --out

@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("round3-data")
    train = _photos(root / "train", 4)
    assert main(["fit-bins", str(train), "-o", str(root / "bins.npz"), "--k", "8"]) == 0
    return train, root / "bins.npz"


def test_train_refuses_a_users_folder_and_the_data_folder(data, tmp_path):
    train, bins = data
    argv = ["train", "--bins", bins, "--data", train, *TRAIN_ARGS]
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("my notes")
    _photo(mine / "holiday.png")
    before = _snapshot(mine)
    code, _, err = _main(*argv, "--out", mine)
    assert code == 2 and "not empty" in _one_line(err) and "--overwrite" in err
    assert _snapshot(mine) == before and not (mine / ".lock").exists()
    data_before = _snapshot(train)
    for out, fragment in [(train, "is the training photos' folder data.train"),
                          (train / "run", "is inside the training photos' folder data.train"),
                          (train / ".." / train.name / "sub" / "run", "is inside")]:
        for extra in ([], ["--overwrite"]):
            code, _, err = _main(*argv, *extra, "--out", out)
            assert code == 2 and fragment in _one_line(err), err
    val = tmp_path / "val"
    val.mkdir()
    code, _, err = _main(*argv, "--val-data", val, "--out", val / "run")
    assert code == 2 and "data.val" in _one_line(err)
    assert sorted(val.iterdir()) == []
    assert _snapshot(train) == data_before and not (train / "run").exists() and not (train / "sub").exists()
    code, out, err = _main(*argv, "--out", mine, "--overwrite")         # --overwrite: beside the user's files
    assert code == 0, err
    assert (mine / "model.safetensors").is_file()
    assert all(_snapshot(mine)[name] == content for name, content in before.items())


def test_a_failed_start_leaves_nothing_to_refuse_next_time(data, tmp_path):
    _, bins = data
    empty = tmp_path / "nophotos"
    empty.mkdir()
    (empty / "broken.png").write_bytes(b"not a png")
    run = tmp_path / "run"
    code, _, err = _main("train", "--bins", bins, "--data", empty, *TRAIN_ARGS, "--out", run)
    assert code == 2 and "no usable training photos" in _one_line(err)
    assert not run.exists()                          # no .lock, no bins.npz: the next try is not refused
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / ".DS_Store").write_bytes(b"x")           # an empty folder but for file-manager droppings
    code, _, err = _main("train", "--bins", bins, "--data", empty, *TRAIN_ARGS, "--out", kept)
    assert code == 2 and "no usable training photos" in err
    assert sorted(p.name for p in kept.iterdir()) == [".DS_Store", ".lock"]


# ----------------------------------------------------------------------------- 2. name collisions

def test_output_names_are_unique_ignoring_case(tmp_path):
    src = tmp_path / "in"
    names = ["x.jpg", "x.JPG", "c.bmp", "c.png", "c_bmp.png", "A/y.png", "a/y.png", "X.jpg"]
    files = [src / n for n in names]
    planned = plan_outputs(files, src, tmp_path / "out")
    got = [str(p.relative_to(tmp_path / "out")) for p in planned]
    assert got == ["x.jpg", "x_2.jpg", "c_bmp_2.png", "c.png", "c_bmp.png", "A/y.png", "a/y_2.png", "X_3.jpg"]
    assert len({g.casefold() for g in got}) == len(got)
    assert planned == plan_outputs(files, src, tmp_path / "out")          # deterministic


def test_colorize_writes_every_photo_of_colliding_names(fake, tmp_path, capsys):
    src = tmp_path / "in"
    for i, name in enumerate(["x.jpg", "x.JPG", "c.bmp", "c.png", "c_bmp.png"]):
        _photo(src / name, seed=i)
    out = tmp_path / "out"
    assert main(["colorize", str(src), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    written = sorted(p.name for p in out.iterdir())
    assert written == ["c.png", "c_bmp.png", "c_bmp_2.png", "x.jpg", "x_2.jpg"]
    assert f"colourised {len(written)} photo(s)" in text
    assert "renamed" in text and "x.jpg -> x_2.jpg" in text      # list order: x.JPG sorts first


# ----------------------------------------------------------------------------- 3. exclusive writes

def test_exclusive_save_never_replaces_a_file_that_appeared(tmp_path):
    dst = tmp_path / "a.png"
    img = np.zeros((4, 5, 3), np.uint8)
    save_image(img, dst, overwrite=False)
    assert made_by_colorclass(dst)
    dst.write_bytes(b"other job")
    with pytest.raises(FileExistsError):
        save_image(img, dst, overwrite=False)
    assert dst.read_bytes() == b"other job" and not _temps(tmp_path)
    save_image(img, dst, overwrite=True)
    assert made_by_colorclass(dst)
    with pytest.raises(KeyboardInterrupt), atomic_path(tmp_path / "b.png") as tmp:
        tmp.write_bytes(b"half")
        raise KeyboardInterrupt
    assert not _temps(tmp_path) and not (tmp_path / "b.png").exists()


def test_colorize_counts_an_output_that_appeared_meanwhile(fake, tmp_path, capsys):
    src = _photos(tmp_path / "in", 3)
    out = tmp_path / "out"

    def other_job(rgb):                      # another colorize writes photo_01.png while this one works
        if not (out / "photo_01.png").exists():
            out.mkdir(exist_ok=True)
            (out / "photo_01.png").write_bytes(b"other job")

    fake.on_colorize = other_job
    assert main(["colorize", str(src), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert (out / "photo_01.png").read_bytes() == b"other job"
    assert "colourised 2 photo(s)" in text and f"{APPEARED}: 1" in text
    assert not _temps(out)


# ----------------------------------------------------------------------------- 4. -o inside an input folder

def test_output_folder_inside_the_input_folder(fake, tmp_path, capsys):
    src = _photos(tmp_path / "photos", 2)
    mine = _photo(src / "2019" / "photo_00.png", seed=9)
    before = _snapshot(src)
    for extra in ([], ["--overwrite"]):
        code = main(["colorize", str(src), "-o", str(src / "2019"), *extra])
        err = capsys.readouterr().err
        assert code == 2 and "2019" in _one_line(err) and "did not make" in err
    assert _snapshot(src) == before and not made_by_colorclass(mine)
    out = src / "colorized"                              # earlier outputs there are not inputs
    assert main(["colorize", str(src), "-o", str(out)]) == 0
    capsys.readouterr()
    assert main(["colorize", str(src), "-o", str(out), "--overwrite"]) == 0
    text = capsys.readouterr().out
    assert "colourised 3 photo(s)" in text and "left out 3 earlier output" in text
    assert not (out / "colorized").exists() and _snapshot(src / "2019") == {"photo_00.png": mine.read_bytes()}


# ----------------------------------------------------------------------------- 5. --skip-existing

def test_skip_existing_continues_a_job(fake, tmp_path, capsys):
    src = _photos(tmp_path / "in", 3)
    out = tmp_path / "out"
    out.mkdir()
    (out / "photo_00.png").write_bytes(b"done before")
    code = main(["colorize", str(src), "-o", str(out)])
    assert code == 2 and "--skip-existing" in _one_line(capsys.readouterr().err)
    code = main(["colorize", str(src), "-o", str(out), "--skip-existing", "--overwrite"])
    assert code == 2 and "only one" in _one_line(capsys.readouterr().err)
    assert main(["colorize", str(src), "-o", str(out), "--skip-existing"]) == 0
    text = capsys.readouterr().out
    assert "colourised 2 photo(s)" in text and f"{ALREADY_EXISTS}: 1" in text
    assert (out / "photo_00.png").read_bytes() == b"done before"
    assert sorted(p.name for p in out.iterdir()) == ["photo_00.png", "photo_01.png", "photo_02.png"]


# ----------------------------------------------------------------------------- 6. extreme photos

def _gray_png(path: Path, width: int, height: int) -> Path:
    """A valid 8-bit gray PNG of zeros, written without holding the pixels (fast for 1 x 20,000,000)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    raw = zlib.compress(b"\0" * ((width + 1) * height), 9)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", raw) + chunk(b"IEND", b""))
    return path


def test_photo_limits():
    assert limits.MAX_ASPECT * limits.MIN_NETWORK_SIDE <= limits.MAX_LONG_SIDE
    assert limits.photo_limit(4000, 10) is None and limits.photo_limit(20, 24) is None
    assert "aspect" in limits.photo_limit(20_000_000, 1) and "aspect" in limits.photo_limit(1, 200_000)
    assert limits.photo_limit(20_000, 20_000) == "too large"


def test_extreme_photos_are_skipped_before_decoding(fake, tmp_path, capsys, monkeypatch):
    src = tmp_path / "in"
    src.mkdir()
    _photo(src / "ok.png")
    _gray_png(src / "strip.png", 200_000, 1)
    _gray_png(src / "huge_strip.png", 20_000_000, 1)          # the 39 KB file of issue 21
    assert Image.open(src / "strip.png").size == (200_000, 1)
    start = time.monotonic()
    assert main(["colorize", str(src), "-o", str(tmp_path / "out")]) == 0
    text = capsys.readouterr().out
    assert time.monotonic() - start < 60
    assert "colourised 1 photo(s)" in text and "extreme aspect ratio (over 512:1): 2" in text
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["ok.png"]
    monkeypatch.setattr(limits, "MAX_PHOTO_PIXELS", 100)
    assert main(["colorize", str(src / "ok.png"), "-o", str(tmp_path / "out2")]) == 2
    assert "ok.png' (too large); colorize takes photos of at most 100 pixels" in _one_line(capsys.readouterr().err)


# ----------------------------------------------------------------------------- 7. SIGTERM

_SLOW_WRITER = """
import sys, time
from PIL import Image
from colorclass.inference import engines

class Fake:
    regression = False
    class settings:
        @staticmethod
        def describe(regression=False):
            return "fake"
    def describe(self):
        return "fake"
    def colorize(self, rgb):
        return rgb, 0

engines.load_predictor = lambda *a, **k: Fake()
real_save = Image.Image.save

def slow_save(self, fp, *a, **k):       # the temporary file exists, then the job is slow
    real_save(self, fp, *a, **k)
    if ".tmp" in str(fp):
        time.sleep(60)

Image.Image.save = slow_save
from colorclass.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.skipif(not hasattr(signal, "SIGTERM") or os.name != "posix", reason="POSIX signals")
def test_sigterm_while_writing_leaves_no_temporary_file(tmp_path):
    src = _photos(tmp_path / "in", 6)
    out = tmp_path / "out"
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_WRITER, "colorize", str(src), "-o", str(out)],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (out.is_dir() and _temps(out)):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode in (130, 143), err
    assert _one_line(err) == "interrupted" and "Traceback" not in err
    assert not _temps(out)


def test_sigterm_as_interrupt_restores_the_handler():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt), sigterm_as_interrupt():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
    assert signal.getsignal(signal.SIGTERM) == before
