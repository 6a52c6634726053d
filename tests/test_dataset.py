"""ImageFolderDataset, crop geometry and describe_folder."""
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from colorclass.photos import ImageFolderDataset, describe_folder
from colorclass.photos.augment import CropParams, apply_crop, sample_crop, working_image
from test_data import colourful, make_problem_folder


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for i, (h, w) in enumerate([(40, 56), (48, 48), (30, 70), (20, 12)]):
        Image.fromarray(colourful(h, w, seed=i)).save(tmp_path / f"p{i}.png")
    return tmp_path


def items(ds, epoch, idx=range(4)):
    ds.set_epoch(epoch)
    return [ds[i]["rgb"] for i in idx]


def test_items_shape_dtype_and_skip_report(tmp_path):
    root = make_problem_folder(tmp_path / "photos")
    ds = ImageFolderDataset(root, crop_size=24, progress=False)
    assert len(ds) == 1 and ds.skip_report.total == 3
    item = ds[0]
    assert item["rgb"].shape == (3, 24, 24) and item["rgb"].dtype == torch.uint8 and item["index"] == 0


def test_determinism_per_seed_epoch_index(folder):
    opts = dict(crop_size=16, min_scale=0.3, rotate=10.0, shear=5.0, seed=7, progress=False)
    a, b = ImageFolderDataset(folder, **opts), ImageFolderDataset(folder, **opts)
    first = items(a, 2)
    b.set_epoch(2)
    reversed_order = [b[i]["rgb"] for i in (3, 2, 1, 0)][::-1]  # other order, same items
    assert all(torch.equal(x, y) for x, y in zip(first, reversed_order))
    other_epoch = items(a, 3)
    assert sum(not torch.equal(x, y) for x, y in zip(first, other_epoch)) >= 3
    other_seed = items(ImageFolderDataset(folder, **{**opts, "seed": 8}), 2)
    assert sum(not torch.equal(x, y) for x, y in zip(first, other_seed)) >= 3


def test_dataloader_workers_give_the_same_batches(folder):
    ds = ImageFolderDataset(folder, crop_size=16, min_scale=0.5, seed=1, progress=False)
    ds.set_epoch(5)
    single = next(iter(torch.utils.data.DataLoader(ds, batch_size=4)))
    multi = next(iter(torch.utils.data.DataLoader(ds, batch_size=4, num_workers=2)))
    assert torch.equal(single["rgb"], multi["rgb"]) and single["index"].tolist() == [0, 1, 2, 3]


def test_eval_mode_is_the_centre_crop(folder):
    ds = ImageFolderDataset(folder, crop_size=20, train=False, progress=False)
    img = colourful(40, 56, seed=0)
    assert np.array_equal(ds[0]["rgb"].permute(1, 2, 0).numpy(), img[10:30, 18:38])
    assert torch.equal(items(ds, 0)[0], items(ds, 9)[0])


def test_plain_random_crop_is_a_window_of_the_photo_or_its_mirror(folder):
    ds = ImageFolderDataset(folder, crop_size=12, seed=0, progress=False)  # min_scale=1: no rescale
    img = colourful(48, 48, seed=1)
    windows = np.lib.stride_tricks.sliding_window_view(img, (12, 12, 3))
    seen_flip = seen_plain = False
    for epoch in range(12):
        crop = items(ds, epoch, [1])[0].permute(1, 2, 0).numpy()
        plain = (windows == crop).all(axis=(-1, -2, -3, -4)).any()
        mirrored = (windows == crop[:, ::-1]).all(axis=(-1, -2, -3, -4)).any()
        assert plain or mirrored
        seen_plain |= bool(plain)
        seen_flip |= bool(mirrored)
    assert seen_plain and seen_flip


def test_small_photos_are_upscaled_and_resize_sets_the_scale(folder):
    ds = ImageFolderDataset([folder / "p3.png"], crop_size=32, train=False, progress=False)
    assert ds[0]["rgb"].shape == (3, 32, 32)                     # 20x12 photo
    assert working_image(np.zeros((20, 12, 3), np.uint8), resize=0, crop_size=32).shape == (53, 32, 3)
    assert working_image(np.zeros((30, 70, 3), np.uint8), resize=15, crop_size=8).shape == (15, 35, 3)


def test_rotation_and_shear_never_show_fill(tmp_path):
    Image.fromarray(np.full((24, 40, 3), (200, 90, 30), np.uint8)).save(tmp_path / "flat.png")
    ds = ImageFolderDataset(tmp_path, crop_size=24, rotate=30.0, shear=15.0, min_scale=0.2,
                            progress=False)
    for epoch in range(6):
        crop = items(ds, epoch, [0])[0].permute(1, 2, 0).numpy().astype(int)
        assert np.abs(crop - [200, 90, 30]).max() <= 1


def test_rotation_by_90_degrees_rotates_counter_clockwise():
    a = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    out = apply_crop(Image.fromarray(a), CropParams(4, 4, 8, angle=90.0), 8)
    assert np.abs(out.astype(int) - np.rot90(a, 1)).max() <= 1
    flipped = apply_crop(Image.fromarray(a), CropParams(4, 4, 8, flip=True), 8)
    assert np.array_equal(flipped, a[:, ::-1])


def test_sample_crop_stays_inside_and_scales():
    rng = np.random.default_rng(0)
    sides = []
    for _ in range(200):
        p = sample_crop(rng, 50, 30, crop_size=10, min_scale=0.25, rotate=20, shear=10)
        assert 0 <= p.cx <= 50 and 0 <= p.cy <= 30 and p.side <= 30
        sides.append(p.side)
    assert min(sides) < 11 and max(sides) > 17                   # zoom-out up to 2x (before rotation fit)


def test_in_memory_and_memory_mapped_cache_match_decoding(folder, tmp_path):
    same = [folder / f"p{i}.png" for i in range(3)]
    opts = dict(crop_size=16, resize=24, min_scale=0.5, seed=2, progress=False)
    plain = items(ImageFolderDataset(same, **opts), 1, range(3))
    cached = items(ImageFolderDataset(same, cache=True, **opts), 1, range(3))
    assert all(torch.equal(x, y) for x, y in zip(plain, cached))
    with pytest.raises(ValueError, match="one shape"):              # resize=24 keeps aspect ratios
        ImageFolderDataset(same, cache=tmp_path / "c.npy", **opts)
    squares = []
    for i in range(3):
        Image.fromarray(colourful(30, 30, seed=i)).save(tmp_path / f"s{i}.png")
        squares.append(tmp_path / f"s{i}.png")
    plain = items(ImageFolderDataset(squares, **opts), 1, range(3))
    mapped = items(ImageFolderDataset(squares, cache=tmp_path / "c.npy", **opts), 1, range(3))
    assert all(torch.equal(x, y) for x, y in zip(plain, mapped))
    stamp = (tmp_path / "c.npy").stat().st_mtime_ns
    ImageFolderDataset(squares, cache=tmp_path / "c.npy", **opts)
    assert (tmp_path / "c.npy").stat().st_mtime_ns == stamp      # reused, not rebuilt
    assert np.load(tmp_path / "c.npy", allow_pickle=False).shape == (3, 24, 24, 3)


@pytest.mark.parametrize("bad, match", [({"crop_size": 0}, "crop_size"), ({"min_scale": 0.0}, "min_scale"),
                                        ({"rotate": -1.0}, "rotate"), ({"seed": -1}, "seed")])
def test_invalid_options_are_refused(folder, bad, match):
    with pytest.raises(ValueError, match=match):
        ImageFolderDataset(folder, **{"crop_size": 8, "progress": False, **bad})


def test_empty_folder_is_refused_with_the_reasons(tmp_path):
    (tmp_path / "x.jpg").write_text("no")
    with pytest.raises(ValueError, match="not an image"):
        ImageFolderDataset(tmp_path, crop_size=8, progress=False)


def test_describe_folder(tmp_path):
    root = make_problem_folder(tmp_path / "photos")
    text = describe_folder(root, crop_size=16, progress=False)
    assert "photo files: 4" in text and ".jpg: 4" in text
    assert "usable: 1, skipped: 3" in text and "grayscale file: 1" in text and "corrupt: 1" in text
    assert "width  min 64  median 64  max 64" in text
    assert "rgb (3, 16, 16) uint8" in text and "net input (1, 16, 16)" in text
    l_lo, l_hi = [float(v) for v in text.split(" L [")[1].split("]")[0].split(", ")]
    assert 0.0 <= l_lo < l_hi <= 100.0


def test_repeat_gives_distinct_crops_of_each_photo(tmp_path):
    from colorclass.photos.dataset import ImageFolderDataset

    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(tmp_path / f"p{i}.png")
    ds = ImageFolderDataset(tmp_path, crop_size=16, repeat=3, seed=0, progress=False)
    assert len(ds) == 6
    crops = [ds[i]["rgb"] for i in range(6)]
    assert not torch.equal(crops[0], crops[2])      # same photo, another crop
    assert torch.equal(crops[0], ds[0]["rgb"])      # deterministic
    with pytest.raises(ValueError, match="repeat"):
        ImageFolderDataset(tmp_path, crop_size=16, repeat=0, progress=False)
