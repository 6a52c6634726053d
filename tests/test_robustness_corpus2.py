"""A generated corpus (hypothesis) against every command (issue 21, round 3): odd values for the
size-like flags and odd files (bytes, JSON nested deep or with huge numbers, names with spaces,
unicode and leading dashes) thrown at colorize, fit-bins, evaluate, data, plot, summary and
calibrate, in this process (``main([...])``). Each call must: exit 0, 1 or 2; print no traceback
and no "internal error"; change no file outside its declared outputs; account for every photo
it was given (colourised / usable + skipped); end in bounded time."""
import contextlib
import io
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from test_cli import make_photos
from test_robustness_run import build_tiny_run

from colorclass.cli import main
from colorclass.photos import list_images

SETTINGS = settings(max_examples=20, deadline=None, derandomize=True, database=None,
                    phases=(Phase.explicit, Phase.generate),    # no shrinking: a failure shows its example
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
FEW = settings(SETTINGS, max_examples=6)        # summary: a forward pass and a profiled training step each
SECONDS = 60                                    # one call, on a loaded 2-core machine

NUMBERS = st.one_of(st.integers(1, 9).map(str), st.integers(-3, 0).map(str), st.integers(10**5, 10**15).map(str),
                    st.sampled_from(["nan", "inf", "-inf", "1e400", "0x10", "", " ", "1.5", "\u0663", "9" * 400,
                                     "-0", "1_000", "--", "-1e-9"]))
DEEP = "[" * 100_000 + "]" * 100_000
JSON_LIES = st.one_of(
    st.sampled_from([DEEP, '{"mean_ab": [' + "9" * 400 + ", 1]}", '{"mean_ab": [NaN, 1e308]}', "NaN",
                     '{"method": "annealed", "temperature": true}', '{"method": "annealed", "temperature": 1e308}',
                     '{"decode_method": "mode", "inference_size": 1e308}', '{"mean_ab": ["a", "b"]}', "{}", "[]"]),
    st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=5),
                 lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                 max_leaves=8).map(lambda v: __import__("json").dumps(v)))
BYTES = st.one_of(st.binary(max_size=64), st.sampled_from([b"", b"\x89PNG\r\n\x1a\n" + b"\0" * 32, b"\xff\xd8\xff" * 9,
                                                          b"GIF89a" + b"\xff" * 20, DEEP.encode()[:5000]]))
CONTENT = st.one_of(BYTES, JSON_LIES.map(str.encode))
NAMES = st.sampled_from(["-dash.png", "with space.png", "\u00fcn\u00ef \u00e7\u00f8d\u00e9.jpg", "\u65e5\u672c.png",
                         "--.png", "-o.png", "x.PNG", "a.b.c.jpeg", "tab\tname.png", "photo_00.png"])


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """(trained tiny run, its training photos, held-out photos), shared read-only."""
    root, data, run = build_tiny_run(tmp_path_factory)
    held = tmp_path_factory.mktemp("held")
    make_photos(held, 3, size=(20, 26), seed=7)
    for photo in sorted(held.iterdir()):                       # never the training photos' names
        photo.rename(held / f"held {photo.name}")
    return run, data, held


def _snapshot(root: Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _call(root: Path, argv: list, outputs: list[Path]) -> tuple[int, str, str]:
    """main(argv) under the rules of this module; ``outputs``: what it may create or change."""
    before = _snapshot(root)
    out, err = io.StringIO(), io.StringIO()
    start = time.monotonic()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    took = time.monotonic() - start
    text, error = out.getvalue(), err.getvalue()
    assert code in (0, 1, 2), (argv, code, error)
    assert "Traceback" not in error and "internal error" not in error, (argv, error)
    assert took < SECONDS, (argv, took)
    allowed = [str(o.relative_to(root)) for o in outputs]
    after = _snapshot(root)
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    stray = [k for k in changed if not any(k == a or k.startswith(a + "/") or Path(k).name.startswith(
        "." + Path(a).stem) for a in allowed)]
    assert not stray, (argv, stray)
    return code, text, error


def _sandbox() -> Path:
    return Path(tempfile.mkdtemp(prefix="corpus2-"))


def _folder(root: Path, good: Path, odd: list[tuple[str, bytes]]) -> Path:
    """Two good photos and the odd files, under odd names."""
    folder = root / "in put \u00e9"
    shutil.copytree(good, folder)
    for p in sorted(folder.iterdir())[2:]:
        p.unlink()
    for name, content in odd:
        (folder / name).write_bytes(content)
    return folder


ODD_FILES = st.lists(st.tuples(NAMES, CONTENT), min_size=1, max_size=3, unique_by=lambda t: t[0])


@SETTINGS
@given(odd=ODD_FILES, size=st.one_of(st.none(), NUMBERS))
@example(odd=[("-dash.png", b"\x89PNG\r\n\x1a\n"), ("with space.png", DEEP.encode()[:999])], size=None)
def test_colorize_and_data_account_for_every_photo(world, odd, size):
    run, data, _ = world
    root = _sandbox()
    try:
        folder = _folder(root, data, odd)
        n_photos = len(list_images(folder))
        out = root / "out"
        extra = [] if size is None else [f"--size={size}"]
        code, text, err = _call(root, ["colorize", "--run", run, *extra, "-o", out, "--", folder], [out])
        if code != 2:
            done = int(re.search(r"colourised (\d+) photo", text).group(1))
            skipped = sum(int(n) for n in re.findall(r"^  .*: (\d+)", text, re.M))
            assert done + skipped == n_photos and done == len(list(out.rglob("*.*"))), text
        code, text, _ = _call(root, ["data", "--", folder], [])
        assert code == 0
        usable, skipped = map(int, re.search(r"usable: (\d+), skipped: (\d+)", text).groups())
        assert usable + skipped == n_photos == int(re.search(r"photo files: (\d+)", text).group(1))
    finally:
        shutil.rmtree(root, ignore_errors=True)


@SETTINGS
@given(odd=ODD_FILES, family=st.sampled_from(["kmeans", "gmm", "grid", "hcgrid"]),
       flag=st.sampled_from(["--k", "--pixels-per-image", "--max-pixels", "--grid-step"]), value=NUMBERS)
@example(odd=[("x.PNG", b"")], family="kmeans", flag="--k", value="4")
@example(odd=[("x.PNG", b"GIF89a")], family="gmm", flag="--k", value="3")
def test_fit_bins_over_odd_files_and_values(world, odd, family, flag, value):
    _, data, _ = world
    root = _sandbox()
    try:
        folder = _folder(root, data, odd)
        out = root / "bins.npz"
        code, text, _ = _call(root, ["fit-bins", "--family", family, f"{flag}={value}", "-o", out, "--", folder],
                              [out, root / "bins.json", root / "bins.png"])
        assert (code == 0) == out.is_file()
    finally:
        shutil.rmtree(root, ignore_errors=True)


@FEW
@given(model=st.sampled_from(["cnn", "unet", "fcn32s"]), value=NUMBERS,
       flag=st.sampled_from(["--size", "--batch", "--bins", "--width"]))
@example(model="cnn", flag="--width", value="5")
def test_summary_over_odd_values(model, flag, value):
    root = _sandbox()
    try:
        _call(root, ["summary", "--model", model, "--size", "16", f"{flag}={value}"], [])
    finally:
        shutil.rmtree(root, ignore_errors=True)


RECORDS = ["calibration.json", "data_stats.json", "card.json", "log.csv", "meta.json"]


@SETTINGS
@given(record=st.sampled_from(RECORDS), content=CONTENT,
       command=st.sampled_from(["colorize", "evaluate", "plot", "calibrate"]), value=NUMBERS, temperature=NUMBERS)
@example(record="log.csv", content=b"\0" * 9, command="plot", value="1", temperature="1")
@example(record="meta.json", content=DEEP.encode(), command="calibrate", value="2", temperature="0.5")
@example(record="card.json", content=b'{"calibrated_temperature": true}', command="colorize", value="1",
         temperature="0.5")
def test_run_records_that_lie(world, record, content, command, value, temperature):
    run, data, held = world
    root = _sandbox()
    try:
        mine = root / "run"
        shutil.copytree(run, mine, ignore=shutil.ignore_patterns(".lock", "report*", "samples*"))
        (mine / record).write_bytes(content)
        photo = held / sorted(p.name for p in held.iterdir())[0]
        if command == "colorize":
            argv = ["colorize", "--run", mine, f"--temperature={temperature}", "-o", root / "out", "--", photo]
            outputs = [root / "out"]
        elif command == "evaluate":
            argv = ["evaluate", "--run", mine, "--baselines", "gray,mean", "--device", "cpu", f"--max-images={value}",
                    "-o", root / "m.json", held]
            outputs = [root / "m.json"]
        elif command == "plot":
            argv, outputs = ["plot", mine], [mine / "loss.png"]
        else:
            argv = ["calibrate", "--run", mine, "--device", "cpu", f"--temperatures=0.3,{temperature}",
                    f"--max-images={value}", held]
            outputs = [mine / "calibration.json", mine / "calibration.png"]
        _call(root, argv, outputs)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@SETTINGS
@given(name=NAMES, content=CONTENT, command=st.sampled_from(["colorize", "evaluate", "data", "fit-bins", "plot"]))
def test_an_odd_file_given_where_a_photo_or_folder_goes(world, name, content, command):
    run, _, _ = world
    root = _sandbox()
    try:
        odd = root / name
        odd.write_bytes(content)
        outputs = [root / "out", root / "o.npz", root / "o.json", root / "o.png"]
        argv = {"colorize": ["colorize", "--run", run, "-o", root / "out"], "evaluate": ["evaluate", "--run", run],
                "data": ["data"], "fit-bins": ["fit-bins", "-o", root / "o.npz"], "plot": ["plot"]}[command]
        code, _, err = _call(root, [*argv, "--", odd], outputs)
        assert code in (1, 2) if command != "data" else code == 2, err
        if name.startswith("-"):                    # without --: a hint, never a silent option
            cwd = os.getcwd()
            os.chdir(root)
            try:
                code, _, err = _call(root, [*argv, name], outputs)
            finally:
                os.chdir(cwd)
            assert code == 2 and "put paths after --" in err, err
    finally:
        shutil.rmtree(root, ignore_errors=True)
