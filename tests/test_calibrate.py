"""calibrate: picks the known best temperature on a constructed case; stores it for load_run."""
import json

import numpy as np
import pytest
import torch
from evalrun import COLOURS, train_tiny_run

import quantize
from colorclass.evaluation.calibrate import choose_setting, sweep, sweep_settings
from colorclass.cli import main
from colorclass.decoding.decoders import recombine_full_resolution
from colorclass.inference.network import Prediction, to_uint8
from colorclass.inference.predictor import Predictor

pytestmark = pytest.mark.filterwarnings("ignore::colorclass.color.GamutWarning")


def _bins():
    rng = np.random.default_rng(0)
    pixels = np.concatenate([COLOURS, [[128, 128, 128]]])[rng.integers(0, 5, 4000)]
    noisy = (pixels + rng.integers(-20, 21, pixels.shape)).clip(0, 255).astype(np.uint8)
    return quantize.fit_bins(quantize.make_bins("kmeans", k=6, space="rgb", seed=0), noisy, progress=False)


@pytest.mark.parametrize("best", [0.2, 0.6])
def test_sweep_picks_the_temperature_the_truth_was_made_with(best):
    bins = _bins()
    gen = torch.Generator().manual_seed(3)
    pairs = []
    for _ in range(3):
        logits = 2.0 * torch.randn(1, bins.n_bins, 6, 7, generator=gen)
        l_full = 40 + 30 * torch.rand(1, 1, 6, 7, generator=gen)
        pred = Prediction(l_full, l_full, l_full, logits)
        ab = Predictor.for_model(None, bins, method="annealed", temperature=best).ab(pred)
        truth = to_uint8(recombine_full_resolution(l_full, ab)[0])[0]
        pairs.append((pred, truth))
    rows = sweep(pairs, Predictor.for_model(None, bins), sweep_settings((0.1, best, 0.9)))
    assert [r["method"] for r in rows] == ["mode", "annealed", "annealed", "annealed", "mean"]
    for metric in ("auc_ab", "auc_ab_rebalanced", "ab_rmse", "psnr"):
        chosen = choose_setting(rows, metric)
        assert (chosen["method"], chosen["temperature"]) == ("annealed", best), metric
    assert choose_setting(rows, "auc_ab")["auc_ab"] == 1.0


def test_choose_minimises_gaps_and_rejects_unknown_metric():
    rows = [{"colorfulness_gap": 3.0, "x": 0}, {"colorfulness_gap": 1.0, "x": 1}]
    assert choose_setting(rows, "colorfulness_gap")["x"] == 1
    with pytest.raises(ValueError, match="--metric"):
        choose_setting(rows, "accuracy")


def test_calibrate_stores_temperature_and_refuses_training_photos(tmp_path, capsys):
    data, held_out, run = train_tiny_run(tmp_path)
    assert main(["calibrate", "--run", str(run), str(data)]) == 2
    assert "were used to train the run" in capsys.readouterr().err
    assert not (run / "calibration.json").exists()
    assert main(["calibrate", "--run", str(run), str(held_out), "--temperatures", "0.2,0.5",
                 "--metric", "auc_ab"]) == 0
    cal = json.loads((run / "calibration.json").read_text())
    assert cal["metric"] == "auc_ab" and cal["data"] == str(held_out) and len(cal["sweep"]) == 4
    best = max(cal["sweep"], key=lambda r: r["auc_ab"])
    assert cal["method"] == best["method"]
    assert (run / "calibration.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    settings = Predictor.load(run, device="cpu").settings
    assert settings.sources["temperature"] == "calibration" and settings.method == cal["method"]
    assert settings.temperature == cal["temperature"] and settings.calibrated_on == str(held_out)
    assert f"calibrated on {len(list(held_out.iterdir()))} photos of {held_out}" in capsys.readouterr().out
    assert main(["evaluate", "--run", str(run), str(held_out), "-o", str(tmp_path / "m.json")]) == 0
    m = json.loads((tmp_path / "m.json").read_text())
    assert m["temperature_source"] == "calibration" and m["temperature"] == cal["temperature"]


def test_colourfulness_constraint_picks_the_best_setting_within_the_gap():
    rows = [{"auc_ab_rebalanced": 0.80, "colorfulness_gap": 9.0, "x": 0},   # best, but garish
            {"auc_ab_rebalanced": 0.78, "colorfulness_gap": 4.0, "x": 1},
            {"auc_ab_rebalanced": 0.75, "colorfulness_gap": 0.5, "x": 2}]
    assert choose_setting(rows, "auc_ab_rebalanced")["x"] == 0
    assert choose_setting(rows, "auc_ab_rebalanced", max_colorfulness_gap=5)["x"] == 1
    assert choose_setting(rows, "auc_ab_rebalanced", max_colorfulness_gap=0.1)["x"] == 2   # none within: closest
