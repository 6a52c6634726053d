"""Starting a run from earlier weights (``model.init_from``, ``builtin:NAME``), averaging the
weights of two runs (``models.average_state_dicts``), and the fast paths of bin fitting: one decode per photo, distinct-colour counting, k-means on a subsample."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from PIL import Image

import quantize
from colorclass.builtin import builtin_run_dir
from colorclass.models import average_state_dicts, build_model, init_from_weights
from colorclass.photos import colourless, sample_pixels
from colorclass.photos import read as photo_read
from colorclass.runs.loading import load_run, load_weights
from colorclass.training.train_run import init_source
from quantize.kmeans import _count_distinct


def test_builtin_source_resolves_and_fine_tuning_copies_every_weight():
    assert init_source("builtin:general") == builtin_run_dir("general")
    assert init_source("runs/x") == "runs/x"
    run = load_run(builtin_run_dir("general"), device="cpu")
    model = build_model("unet", out_channels=run.bins.n_bins, width=48, head_kernel=1, output_stride=2)
    assert type(model) is type(run.model)   # same architecture, fresh random weights
    weights = load_weights(init_source("builtin:general"))
    assert init_from_weights(model, {"module." + k: v for k, v in weights.items()}) == "fine-tune"
    for k, v in model.state_dict().items():
        assert torch.equal(v, weights[k]), k


def test_weights_of_another_width_are_refused_in_one_line():
    weights = load_weights(builtin_run_dir("general"))
    model = build_model("unet", out_channels=313, width=32, head_kernel=1, output_stride=2)
    with pytest.raises(ValueError, match="do not fit this model"):
        init_from_weights(model, weights)


def test_average_of_two_models_is_the_weighted_mean_of_every_tensor():
    torch.manual_seed(0)
    a = build_model("unet", out_channels=5, width=8).state_dict()
    b = build_model("unet", out_channels=5, width=8).state_dict()
    b = {"module." + k: v + 1 if v.is_floating_point() else v + 3 for k, v in b.items()}   # a DDP copy
    soup = average_state_dicts(a, b, weight=0.25)
    assert soup.keys() == a.keys()
    for k, v in a.items():
        if v.is_floating_point():
            assert soup[k].dtype == v.dtype
            torch.testing.assert_close(soup[k], 0.25 * v + 0.75 * b["module." + k])
        else:   # the batch-norm counters come from the first
            assert torch.equal(soup[k], v)
    for k, v in average_state_dicts(a, b, weight=1.0).items():
        assert torch.equal(v, a[k])
    model = build_model("unet", out_channels=5, width=8)
    model.load_state_dict(soup)   # loads as any checkpoint of the architecture


def test_averaging_refuses_other_shapes_and_weights_outside_0_1():
    a = build_model("unet", out_channels=5, width=8).state_dict()
    with pytest.raises(ValueError, match="names or shapes"):
        average_state_dicts(a, build_model("unet", out_channels=6, width=8).state_dict())
    with pytest.raises(ValueError, match="weight must be in"):
        average_state_dicts(a, a, weight=1.5)


def _experiment_script(name: str):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[1] / "experiments" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_average_weights_script_writes_a_loadable_run_and_never_overwrites(tmp_path, capsys):
    script = _experiment_script("average_weights")
    out = tmp_path / "soup"
    assert script.main(["builtin:general", "builtin:general", "--weight", "0.3", "--out", str(out)]) == 0
    run = load_run(out, device="cpu")   # the built-in's records, weights averaged with themselves
    for k, v in load_weights(builtin_run_dir("general")).items():
        torch.testing.assert_close(run.model.state_dict()[k], v)
    before = (out / "model.safetensors").read_bytes()
    assert script.main(["builtin:general", "builtin:general", "--out", str(out)]) == 2
    assert "exists" in capsys.readouterr().err
    assert (out / "model.safetensors").read_bytes() == before


def test_count_distinct_matches_numpy_unique():
    rng = np.random.default_rng(0)
    px = rng.integers(0, 256, size=(20_000, 3), dtype=np.uint8)
    px[::7] = px[0]                                   # plenty of repeats
    px[1] = (255, 255, 255)
    assert _count_distinct(px) == len(np.unique(px, axis=0))


def test_is_colourless_matches_the_rule_written_out():
    rng = np.random.default_rng(1)
    for _ in range(50):
        img = rng.integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
        spread_ok = rng.integers(0, 12)
        gray = rng.integers(0, 256 - 12, size=(16, 16, 1), dtype=np.uint8)
        img = np.where(rng.random((16, 16, 1)) < 0.985, gray + rng.integers(0, spread_ok + 1, (16, 16, 3),
                                                                            dtype=np.uint8), img)
        px = img.reshape(-1, 3).astype(int)
        coloured = (px.max(1) - px.min(1)) > colourless.COLOURLESS_TOL
        assert colourless.is_colourless(img) == (coloured.sum() <= colourless.COLOURLESS_FRACTION * len(px))


def test_sampling_decodes_each_photo_once_and_fewer_pixels_are_a_prefix(tmp_path, monkeypatch):
    rng = np.random.default_rng(2)
    for i in range(6):
        Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)).save(tmp_path / f"p{i}.png")
    calls = []
    real = photo_read.load_with_info
    monkeypatch.setattr("colorclass.photos.scan.load_with_info",
                        lambda path, draft: calls.append(path) or real(path, draft))
    many, info = sample_pixels(tmp_path, pixels_per_image=50, max_pixels=10_000, seed=3, progress=False)
    assert len(calls) == 6 and info["n_images"] == 6 and len(many) == 300
    few, info = sample_pixels(tmp_path, pixels_per_image=50, max_pixels=60, seed=3, progress=False)
    assert info["pixels_per_image"] == 10
    np.testing.assert_array_equal(few.reshape(6, 10, 3), many.reshape(6, 50, 3)[:, :10])


def test_kmeans_on_a_subsample_finds_the_same_clusters():
    rng = np.random.default_rng(4)
    centres = rng.integers(20, 236, size=(4, 3))
    px = np.clip(centres[rng.integers(0, 4, 60_000)] + rng.normal(0, 4, (60_000, 3)), 0, 255).astype(np.uint8)
    full = quantize.make_bins("kmeans", space="rgb", k=4, seed=0)
    full.max_fit_pixels = 10**9
    sub = quantize.make_bins("kmeans", space="rgb", k=4, seed=0)
    sub.max_fit_pixels = 5_000
    full.fit(px), sub.fit(px)
    np.testing.assert_allclose(sub.centers * 255, full.centers * 255, atol=1.0)
    again = quantize.make_bins("kmeans", space="rgb", k=4, seed=0)
    again.max_fit_pixels = 5_000
    np.testing.assert_array_equal(again.fit(px).centers, sub.centers)


def test_process_pool_sampling_equals_serial_sampling(tmp_path, monkeypatch):
    from colorclass.photos import sample, scan

    rng = np.random.default_rng(5)
    for i in range(12):
        Image.fromarray(rng.integers(0, 256, (16, 24, 3), dtype=np.uint8)).save(tmp_path / f"p{i:02d}.png")
    Image.fromarray(np.full((16, 24, 3), 128, np.uint8)).save(tmp_path / "flat.png")   # no colour
    serial, info_s = sample_pixels(tmp_path, pixels_per_image=40, max_pixels=300, seed=7, progress=False)
    scan._CHECKS.clear()
    monkeypatch.setattr(sample, "_FILES_PER_WORKER", 4)
    monkeypatch.setattr(sample, "_WORKERS", 2)
    parent, real = os.getpid(), scan.load_with_info

    def decode_in_workers_only(path, draft):
        assert os.getpid() != parent, "the parent decoded a photo: the workers' checks did not reach its memo"
        return real(path, draft)

    monkeypatch.setattr(scan, "load_with_info", decode_in_workers_only)
    pooled, info_p = sample_pixels(tmp_path, pixels_per_image=40, max_pixels=300, seed=7, progress=False)
    np.testing.assert_array_equal(pooled, serial)
    assert info_p == info_s and info_p["n_skipped"] == 1
