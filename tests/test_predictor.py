"""The Predictor and its settings door: one resolution of method / temperature / size (with where
each came from), the documented effect of --temperature and --size, the demo's built-in column
equal to `colorize`, many inputs, and bugs never reported as a user's mistake."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from colorclass.cli import main
from colorclass.inference.predictor import Predictor
from colorclass.inference.settings import resolve_settings
from colorclass.support.errors import ColorclassError


def _photo(h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([128 + 90 * np.sin(xx / 7.0), 100 + 70 * np.cos(yy / 5.0), 80 + 40 * (xx > w / 2)], -1)
    return np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)


def test_settings_merge_flag_over_calibration_over_run_over_card_over_default():
    s = resolve_settings({"temperature": None}, {"method": "annealed", "temperature": 0.25},
                         {"method": "mode", "temperature": 0.5, "size": 64}, {"size": 32})
    assert (s.method, s.temperature, s.size) == ("annealed", 0.25, 64)
    assert s.sources == {"method": "calibration", "temperature": "calibration", "size": "run"}
    s = resolve_settings({"temperature": 0.7, "size": 16}, None, {"method": "mean"}, None)
    assert (s.method, s.temperature, s.size) == ("mean", 0.7, 16)
    assert s.sources == {"method": "run", "temperature": "flag", "size": "flag"}
    d = resolve_settings({}, None, None, None)
    assert d.sources == {"method": "default", "temperature": "default", "size": "default"}
    kept = s.with_overrides(temperature=0.2)
    assert kept.temperature == 0.2 and kept.sources["temperature"] == "flag" and kept.sources["method"] == "run"


@pytest.mark.parametrize("value", [1e-300, 0.0, -1.0, float("nan"), True, "warm", 1e6])
def test_a_temperature_outside_the_stable_range_is_refused_naming_its_source(value):
    with pytest.raises(ColorclassError, match="calibration.json.*temperature"):
        resolve_settings({}, {"temperature": value}, where={"calibration": "runs/x/calibration.json"})


class _Fixed(torch.nn.Module):
    """A 'network' whose logits are fixed: bin 0 slightly more likely than bin 1 everywhere."""
    output_stride = 1

    def forward(self, x):
        logits = torch.zeros(x.shape[0], 2, *x.shape[2:])
        logits[:, 0] = 0.4
        return logits


class _Bins:
    decode_space = "ab"
    centers_ab = np.array([[40.0, 20.0], [-30.0, -40.0]], np.float32)


def test_small_temperature_approaches_the_mode_and_one_is_the_mean():
    rgb = torch.from_numpy(_photo()).permute(2, 0, 1)[None]
    p = Predictor.for_model(_Fixed(), _Bins())
    pred = p.predict(rgb)
    mode = p.with_settings(method="mode").ab(pred)
    mean = p.with_settings(method="mean").ab(pred)
    cold = p.with_settings(method="annealed", temperature=0.01).ab(pred)
    warm = p.with_settings(method="annealed", temperature=1.0).ab(pred)
    torch.testing.assert_close(cold, mode, atol=1e-3, rtol=0)
    torch.testing.assert_close(warm, mean, atol=1e-5, rtol=0)
    t5 = p.with_settings(temperature=0.5).ab(pred)
    assert float((t5 - mode).abs().max()) < float((mean - mode).abs().max())   # in between, nearer the mode


def test_the_size_used_is_the_one_reported(tmp_path):
    p = Predictor.load("builtin:general", size=32, device="cpu")
    assert p.settings.size == 32 and p.settings.sources["size"] == "flag"
    pred = p.predict(p.photo(_photo(96, 128)))
    assert pred.l_input.shape[-2:] == (32, 43)
    assert p.predict(p.photo(_photo(96, 128))).output.shape[-2:] == (16, 22)   # output stride 2
    default = Predictor.load("builtin:general", device="cpu")
    assert default.settings.size == 64 and default.settings.sources["size"] == "run"
    big = p.with_settings(size=96).colorize(_photo(96, 128))[0]
    assert big.shape == (96, 128, 3) and not np.array_equal(big, p.colorize(_photo(96, 128))[0])


def test_demo_builtin_column_equals_colorize_bit_for_bit(tmp_path):
    from colorclass.cli.demo import _builtin_colours

    held = tmp_path / "held"
    held.mkdir()
    Image.fromarray(_photo(80, 120, seed=3)).save(held / "cat.png")
    column = _builtin_colours(held)["cat"]
    assert main(["colorize", str(held / "cat.png"), "-o", str(tmp_path / "out"), "-q"]) == 0
    assert np.array_equal(column, np.asarray(Image.open(tmp_path / "out" / "cat.png")))


def test_colorize_takes_many_files_and_folders(tmp_path, capsys):
    for name in ("a.png", "b.png", "dir/c.png", "dir/sub/d.png"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(_photo(seed=len(name))).save(tmp_path / name)
    out = tmp_path / "out"
    assert main(["colorize", str(tmp_path / "a.png"), str(tmp_path / "b.png"), str(tmp_path / "dir"),
                 "-o", str(out), "--size", "32"]) == 0
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert written == ["a.png", "b.png", "dir/c.png", "dir/sub/d.png"]
    assert "colourised 4 photo(s)" in capsys.readouterr().out


def test_a_bug_is_reported_as_a_bug_and_a_mistake_as_a_mistake(tmp_path, monkeypatch, capsys):
    import colorclass.inference.colorize_files as colorize_files

    Image.fromarray(_photo()).save(tmp_path / "a.png")

    def broken(*args, **kwargs):
        raise ValueError("index 3 out of range")

    monkeypatch.setattr(colorize_files, "colorize_paths", broken)
    assert main(["colorize", str(tmp_path / "a.png"), "-o", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "internal error" in err and "ValueError: index 3" in err and "Traceback" not in err
    monkeypatch.undo()
    assert main(["colorize", str(tmp_path / "a.png"), "-o", str(tmp_path / "o"), "--temperature", "1e-300"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--temperature" in err[0] and "1e-300" in err[0]
