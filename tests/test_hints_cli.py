"""User-guided colourisation from the command line (issue 19): colorize --hints (a hint-aware run,
or --method levin without a network), suggest, and evaluate --hints (the hint curve)."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from test_hints_training import COLOURS, train_two_colour_model, two_colour_bins

import quantize
from colorclass.builtin import builtin_run_dir
from colorclass.cli import main
from colorclass.color import lab_to_rgb, rgb_u8_to_lab_np
from colorclass.inference.predictor import Predictor

GENERAL_BINS = Path(__file__).resolve().parents[1] / "colorclass" / "builtin" / "general" / "bins.npz"


def lab_photo(lightness: np.ndarray, ab: tuple[float, float], seed: int = 0) -> np.ndarray:
    """(H, W, 3) uint8 sRGB of Lab (lightness + a little texture, one chroma)."""
    rng = np.random.default_rng(seed)
    lab = torch.empty(3, *lightness.shape)
    lab[0] = torch.from_numpy(lightness + rng.uniform(0, 6, lightness.shape)).float()
    lab[1], lab[2] = ab
    return (lab_to_rgb(lab) * 255).round().clamp(0, 255).byte().permute(1, 2, 0).numpy()


def save(rgb: np.ndarray, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path)
    return path


def write_hints(path: Path, points) -> Path:
    path.write_text(json.dumps(points))
    return path


def chroma(path: Path) -> np.ndarray:
    """(2, H, W) Lab chroma of a written photo."""
    return rgb_u8_to_lab_np(np.asarray(Image.open(path).convert("RGB")))[..., 1:].transpose(2, 0, 1)


@pytest.fixture(scope="module")
def hint_run(tmp_path_factory) -> Path:
    """A hint-aware tiny run folder: a U-Net trained on whole-photo colours that only a hint can
    tell apart (tests/test_hints_training.py), written as config.toml + bins.npz + model.safetensors."""
    from safetensors.torch import save_file

    from colorclass.runs.experiment import config_to_toml, load_config

    run = tmp_path_factory.mktemp("hint_run")
    bins = two_colour_bins()
    model = train_two_colour_model(bins, steps=150)
    bins.save(run / "bins.npz")
    cfg = load_config(None, [f"out={run}", "model.hints=true", "model.width=8", "loss.name=ce",
                             "bins.family=grid", f"bins.k={bins.n_bins}", "decode.method=mean"])
    (run / "config.toml").write_text(config_to_toml(cfg))
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(run / "model.safetensors"))
    return run


def test_train_with_model_hints_makes_a_hint_aware_run(tmp_path):
    for i in range(4):
        save(lab_photo(np.full((16, 16), 55.0), COLOURS[i % 2], seed=i), tmp_path / "train" / f"p{i}.png")
    run = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "train"), "--val-fraction", "0.25", "--width", "4",
                 "--epochs", "1", "--batch-size", "2", "--crop-size", "16", "--out", str(run),
                 "--set", "model.hints=true", "--set", "bins.k=4"]) == 0
    assert "hints = true" in (run / "config.toml").read_text()
    assert Predictor.load(run, device="cpu").hint_aware


def test_colorize_with_hints_follows_the_hint_with_a_hint_aware_run(hint_run, tmp_path):
    photo = save(lab_photo(np.full((16, 16), 55.0), COLOURS[0], seed=99), tmp_path / "photo.png")
    for k, ab in enumerate(COLOURS):
        hints = write_hints(tmp_path / f"h{k}.json", [{"x": 8, "y": 8, "colour": list(ab), "size": 3}])
        assert main(["colorize", "--run", str(hint_run), "--hints", str(hints), str(photo),
                     "-o", str(tmp_path / f"out{k}")]) == 0
        got = chroma(tmp_path / f"out{k}" / "photo.png")[:, 5:12, 5:12].reshape(2, -1).mean(1)
        assert np.linalg.norm(got - np.array(ab)) < 20, (k, got)


def test_levin_colours_each_side_from_its_hint_without_bleeding_across_a_strong_edge(tmp_path):
    lightness = np.full((40, 48), 30.0)
    lightness[:, 24:] = 85.0   # a strong edge down the middle; one hint on each side, near the edge
    photo = save(lab_photo(lightness, (0.0, 0.0)), tmp_path / "edge.png")
    points = [{"x": 4, "y": 20, "colour": [45, 30], "size": 3}, {"x": 26, "y": 20, "colour": [-25, 20], "size": 3}]
    hints = write_hints(tmp_path / "h.json", points)
    assert main(["colorize", "--method", "levin", "--hints", str(hints), str(photo), "-o", str(tmp_path / "o")]) == 0
    ab = chroma(tmp_path / "o" / "edge.png")
    left, right = ab[:, :, 16:23].reshape(2, -1), ab[:, :, 30:].reshape(2, -1)   # near the edge, far from hints
    assert np.linalg.norm(left.mean(1) - [45, 30]) < 10, left.mean(1)
    assert np.linalg.norm(right.mean(1) - [-25, 20]) < 10, right.mean(1)
    assert (np.linalg.norm(left - np.array([[45], [30]]), axis=0) < 20).all()   # no pixel takes the other side


def test_hint_mistakes_are_one_line_and_exit_2(tmp_path, capsys):
    photo = save(lab_photo(np.full((16, 20), 55.0), COLOURS[0]), tmp_path / "p.png")
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("[{x: 1}")
    outside = write_hints(tmp_path / "out.json", [{"x": 20, "y": 3, "colour": "#c83c1e"}])
    cases = [
        (["--method", "levin", "--hints", str(bad_json), str(photo)], "not valid JSON"),
        (["--method", "levin", "--hints", str(outside), str(photo)], "x=20 is outside"),
        (["--method", "levin", str(photo)], "--hints"),
        (["--method", "levin", "--hints", str(outside), str(tmp_path)], "one photo"),
        (["--method", "levin", "--hints", str(outside), str(photo), str(photo)], "one photo"),
    ]
    for args, words in cases:
        capsys.readouterr()
        assert main(["colorize", *args, "-o", str(tmp_path / "o")]) == 2, args
        err = capsys.readouterr().err.strip()
        assert words in err and len(err.splitlines()) == 1, (args, err)
    assert not (tmp_path / "o").exists()


def test_a_run_that_is_not_hint_aware_refuses_hints_in_one_line(tmp_path, capsys):
    photo = save(lab_photo(np.full((16, 20), 55.0), COLOURS[0]), tmp_path / "p.png")
    hints = write_hints(tmp_path / "h.json", [{"x": 2, "y": 3, "colour": "#c83c1e"}])
    assert main(["colorize", "--model", "general", "--hints", str(hints), str(photo), "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert "not hint-aware" in err and len(err.splitlines()) == 1


class Bimodal(torch.nn.Module):
    """A fake network: the same bimodal distribution (60 % / 40 % on two distant bins) everywhere."""

    in_channels, output_stride, input_multiple = 1, 1, 1

    def __init__(self, probs: np.ndarray):
        super().__init__()
        self.register_buffer("logits", torch.log(torch.as_tensor(probs, dtype=torch.float32)))

    def forward(self, x):
        return self.logits[None, :, None, None].expand(x.shape[0], -1, *x.shape[2:])


def test_suggest_gives_the_modes_of_the_distribution(tmp_path, capsys, monkeypatch):
    bins = quantize.load_bins(GENERAL_BINS)
    centers = bins.centers_ab
    first, second = (int(np.argmin(np.linalg.norm(centers - np.array(c), axis=1))) for c in ((40, 30), (-30, 30)))
    probs = np.full(bins.n_bins, 1e-6)
    probs[first], probs[second] = 0.6, 0.4
    fake = Predictor.for_model(Bimodal(probs / probs.sum()), bins)
    monkeypatch.setattr(Predictor, "load", classmethod(lambda cls, *a, **k: fake))
    photo = save(lab_photo(np.full((12, 14), 60.0), (0.0, 0.0)), tmp_path / "p.png")
    assert main(["suggest", str(photo), "--at", "3,4", "-k", "3", "--json", "-o", str(tmp_path / "s.png")]) == 0
    out = json.loads(capsys.readouterr().out)
    got = [s["ab"] for s in out["suggestions"]]
    assert np.allclose(got[0], centers[first], atol=1e-3) and np.allclose(got[1], centers[second], atol=1e-3)
    assert out["suggestions"][0]["probability"] > out["suggestions"][1]["probability"] > 0.3
    assert out["suggestions"][0]["hex"].startswith("#") and (tmp_path / "s.png").is_file()
    assert main(["suggest", str(photo), "--at", "3,4"]) == 0
    assert out["suggestions"][0]["hex"] in capsys.readouterr().out
    assert main(["suggest", str(photo), "--at", "14,4"]) == 2
    err = capsys.readouterr().err.strip()
    assert "outside the photo" in err and len(err.splitlines()) == 1


def test_evaluate_hints_writes_the_hint_curve(hint_run, tmp_path):
    for i in range(3):
        save(lab_photo(np.full((16, 20), 55.0), COLOURS[i % 2], seed=i), tmp_path / "photos" / f"q{i}.png")
    out = tmp_path / "curve.json"
    assert main(["evaluate", "--run", str(hint_run), str(tmp_path / "photos"), "--hints", "0,1,5",
                 "--compare", str(builtin_run_dir("general")), "--baselines", "gray", "-o", str(out)]) == 0
    curve = json.loads(out.read_text())["hint_curve"]
    assert curve["counts"] == [0, 1, 5] and curve["n_images"] == 3
    assert curve["hinted_pixels"]["0"] == 0 < curve["hinted_pixels"]["1"] <= curve["hinted_pixels"]["5"]
    by_name = {m["kind"]: m for m in curve["methods"]}
    assert set(by_name) == {"run", "compare", "levin", "baseline"}
    assert [("skipped" in p) for p in by_name["compare"]["points"]] == [False, True, True]
    run_auc = [p["auc_ab"] for p in by_name["run"]["points"]]
    assert run_auc[2] > run_auc[0]                  # hints help the hint-aware run
    gray = [p["auc_ab"] for p in by_name["baseline"]["points"]]
    assert gray[0] == gray[1] == gray[2]
    assert by_name["levin"]["points"][0]["auc_ab"] == pytest.approx(gray[0], abs=1e-6)   # no hint: gray
    assert out.with_suffix(".md").read_text().count("\n|") >= 4 and out.with_suffix(".png").is_file()
    levin = by_name["levin"]["points"]        # levin pins the hinted pixels: only uint8 rounding is left
    assert "hint_ab_error" not in levin[0] and levin[2]["hint_ab_error"] < 1.5 and levin[2]["hint_within_3"] > 0.95
    assert 0 <= by_name["run"]["points"][2]["hint_within_3"] <= 1
    assert "hint_ab_error" not in by_name["baseline"]["points"][2]
    assert "At the hinted pixels" in out.with_suffix(".md").read_text()


def test_an_exported_hint_aware_run_takes_hints_in_the_onnx_engine(hint_run, tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from colorclass.inference.engines import load_predictor
    from colorclass.inference.onnx_engine import OnnxPredictor
    from colorclass.support.errors import UsageError

    onnx_file = tmp_path / "hints.onnx"
    assert main(["export", str(hint_run), "-o", str(onnx_file)]) == 0
    fast = load_predictor(onnx_file, engine="auto")
    assert isinstance(fast, OnnxPredictor) and fast.hint_aware
    photo = lab_photo(np.full((16, 16), 55.0), COLOURS[0], seed=99)
    reference = Predictor.load(hint_run, device="cpu")
    from colorclass.hints.points import Hint

    for ab in COLOURS:   # the hinted region takes the hint's colour, as with the torch engine
        hints = [Hint(x=8, y=8, ab=ab, size=3)]
        got, _ = fast.colorize(photo, hints=hints)
        want, _ = reference.colorize(photo, hints=hints)
        assert np.abs(got.astype(int) - want.astype(int)).max() <= 1
        centre = rgb_u8_to_lab_np(got)[5:12, 5:12, 1:].reshape(-1, 2).mean(0)
        assert np.linalg.norm(centre - np.array(ab)) < 20, (ab, centre)
    hints = write_hints(tmp_path / "h.json", [{"x": 8, "y": 8, "colour": list(COLOURS[1]), "size": 3}])
    source = save(photo, tmp_path / "photo.png")
    assert main(["colorize", "--run", str(onnx_file), "--hints", str(hints), str(source), "-o", str(tmp_path / "o"),
                 "--engine", "onnx"]) == 0
    centre = chroma(tmp_path / "o" / "photo.png")[:, 5:12, 5:12].reshape(2, -1).mean(1)
    assert np.linalg.norm(centre - np.array(COLOURS[1])) < 20
    general = OnnxPredictor.load(builtin_run_dir("general") / "model.onnx")
    with pytest.raises(UsageError, match="not hint-aware"):
        general.colorize(photo, hints=[Hint(x=1, y=1, ab=(10.0, 10.0))])
