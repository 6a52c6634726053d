"""Issue 4's done-when: every network trains with --loss ce and kl (and the MSE baseline), and
colorize --decode mode|mean|annealed works for every bin family."""
import numpy as np
import pytest
from PIL import Image

from colorclass.cli import colorize_main, fit_bins_main, train_main
from colorclass.color import rgb_u8_to_lab_np
from colorclass.models import MODELS
from test_cli import make_photos


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    root = tmp_path_factory.mktemp("every")
    return make_photos(root / "photos", 6, size=(36, 44))


@pytest.fixture(scope="module")
def kmeans_bins(photos, tmp_path_factory):
    out = tmp_path_factory.mktemp("bins") / "kmeans.npz"
    assert fit_bins_main([str(photos), "-o", str(out), "--k", "8"]) == 0
    return out


def _train(photos, bins, run, model, loss, *extra):
    argv = ["--bins", str(bins), "--data", str(photos), "--val-fraction", "0.34", "--model", model,
            "--loss", loss, "--epochs", "1", "--batch-size", "2", "--crop-size", "32", "--width", "4",
            "--out", str(run), *extra]
    if model == "deep_unet":
        argv += ["--set", "model.depth=3"]
    assert train_main(argv) == 0
    return run


CASES = [(m, loss) for m in sorted(MODELS) for loss in ("ce", "kl")] + [("unet", "mse"), ("vgg_dilated", "mse")]


@pytest.mark.parametrize("model, loss", CASES)
def test_every_model_trains_and_colorizes(photos, kmeans_bins, tmp_path, model, loss):
    run = _train(photos, kmeans_bins, tmp_path / "run", model, loss)
    src = sorted(photos.iterdir())[0]
    assert colorize_main(["--run", str(run), str(src), "-o", str(tmp_path / "out")]) == 0
    out = np.asarray(Image.open(tmp_path / "out" / f"{src.stem}.png"))
    original = np.asarray(Image.open(src))
    assert out.shape == original.shape
    assert np.abs(rgb_u8_to_lab_np(out)[..., 0] - rgb_u8_to_lab_np(original)[..., 0]).mean() < 0.5


@pytest.mark.parametrize("family_args", [
    ["--family", "kmeans", "--space", "lab", "--k", "8"],
    ["--family", "gmm", "--space", "hc", "--k", "8"],
    ["--family", "hcgrid", "--k", "12"],
    ["--family", "grid", "--preset", "zhang313"],
], ids=["kmeans-lab", "gmm-hc", "hcgrid", "grid-zhang313"])
def test_every_family_decodes_every_way(photos, tmp_path, family_args):
    bins = tmp_path / "bins.npz"
    assert fit_bins_main([str(photos), "-o", str(bins), *family_args]) == 0
    run = _train(photos, bins, tmp_path / "run", "unet", "kl")
    src = sorted(photos.iterdir())[1]
    outputs = {}
    for method in ("mode", "mean", "annealed"):
        out = tmp_path / method
        assert colorize_main(["--run", str(run), "--decode", method, "--temperature", "0.38",
                              str(src), "-o", str(out)]) == 0
        outputs[method] = np.asarray(Image.open(out / f"{src.stem}.png"))
        assert outputs[method].shape == np.asarray(Image.open(src)).shape
    assert not np.array_equal(outputs["mode"], outputs["mean"])  # the rules really differ
