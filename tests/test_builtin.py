"""The built-in model shipped in colorclass/builtin: loads as a run folder, keeps a photo's
lightness when colourising it, is small, and its card and config agree."""
from __future__ import annotations

import json

import numpy as np
import pytest
from skimage.color import rgb2lab

from colorclass.builtin import BUILTIN_MODELS, DEFAULT_MODEL, builtin_run_dir, list_models
from colorclass.inference.predictor import Predictor


def _photo(h: int = 40, w: int = 56) -> np.ndarray:
    """A synthetic photo: smooth colour gradients plus a bright disc."""
    yy, xx = np.mgrid[0:h, 0:w]
    r = 128 + 100 * np.sin(xx / 9.0)
    g = 90 + 80 * np.cos(yy / 7.0)
    b = 60 + 60 * ((xx - w / 2) ** 2 + (yy - h / 2) ** 2 < (h / 4) ** 2)
    return np.clip(np.stack([r, g, b], -1), 0, 255).astype(np.uint8)


def test_builtin_loads_and_colourises_keeping_lightness():
    predictor = Predictor.load("builtin:general", device="cpu")
    photo = _photo()
    out, _ = predictor.colorize(photo)
    assert out.shape == photo.shape and out.dtype == np.uint8
    d_l = np.abs(rgb2lab(out)[..., 0] - rgb2lab(photo)[..., 0])
    assert d_l.mean() < 2.0
    gray = np.repeat(photo.mean(-1, keepdims=True).astype(np.uint8), 3, -1)
    out_gray, _ = predictor.colorize(gray)
    assert np.abs(rgb2lab(out_gray)[..., 1:]).mean() > 1.0   # it adds colour to a gray photo


@pytest.mark.parametrize("name", ["general", "hints"])
def test_builtin_is_small_and_its_card_matches_its_config(name):
    path = builtin_run_dir(name)
    assert (path / "model.safetensors").stat().st_size <= 10 * 1024 * 1024
    card = json.loads((path / "card.json").read_text(encoding="utf-8"))
    settings = Predictor.load(path, device="cpu").settings
    assert settings.temperature == pytest.approx(card["calibrated_temperature"])
    assert (settings.size or 0) == card["inference_size"]   # 0 = the photo's own size
    assert settings.sources == {"method": "run", "temperature": "run", "size": "run"}
    names = [m["name"] for m in list_models()]
    assert names == list(BUILTIN_MODELS)


def test_unknown_builtin_name_is_refused():
    with pytest.raises(ValueError, match="unknown built-in model"):
        builtin_run_dir("nope")


def test_colorize_without_a_run_uses_the_builtin_model_and_never_touches_inputs(tmp_path):
    import subprocess
    import sys

    from PIL import Image

    Image.fromarray(_photo()).save(tmp_path / "photo.png")
    before = (tmp_path / "photo.png").read_bytes()
    argv = [sys.executable, "-m", "colorclass", "colorize", "photo.png"]
    proc = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert f"builtin:{DEFAULT_MODEL}" in proc.stdout
    out = np.asarray(Image.open(tmp_path / "colorized" / "photo.png"))
    assert out.shape == _photo().shape
    assert (tmp_path / "photo.png").read_bytes() == before
    again = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True)
    assert again.returncode == 2 and "--overwrite" in again.stderr and "Traceback" not in again.stderr


def test_models_command_lists_the_card(capsys):
    from colorclass.cli import main

    assert main(["models"]) == 0
    text = capsys.readouterr().out
    assert "general" in text and "limits" in text and "calibrated temperature" in text
