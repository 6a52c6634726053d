"""Colourfulness scores: golden values, an independent formula, ranking a folder, filtering."""
import csv
import math

import numpy as np
import pytest
from PIL import Image

from colorclass.photos import (ImageFolderDataset, channel_variance, colorfulness_scores, hasler_susstrunk,
                               rank_folder, scan_images)


def reference_m(img: np.ndarray) -> float:
    """Hasler-Suesstrunk M written out directly from the paper's definition."""
    r, g, b = (img[..., c].astype(np.float64).ravel() for c in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    return math.hypot(np.std(rg), np.std(yb)) + 0.3 * math.hypot(np.mean(rg), np.mean(yb))


def test_gray_scores_zero():
    gray = np.repeat(np.arange(256, dtype=np.uint8).reshape(16, 16, 1), 3, axis=2)
    assert hasler_susstrunk(gray) == 0.0 and channel_variance(gray) == 0.0


def test_golden_values_by_hand():
    red = np.full((4, 4, 3), (255, 0, 0), np.uint8)
    assert hasler_susstrunk(red) == pytest.approx(0.3 * 127.5 * math.sqrt(5))   # 85.5296
    assert channel_variance(red) == pytest.approx(14450.0)                        # var(255, 0, 0)
    two = np.array([[[255, 0, 0], [0, 0, 255]]], np.uint8)
    # rg = (255, 0), yb = (127.5, -255): std (127.5, 191.25), mean (127.5, -63.75)
    expected = math.sqrt(127.5 ** 2 + 191.25 ** 2) + 0.3 * math.sqrt(127.5 ** 2 + 63.75 ** 2)
    assert hasler_susstrunk(two) == pytest.approx(expected)                       # 272.619


def test_matches_direct_formula_on_a_photo():
    from skimage import data as skdata
    img = skdata.astronaut()
    assert hasler_susstrunk(img) == pytest.approx(reference_m(img), rel=1e-9)
    scores = colorfulness_scores(img)
    assert set(scores) == {"colorfulness", "channel_variance"} and scores["colorfulness"] > 20


def test_more_saturation_scores_higher():
    rng = np.random.default_rng(0)
    vivid = rng.integers(0, 256, (32, 32, 3)).astype(np.float64)
    gray = vivid.mean(axis=2, keepdims=True)
    pale, half = (gray + 0.2 * (vivid - gray)), (gray + 0.6 * (vivid - gray))
    m = [hasler_susstrunk(x.round().astype(np.uint8)) for x in (pale, half, vivid)]
    v = [channel_variance(x.round().astype(np.uint8)) for x in (pale, half, vivid)]
    assert m[0] < m[1] < m[2] and v[0] < v[1] < v[2]
    with pytest.raises(ValueError, match="shape"):
        hasler_susstrunk(np.zeros((4, 4), np.uint8))


@pytest.fixture
def graded(tmp_path):
    rng = np.random.default_rng(1)
    base = rng.integers(0, 256, (24, 24, 3)).astype(np.float64)
    gray = base.mean(axis=2, keepdims=True)
    for name, k in (("pale", 0.15), ("vivid", 1.0), ("mid", 0.5)):
        Image.fromarray((gray + k * (base - gray)).round().astype(np.uint8)).save(tmp_path / f"{name}.png")
    (tmp_path / "broken.png").write_text("not a png")
    return tmp_path


def test_rank_folder_writes_ranked_table(graded, tmp_path):
    out = tmp_path / "out" / "ranked.tsv"
    ranked = rank_folder(graded, out, progress=False)
    assert [p.stem for p, _ in ranked] == ["vivid", "mid", "pale"]
    assert ranked[0][1] > ranked[1][1] > ranked[2][1]
    lines = out.read_text().splitlines()
    rows = list(csv.reader(lines[:-1], delimiter="\t"))
    assert rows[0] == ["rank", "colorfulness", "channel_variance", "path"]
    assert [r[0] for r in rows[1:]] == ["1", "2", "3"] and rows[1][3].endswith("vivid.png")
    assert float(rows[1][1]) == pytest.approx(ranked[0][1], abs=1e-3)
    assert lines[-1].startswith("# skipped 1: not an image")
    rank_folder(graded, tmp_path / "ranked.csv", progress=False)
    assert (tmp_path / "ranked.csv").read_text().startswith("rank,colorfulness,")


def test_min_colorfulness_filters_scan_and_dataset(graded):
    files = sorted(graded.glob("*.png"))
    pale_m = hasler_susstrunk(np.asarray(Image.open(graded / "pale.png")))
    mid_m = hasler_susstrunk(np.asarray(Image.open(graded / "mid.png")))
    threshold = (pale_m + mid_m) / 2
    kept, report = scan_images(files, min_colorfulness=threshold, progress=False)
    assert [p.stem for p in kept] == ["mid", "vivid"]
    assert report.counts == {"not an image": 1, f"colourfulness below {threshold:g}": 1}
    ds = ImageFolderDataset(graded, crop_size=8, min_colorfulness=threshold, progress=False)
    assert [p.stem for p in ds.files] == ["mid", "vivid"]
    with pytest.raises(ValueError, match="min_colorfulness"):
        scan_images(files, min_colorfulness=-1)
