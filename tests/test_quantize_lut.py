"""Lookup-table encoders: table layout, coarse hard tables on real photos, output buffers, validation.

(8-bit hard tables == exact encoder and the soft-table tolerance are in test_quantize_encoding.py.)
Stated here: every table entry is the exact target of its cell's centre colour, whatever colour
of the cell is looked up; on photos a 7-bit hard table mislabels fewer than 8% of pixels, each
with a bin less than 3 ab units farther than the nearest one (a 7-bit cell is that small).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import quantize
from quantize.features import rgb01_to_lab
from quantize.encoder import cell_centre_colours

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def photo_batch() -> torch.Tensor:
    """(B, 3, 32, 32) uint8: CIFAR horse photos, or a smooth synthetic batch without shared data."""
    folder = SHARED / "cifar10" / "test" / "horse"
    if folder.is_dir():
        from colorclass.photos import list_images, load_rgb
        imgs = np.stack([load_rgb(f) for f in list_images(folder)[:40]])
        return torch.from_numpy(imgs).permute(0, 3, 1, 2).contiguous()
    x = torch.rand(40, 3, 4, 4, generator=torch.Generator().manual_seed(0)) * 255
    return torch.nn.functional.interpolate(x, size=(32, 32), mode="bilinear").round().to(torch.uint8)


def pixels_of(x: torch.Tensor) -> np.ndarray:
    return x.permute(0, 2, 3, 1).reshape(-1, 3).numpy().astype(np.float32) / 255


@pytest.fixture(scope="module")
def batch() -> torch.Tensor:
    return photo_batch()


@pytest.fixture(scope="module")
def grid() -> quantize.Bins:
    return quantize.make_bins("grid", preset="zhang313").build()


def test_table_entries_are_exact_targets_of_cell_centres(grid):
    enc = grid.encoder(bits=5, hard_bits=5)
    keys = np.random.default_rng(0).choice(2 ** 15, 500, replace=False)
    centres = cell_centre_colours(5)[keys]
    levels = np.floor(centres * 255).astype(np.uint8)           # any colour inside those cells
    x = torch.from_numpy(levels.T.reshape(1, 3, 500, 1).copy())
    idx, w = enc.soft(x)
    e_idx, e_w = grid.encode_soft_exact(centres)
    np.testing.assert_array_equal(idx[0, :, :, 0].T.numpy(), e_idx)
    np.testing.assert_allclose(w[0, :, :, 0].T.numpy(), e_w, atol=1e-5)  # float32 Lab, other batching
    np.testing.assert_array_equal(enc.hard(x)[0, :, 0].numpy(), grid.encode_hard_exact(centres))


def test_7bit_hard_table_errs_only_at_bin_borders(grid, batch):
    labels = grid.encoder(hard_bits=7).hard(batch).reshape(-1).numpy()
    rgb = pixels_of(batch)
    exact = grid.encode_hard_exact(rgb)
    assert (labels != exact).mean() < 0.08
    ab = rgb01_to_lab(rgb)[:, 1:]
    extra = (np.linalg.norm(ab - grid.centers[labels], axis=1) - np.linalg.norm(ab - grid.centers[exact], axis=1))
    assert extra.max() < 3.0   # a 7-bit cell spans < 3 ab units around its centre


def test_out_buffers_and_input_validation(grid, batch):
    enc = grid.encoder(hard_bits=6)
    out = (torch.full((batch.shape[0], 5, 32, 32), -1, dtype=torch.int64), torch.zeros(batch.shape[0], 5, 32, 32))
    idx, w = enc.soft(batch, out=out)
    assert idx.data_ptr() == out[0].data_ptr()
    ref_idx, ref_w = enc.soft(batch)
    assert torch.equal(idx, ref_idx) and torch.equal(w, ref_w)
    with pytest.raises(ValueError, match="out idx must be"):
        enc.soft(batch, out=(out[0][:1], out[1]))
    with pytest.raises(ValueError, match=r"uint8 tensor \(B, 3, H, W\), got torch.float32"):
        enc.hard(batch.float())
    with pytest.raises(ValueError, match=r"got torch.uint8 \(3, 32, 32\)"):
        enc.soft(batch[0])
    with pytest.raises(ValueError, match=r"n \(soft-target neighbours\) must be an integer >= 1, got 0"):
        grid.encoder(n=0)
    with pytest.raises(ValueError, match="bits must be an integer in"):
        grid.encoder(bits=9)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu(grid, batch):
    cpu, gpu = grid.encoder(hard_bits=6), grid.encoder(hard_bits=6, device="cuda")
    assert torch.equal(cpu.hard(batch), gpu.hard(batch).cpu())
    assert torch.equal(cpu.soft(batch)[0], gpu.soft(batch)[0].cpu())
