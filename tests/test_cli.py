"""End to end through the command line: fit-bins -> train-classifier -> colorize -> evaluate."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colorclass.cli import colorize_main, fit_bins_main, main, train_main
from colorclass.color import rgb_u8_to_lab_np

COLOURS = np.array([[200, 40, 40], [40, 60, 200], [40, 170, 60], [230, 200, 50]], dtype=np.uint8)


def make_photos(folder: Path, n: int, size=(40, 48), seed: int = 0) -> Path:
    """Photos of coloured rectangles on gray, sizes not multiples of anything."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img = np.full((*size, 3), 128, np.uint8)
        for _ in range(3):
            y, x = rng.integers(0, size[0] - 10), rng.integers(0, size[1] - 10)
            img[y:y + 10, x:x + 12] = COLOURS[rng.integers(len(COLOURS))]
        noisy = img.astype(np.int16) + rng.integers(-6, 7, img.shape)
        Image.fromarray(noisy.clip(0, 255).astype(np.uint8)).save(folder / f"photo_{i:02d}.png")
    return folder


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    data = make_photos(root / "train", 12)
    bins = root / "bins.npz"
    assert fit_bins_main([str(data), "-o", str(bins), "--k", "8", "--seed", "1"]) == 0
    run = root / "run"
    code = train_main(["--bins", str(bins), "--data", str(data), "--val-fraction", "0.25",
                       "--loss", "kl", "--epochs", "2", "--batch-size", "4", "--crop-size", "32",
                       "--out", str(run)])
    assert code == 0
    return root, data, run


def test_run_folder_contents(trained_run):
    _, _, run = trained_run
    for name in ("config.toml", "log.csv", "loss.png", "model.safetensors", "bins.npz",
                 "command.txt", "meta.json", "report.html"):
        assert (run / name).is_file(), name
    header = (run / "log.csv").read_text().splitlines()[0].split(",")
    assert header[:5] == ["epoch", "iteration", "train_loss", "val_loss", "pixel_acc"]


def test_run_config_describes_the_bins_it_was_given(trained_run):
    """--bins with 8 k-means colours: config.toml says 8 (not the 24 of the fitting defaults)."""
    import tomllib

    import quantize

    root, _, run = trained_run
    recorded = tomllib.loads((run / "config.toml").read_text())["bins"]
    bins = quantize.load_bins(root / "bins.npz")
    assert (recorded["family"], recorded["space"], recorded["k"]) == ("kmeans", bins.space, 8)
    assert recorded["path"] == str(root / "bins.npz")


def test_colorize_keeps_size_stem_and_lightness(trained_run, tmp_path):
    root, data, run = trained_run
    out = tmp_path / "out"
    assert colorize_main(["--run", str(run), str(data), "-o", str(out)]) == 0
    for src in sorted(data.iterdir()):
        dst = out / f"{src.stem}.png"
        a, b = np.asarray(Image.open(src).convert("RGB")), np.asarray(Image.open(dst).convert("RGB"))
        assert a.shape == b.shape
        la, lb = rgb_u8_to_lab_np(a)[..., 0], rgb_u8_to_lab_np(b)[..., 0]
        assert np.abs(la - lb).max() < 1.5  # 8-bit rounding (and rare clipping) only
        assert np.abs(la - lb).mean() < 0.3


@pytest.mark.parametrize("method", ["mode", "mean", "annealed"])
def test_colorize_each_decoder(trained_run, tmp_path, method):
    root, data, run = trained_run
    src = sorted(data.iterdir())[0]
    assert colorize_main(["--run", str(run), "--decode", method, "--temperature", "0.2",
                          str(src), "-o", str(tmp_path)]) == 0
    assert (tmp_path / f"{src.stem}.png").is_file()


def test_evaluate_writes_contract_keys(trained_run, tmp_path):
    root, data, run = trained_run
    out = tmp_path / "m.json"
    assert main(["evaluate", "--run", str(run), str(data), "-o", str(out)]) == 0
    m = json.loads(out.read_text())
    for key in ("n_images", "pixel_acc", "ab_rmse", "auc_ab", "psnr", "colorfulness_pred",
                "colorfulness_true", "clipped_fraction"):
        assert key in m
    assert m["n_images"] == 12 and 0 <= m["auc_ab"] <= 1 and 0 <= m["pixel_acc"] <= 1


def test_bad_folder_is_skipped_with_reasons(tmp_path, capsys):
    data = make_photos(tmp_path / "mixed", 8)
    (data / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00garbage" * 20)
    (data / "notes.jpg").write_text("this is a text file, not a photo")
    gray = np.asarray(Image.open(data / "photo_00.png").convert("L"))
    Image.fromarray(gray).save(data / "grayscale.png")
    bins = tmp_path / "b.npz"
    assert fit_bins_main([str(data), "-o", str(bins), "--k", "6"]) == 0
    code = train_main(["--bins", str(bins), "--data", str(data), "--epochs", "1", "--batch-size", "4",
                       "--crop-size", "32", "--out", str(tmp_path / "run")])
    assert code == 0
    text = capsys.readouterr().out
    assert "skipped 3 training photos" in text
    for reason in ("corrupt", "not an image", "grayscale"):
        assert reason in text
    assert (tmp_path / "run" / "model.safetensors").is_file()


@pytest.mark.parametrize("argv, fragment", [
    (["fit-bins", "/no/such/dir", "-o", "x.npz"], "/no/such/dir"),
    (["fit-bins", ".", "-o", "x.npz", "--k", "zero"], "--k"),
    (["train", "--loss", "hinge", "--data", "."], "hinge"),
    (["train", "--data", ".", "--set", "optim.nope=1"], "optim.nope"),
    (["colorize", "missing.png", "-o", "out"], "missing.png"),
])
def test_usage_errors_are_one_line_exit_2(argv, fragment):
    proc = subprocess.run([sys.executable, "-m", "colorclass", *argv], capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and fragment in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_data_command_describes_folder(tmp_path, capsys):
    data = make_photos(tmp_path / "d", 3)
    (data / "broken.jpg").write_text("not a photo")
    assert main(["data", str(data)]) == 0
    text = capsys.readouterr().out
    assert "4" in text and "not an image" in text


def test_summary_command(capsys):
    assert main(["summary", "--model", "unet", "--size", "32", "--bins", "24", "--width", "8"]) == 0
    text = capsys.readouterr().out
    from colorclass.models import build_model
    n = sum(p.numel() for p in build_model("unet", out_channels=24, width=8).parameters())
    assert f"{n:,}" in text or str(n) in text


def test_plot_command_redraws_loss_png(trained_run):
    _, _, run = trained_run
    (run / "loss.png").unlink()
    assert main(["plot", str(run)]) == 0
    assert (run / "loss.png").stat().st_size > 1000


def test_existing_run_is_not_overwritten(trained_run, capsys):
    _, data, run = trained_run
    assert train_main(["--data", str(data), "--out", str(run)]) == 2
    assert "--resume" in capsys.readouterr().err


def test_report_with_activations(trained_run):
    root, data, run = trained_run
    photo = sorted(data.iterdir())[0]
    assert main(["report", str(run), "--activations", str(photo)]) == 0
    assert (run / "activations.png").stat().st_size > 10_000
    assert "Per-layer activations" in (run / "report.html").read_text()
