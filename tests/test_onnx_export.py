"""ONNX export (colorclass.export.onnx_export) and the torch-free engine (inference.onnx_engine):
the file checks and carries its settings, onnxruntime matches torch (logits, ab, colour photos),
the engine runs without torch, and runs that cannot be exported are refused."""
from __future__ import annotations

import hashlib
import subprocess
import sys
import types

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")
F = torch.nn.functional

from colorclass.export.onnx_export import export_onnx  # noqa: E402
from colorclass.inference import numpy_steps as steps  # noqa: E402
from colorclass.inference.onnx_engine import META_KEYS, META_PREFIX, OnnxPredictor, read_metadata  # noqa: E402
from colorclass.inference.predictor import Predictor  # noqa: E402
from colorclass.support.errors import ColorclassError, InputFileError  # noqa: E402

BUILTIN = "builtin:general"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return export_onnx(BUILTIN, tmp_path_factory.mktemp("onnx") / "general.onnx")


@pytest.fixture(scope="module")
def torch_predictor():
    return Predictor.load(BUILTIN, device="cpu")


@pytest.fixture(scope="module")
def onnx_predictor(exported):
    return OnnxPredictor.load(exported)


def _photos() -> dict[str, np.ndarray]:
    from PIL import Image
    from skimage import data

    astronaut, chelsea = data.astronaut(), data.chelsea()
    return {"astronaut": astronaut, "chelsea": chelsea,
            "astronaut_333x500": np.asarray(Image.fromarray(astronaut).resize((500, 333), Image.BICUBIC)),
            "chelsea_97x130": np.asarray(Image.fromarray(chelsea).resize((130, 97), Image.BICUBIC)),
            "camera_gray": np.repeat(data.camera()[::2, ::2, None], 3, axis=2)}


# ----------------------------------------------------------------------------- the file
def test_export_passes_the_checker_and_carries_its_settings(exported, torch_predictor):
    model = onnx.load(str(exported))
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version >= 17
    assert [i.name for i in model.graph.input] == ["l_input"] and [o.name for o in model.graph.output] == ["logits"]
    dims = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims[1] == 1 and all(isinstance(d, str) for d in (dims[0], dims[2], dims[3]))   # dynamic axes
    props = {p.key: p.value for p in model.metadata_props}
    assert set(props) == {META_PREFIX + k for k in META_KEYS}
    meta = read_metadata(exported)
    np.testing.assert_array_equal(meta["bins_centers_ab"], torch_predictor.bins.centers_ab)
    s = torch_predictor.settings
    assert (meta["method"], meta["temperature"], meta["size"]) == (s.method, s.temperature, s.size)
    assert (meta["input_multiple"], meta["output_stride"]) == (torch_predictor.model.input_multiple,
                                                                torch_predictor.model.output_stride)
    assert meta["input_channels"] == 1 and meta["decode_space"] == "ab"
    from colorclass import __version__
    assert meta["version"] == __version__


def test_export_is_deterministic(exported, tmp_path):
    again = export_onnx(BUILTIN, tmp_path / "again.onnx")
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (exported, again)]
    assert digest[0] == digest[1]
    assert [p.name for p in tmp_path.iterdir()] == ["again.onnx"]   # no temporary left behind


def test_settings_resolve_flags_over_the_file(exported):
    p = OnnxPredictor.load(exported)
    assert p.settings.sources == {"method": "card", "temperature": "card", "size": "card"}
    q = OnnxPredictor.load(exported, method="mode", size=32)
    assert (q.settings.method, q.settings.size, q.settings.sources["method"]) == ("mode", 32, "flag")
    with pytest.raises(ColorclassError, match="temperature"):
        OnnxPredictor.load(exported, temperature=0)


def test_load_refuses_a_missing_or_foreign_file(exported, tmp_path):
    with pytest.raises(InputFileError, match="does not exist"):
        OnnxPredictor.load(tmp_path / "nope.onnx")
    model = onnx.load(str(exported))
    del model.metadata_props[:]
    onnx.save(model, str(tmp_path / "bare.onnx"))
    with pytest.raises(InputFileError, match="not an ONNX file made by"):
        OnnxPredictor.load(tmp_path / "bare.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(InputFileError, match="onnxruntime cannot load"):
        OnnxPredictor.load(tmp_path / "junk.onnx")


# ----------------------------------------------------------------------------- parity with torch
@pytest.mark.parametrize("shape", [(1, 1, 64, 96), (2, 1, 36, 52), (1, 1, 4, 4), (1, 1, 130, 70)])
def test_onnx_logits_match_torch_on_random_inputs(onnx_predictor, torch_predictor, shape):
    from colorclass.inference.network import forward_padded

    x = torch.rand(*shape, generator=torch.Generator().manual_seed(sum(shape))) * 2 - 1
    with torch.no_grad():
        ref = forward_padded(torch_predictor.model, x).numpy()
    out = onnx_predictor.logits(x.numpy())
    assert out.shape == ref.shape
    assert np.abs(out - ref).max() < 1e-4


def test_onnx_logits_and_ab_match_torch_on_a_photo(onnx_predictor, torch_predictor):
    photo = _photos()["chelsea"]
    prediction = torch_predictor.predict(torch_predictor.photo(photo))
    lightness, logits = onnx_predictor.predict(photo)
    np.testing.assert_array_equal(lightness, prediction.l_full[0, 0].numpy())
    assert logits.shape == tuple(prediction.output.shape)
    assert np.abs(logits - prediction.output.numpy()).max() < 1e-4
    for method in ("annealed", "mean", "mode"):
        ab_t = torch_predictor.with_settings(method=method).ab(prediction).numpy()
        ab_o = onnx_predictor.with_settings(method=method).ab(logits)
        diff = np.abs(ab_o - ab_t)
        if method == "mode":   # a near-tie may pick the other bin
            assert (diff > 0.5).mean() < 1e-3
        else:
            assert diff.max() < 0.5


@pytest.mark.parametrize("name", list(_photos()))
def test_onnx_colour_photo_matches_torch_within_one_level(onnx_predictor, torch_predictor, name, recwarn):
    photo = _photos()[name]
    ours, n_ours = onnx_predictor.colorize(photo)
    theirs, n_theirs = torch_predictor.colorize(photo)
    assert ours.shape == photo.shape and ours.dtype == np.uint8
    diff = np.abs(ours.astype(np.int16) - theirs)
    over = float((diff > 1).mean())
    print(f"{name}: max {diff.max()} levels, {100 * over:.4f}% of values > 1 level")
    assert over < 1e-3 and diff.max() <= 3
    assert abs(n_ours - n_theirs) <= max(3, 1e-4 * photo.shape[0] * photo.shape[1])


# ----------------------------------------------------------------------------- numpy steps vs torch
@pytest.mark.parametrize("size", [(300, 451, 64, 96), (37, 50, 64, 86), (100, 100, 100, 37)])
def test_numpy_resizes_match_torch(size):
    h_in, w_in, h, w = size
    x = np.random.default_rng(0).random((h_in, w_in), dtype=np.float32) * 100
    ref = F.interpolate(torch.from_numpy(x)[None, None], size=(h, w), mode="bilinear", align_corners=False,
                        antialias=True)[0, 0].numpy()
    assert np.abs(steps.resize_antialiased(x, h, w) - ref).max() < 1e-3


def test_numpy_tables_are_colorclass_colors():
    from colorclass import color

    assert all(np.array_equal(a, b) for a, b in zip(steps._Y_TABLES, color._XYZ_TABLES[1]))
    np.testing.assert_array_equal(steps._GRAY_L_U8, color._GRAY_L_U8)


def test_srgb_level_tables_equal_the_float32_steps():
    rng = np.random.default_rng(0)
    c = np.concatenate([rng.random(2_000_000, dtype=np.float32) * np.float32(1.4) - np.float32(0.2),
                        rng.random(500_000, dtype=np.float32) * np.float32(0.01), np.float32([0, 1, 5, -3])])
    thresholds = np.flatnonzero(np.diff(steps._srgb_levels(np.linspace(0, 1, 200_001, dtype=np.float32))))
    near = (np.linspace(0, 1, 200_001, dtype=np.float32)[thresholds].view(np.int32)[:, None]
            + np.arange(-40, 40)).ravel().view(np.float32)
    for x in (c, near):
        index = np.clip(x * np.float32(steps._LEVEL_CELLS), 0, steps._LEVEL_CELLS).astype(np.intp)
        fast = steps._LEVEL_BASE[index] + (x >= steps._LEVEL_STEP[index])
        np.testing.assert_array_equal(fast, steps._srgb_levels(x))


def test_recombine_matches_the_decoders():
    from colorclass.decoding.decoders import recombine_full_resolution

    rng = np.random.default_rng(1)
    lightness = (rng.random((300, 451), dtype=np.float32) * 100).astype(np.float32)
    ab = (rng.random((2, 64, 96), dtype=np.float32) - 0.5) * 200
    with pytest.warns(UserWarning):
        ref, n_ref = recombine_full_resolution(torch.from_numpy(lightness)[None, None], torch.from_numpy(ab)[None],
                                               as_uint8=True)
    ours, n_ours = steps.recombine_u8(lightness, ab)
    diff = np.abs(ours.astype(np.int16) - ref[0].numpy())
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3 and abs(n_ours - n_ref) <= 5


# ----------------------------------------------------------------------------- torch-free
TORCH_FREE = """
import sys, numpy as np
from colorclass.inference.onnx_engine import OnnxPredictor
rgb, n = OnnxPredictor.load(sys.argv[1]).colorize(np.random.default_rng(0).integers(0, 256, (70, 90, 3), np.uint8))
assert rgb.shape == (70, 90, 3), rgb.shape
print("torch" in sys.modules, any(m.startswith("torch") for m in sys.modules))
"""


def test_the_onnx_engine_runs_without_torch(exported):
    out = subprocess.run([sys.executable, "-c", TORCH_FREE, str(exported)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]


# ----------------------------------------------------------------------------- refusals
def _fake_load(monkeypatch, torch_predictor, **changes):
    fake = types.SimpleNamespace(model=torch_predictor.model, bins=torch_predictor.bins, regression=False,
                                 settings=torch_predictor.settings, name="fake-run",
                                 describe=torch_predictor.describe)
    for key, value in changes.items():
        setattr(fake, key, value)
    monkeypatch.setattr(Predictor, "load", classmethod(lambda cls, *a, **k: fake))


def test_export_refuses_a_regression_run(monkeypatch, torch_predictor, tmp_path):
    _fake_load(monkeypatch, torch_predictor, regression=True)
    with pytest.raises(ColorclassError, match="regression run"):
        export_onnx("some-run", tmp_path / "m.onnx")
    assert not list(tmp_path.iterdir())


def test_export_refuses_hue_chroma_bins(monkeypatch, torch_predictor, tmp_path):
    _fake_load(monkeypatch, torch_predictor, bins=types.SimpleNamespace(decode_space="hc", centers_ab=None))
    with pytest.raises(ColorclassError, match="'hc' bins"):
        export_onnx("some-run", tmp_path / "m.onnx")


def test_export_refuses_an_old_opset_and_a_folder(tmp_path):
    with pytest.raises(ColorclassError, match="opset 13"):
        export_onnx(BUILTIN, tmp_path / "m.onnx", opset=13)
    with pytest.raises(ColorclassError, match="is a folder"):
        export_onnx(BUILTIN, tmp_path)


def test_importing_the_onnx_engine_imports_no_torch():
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import colorclass.inference.onnx_engine"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "torch" not in out.stderr


def test_network_grid_is_the_torch_paths():
    from colorclass.inference import network
    from colorclass.inference.onnx_engine import network_grid

    for h, w, size in [(3000, 4000, 64), (3000, 4000, None), (37, 50, 64), (4000, 10, None), (100, 80, 100000)]:
        assert network_grid(h, w, size) == network.network_grid(h, w, size)
