"""The engine choice behind `colorize`: the built-in model's shipped ONNX file is its weights,
auto picks onnxruntime without importing torch, --engine torch and onnx give the same file,
and `colorclass export` writes a file that `colorize --run model.onnx` uses."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from colorclass.cli import main

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


def _photo(h: int = 60, w: int = 90) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return np.clip(np.stack([120 + 90 * np.sin(xx / 8), 90 + 70 * np.cos(yy / 6), 70 + 0 * xx], -1),
                   0, 255).astype(np.uint8)


@pytest.mark.parametrize("name", ["general", "hints"])
def test_the_shipped_onnx_file_is_an_export_of_the_shipped_weights(tmp_path, name):
    from colorclass.builtin import builtin_run_dir
    from colorclass.export.onnx_export import export_onnx

    fresh = export_onnx(f"builtin:{name}", tmp_path / "fresh.onnx")
    assert fresh.read_bytes() == (builtin_run_dir(name) / "model.onnx").read_bytes(), (
        f"re-export the built-in model: colorclass export builtin:{name} -o colorclass/builtin/{name}/model.onnx "
        "--overwrite")


def test_auto_engine_colourises_without_importing_torch(tmp_path):
    Image.fromarray(_photo()).save(tmp_path / "a.png")
    code = ("import sys; from colorclass.cli import main; rc = main(['colorize', 'a.png', '-q']); "
            "sys.exit(rc or (3 if 'torch' in sys.modules else 0))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "colorized" / "a.png").is_file()


def test_torch_and_onnx_engines_write_the_same_file(tmp_path):
    Image.fromarray(_photo()).save(tmp_path / "a.png")
    for engine in ("torch", "onnx"):
        assert main(["colorize", str(tmp_path / "a.png"), "-o", str(tmp_path / engine), "--engine", engine,
                     "-q"]) == 0
    a = np.asarray(Image.open(tmp_path / "torch" / "a.png")).astype(int)
    b = np.asarray(Image.open(tmp_path / "onnx" / "a.png")).astype(int)
    assert np.abs(a - b).max() <= 1


def test_export_command_and_colorize_with_the_file(tmp_path, capsys):
    out = tmp_path / "m.onnx"
    assert main(["export", "builtin:general", "-o", str(out)]) == 0
    assert main(["export", "builtin:general", "-o", str(out)]) == 2       # exists: refused
    assert "--overwrite" in capsys.readouterr().err
    Image.fromarray(_photo()).save(tmp_path / "a.png")
    assert main(["colorize", str(tmp_path / "a.png"), "--run", str(out), "-o", str(tmp_path / "o"),
                 "--temperature", "0.5"]) == 0
    assert "(onnx)" in capsys.readouterr().out and (tmp_path / "o" / "a.png").is_file()
    assert main(["colorize", str(tmp_path / "a.png"), "--run", str(out), "--engine", "torch",
                 "-o", str(tmp_path / "p")]) == 2
    assert "--engine onnx" in capsys.readouterr().err
