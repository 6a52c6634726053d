"""Photo reading, colourless detection, skip reports, file lists, splits and pixel samples."""
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from colorclass.photos import (SkipReport, UnreadableImage, check_file, is_colourless, is_colourless_batch,
                               list_images, load_rgb, sample_pixels, scan_images, split_files)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def colourful(h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    """Smooth, saturated test photo (H, W, 3) uint8 (survives JPEG well)."""
    y, x = np.mgrid[0:h, 0:w]
    r = 128 + 110 * np.sin(x / 7 + seed)
    g = 128 + 110 * np.cos(y / 5 + seed)
    b = 128 + 110 * np.sin((x + y) / 9)
    return np.stack([r, g, b], -1).round().astype(np.uint8)


def write_png16(path: Path, a: np.ndarray) -> None:
    """Minimal 16-bit PNG writer (independent of Pillow): gray, gray+alpha, RGB or RGBA."""
    a = np.asarray(a, dtype=">u2")
    a = a[..., None] if a.ndim == 2 else a
    h, w, c = a.shape
    raw = b"".join(b"\x00" + a[y].tobytes() for y in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))
    header = struct.pack(">IIBBBBB", w, h, 16, {1: 0, 2: 4, 3: 2, 4: 6}[c], 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
                     + chunk(b"IEND", b""))


def make_problem_folder(root: Path) -> Path:
    """One good photo plus a corrupt JPEG, a text file named .jpg and a grayscale photo."""
    root.mkdir(parents=True, exist_ok=True)
    Image.fromarray(colourful()).save(root / "good.jpg", quality=95)
    full = (root / "good.jpg").read_bytes()
    (root / "corrupt.jpg").write_bytes(full[: len(full) // 2])
    (root / "notes.jpg").write_text("this is not a photo\n")
    Image.fromarray(colourful()).convert("L").save(root / "gray.jpg")
    return root


def test_folder_with_three_bad_files_reports_three_reasons(tmp_path):
    root = make_problem_folder(tmp_path / "photos")
    kept, report = scan_images(list_images(root), progress=False)
    assert kept == [root / "good.jpg"]
    assert report.total == 3
    assert report.counts == {"corrupt": 1, "not an image": 1, "grayscale file": 1}
    lines = report.summary().splitlines()
    assert len(lines) == 3 and any("notes.jpg" in line for line in lines)


@pytest.mark.parametrize("content, reason", [
    (b"", "empty file"), (b"hello\n", "not an image"), (None, "missing file"),
    (b"\xff\xd8\xff\xe0" + b"\x00garbage" * 20, "corrupt"),        # JPEG signature, garbage body
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "corrupt")])
def test_unreadable_reasons(tmp_path, content, reason):
    path = tmp_path / "x.png"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UnreadableImage) as err:
        load_rgb(path)
    assert err.value.reason == reason and "x.png" in str(err.value)


def test_exif_orientation_is_applied(tmp_path):
    a = np.zeros((20, 40, 3), np.uint8)          # H=20, W=40: red left half, blue right half
    a[:, :20] = (230, 20, 20)
    a[:, 20:] = (20, 20, 230)
    exif = Image.Exif()
    exif[0x0112] = 6                              # "rotate 90 degrees clockwise to display"
    Image.fromarray(a).save(tmp_path / "o.jpg", quality=95, exif=exif)
    rgb = load_rgb(tmp_path / "o.jpg")
    expected = np.rot90(a, k=-1)                  # clockwise: shape (40, 20), red on top
    assert rgb.shape == expected.shape == (40, 20, 3)
    assert np.abs(rgb.astype(int) - expected).mean() < 3
    assert check_file(tmp_path / "o.jpg").size == (20, 40)


def test_palette_rgba_cmyk_and_gray_modes(tmp_path):
    pal = Image.new("P", (4, 2))
    pal.putpalette([10, 200, 30, 250, 5, 99] + [0] * 762)
    pal.putdata([0, 1, 0, 1, 1, 1, 0, 0])
    pal.save(tmp_path / "p.png")
    got = load_rgb(tmp_path / "p.png")
    assert got[0, 0].tolist() == [10, 200, 30] and got[0, 1].tolist() == [250, 5, 99]

    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., :3] = (200, 40, 0)
    rgba[..., 3] = [[255, 0], [128, 64]]
    Image.fromarray(rgba).save(tmp_path / "a.png")
    got = load_rgb(tmp_path / "a.png").astype(int)
    alpha = rgba[..., 3:] / 255.0                 # composited on white
    expected = np.round(rgba[..., :3] * alpha + 255 * (1 - alpha))
    assert np.abs(got - expected).max() <= 1 and got[0, 1].tolist() == [255, 255, 255]

    Image.new("CMYK", (3, 3), (100, 0, 0, 0)).save(tmp_path / "c.tif")
    Image.new("CMYK", (3, 3), (0, 0, 0, 100)).save(tmp_path / "k.jpg")
    assert load_rgb(tmp_path / "c.tif")[1, 1].tolist() == [155, 255, 255]
    assert np.abs(load_rgb(tmp_path / "k.jpg")[1, 1].astype(int) - 155).max() <= 2

    gray = colourful()[..., 0]
    Image.fromarray(gray).save(tmp_path / "g.png")
    Image.fromarray(gray > 128).save(tmp_path / "b.png")          # mode "1"
    got = load_rgb(tmp_path / "g.png")
    assert got.shape == gray.shape + (3,) and (got == gray[..., None]).all()
    assert set(np.unique(load_rgb(tmp_path / "b.png")).tolist()) == {0, 255}


def test_16_bit_files_are_scaled_not_clipped(tmp_path):
    v = np.array([[0, 257, 1000, 32896], [40000, 65000, 65535, 128]], np.uint16)
    Image.fromarray(v).save(tmp_path / "g16.png")                # Pillow writes I;16
    Image.fromarray(v).save(tmp_path / "g16.tif")
    want = np.round(v / 257.0)
    for name in ("g16.png", "g16.tif"):
        got = load_rgb(tmp_path / name)
        assert (got == want[..., None]).all(), name

    rgb16 = np.stack([v, v[::-1], np.full_like(v, 2000)], -1)
    write_png16(tmp_path / "c48.png", rgb16)
    write_png16(tmp_path / "c64.png", np.concatenate([rgb16, np.full_like(v, 65535)[..., None]], -1))
    for name in ("c48.png", "c64.png"):
        got = load_rgb(tmp_path / name).astype(int)
        assert got.shape == (2, 4, 3) and np.abs(got - np.round(rgb16 / 257.0)).max() <= 1, name
    tifffile = pytest.importorskip("tifffile")
    tifffile.imwrite(tmp_path / "c48.tif", rgb16)
    assert np.abs(load_rgb(tmp_path / "c48.tif").astype(int) - np.round(rgb16 / 257.0)).max() <= 1


def test_lossless_formats_round_trip(tmp_path):
    a = colourful(17, 23)
    for ext in ("png", "bmp", "tiff", "webp"):
        kw = {"lossless": True} if ext == "webp" else {}
        Image.fromarray(a).save(tmp_path / f"x.{ext}", **kw)
        assert np.array_equal(load_rgb(tmp_path / f"x.{ext}"), a), ext


def test_draft_mode_decodes_large_jpeg_at_reduced_size(tmp_path):
    big = np.asarray(Image.fromarray(colourful(60, 80)).resize((800, 600), Image.BILINEAR))
    Image.fromarray(big).save(tmp_path / "big.jpg", quality=90)
    small = load_rgb(tmp_path / "big.jpg", draft_size=100)
    assert small.shape == (150, 200, 3)                           # 1/4 scale: shorter side >= 100
    ref = np.asarray(Image.fromarray(big).resize((200, 150), Image.BOX)).astype(int)
    assert np.abs(small.astype(int) - ref).mean() < 4
    with pytest.raises(ValueError, match="draft_size"):
        load_rgb(tmp_path / "big.jpg", draft_size=0)


def test_is_colourless():
    gray = np.repeat(colourful()[..., :1], 3, axis=2)
    assert is_colourless(gray)
    noisy = np.clip(gray + np.random.default_rng(0).integers(-4, 5, gray.shape), 0, 255).astype(np.uint8)
    assert is_colourless(noisy)                                   # JPEG-like chroma noise
    assert not is_colourless(colourful())
    accent = gray.copy()                                          # 100 x 100, 2 % strongly red
    accent = np.repeat(np.repeat(accent[:10, :10], 10, 0), 10, 1)
    accent[:2, :] = (255, 0, 0)
    assert not is_colourless(accent)
    accent[1, :] = accent[3, :]                                   # now 1 %: still gray
    assert is_colourless(accent)
    with pytest.raises(ValueError, match="shape"):
        is_colourless(np.zeros((4, 4)))



def test_colourless_batch_is_the_same_rule():
    """The torch batch version (masks the loss) agrees with the scan's rule on every image."""
    gray = np.repeat(colourful(100, 100)[..., :1], 3, axis=2)
    noisy = np.clip(gray + np.random.default_rng(0).integers(-4, 5, gray.shape), 0, 255).astype(np.uint8)
    tinted = np.clip(gray.astype(int) + (0, 0, 12), 0, 255).astype(np.uint8)    # spread 12 > 10
    accent = np.repeat(np.repeat(gray[:10, :10], 10, 0), 10, 1)
    accent[:1, :] = (255, 0, 0)                                                  # exactly 1 %
    accent2 = accent.copy()
    accent2[1, :1] = (255, 0, 0)                                                 # one pixel more
    images = [gray, noisy, tinted, accent, accent2, colourful(100, 100)]
    batch = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2)
    expected = [is_colourless(im) for im in images]
    assert expected == [True, True, False, True, False, False]
    assert is_colourless_batch(batch).tolist() == expected
    assert is_colourless_batch(batch[:0]).shape == (0,)
    with pytest.raises(ValueError, match="shape"):
        is_colourless_batch(batch[0])


def test_gray_photo_saved_as_rgb_jpeg_is_skipped(tmp_path):
    gray = np.repeat(colourful()[..., :1], 3, axis=2)
    Image.fromarray(gray).save(tmp_path / "g.jpg", quality=75)
    Image.fromarray(colourful()).save(tmp_path / "c.jpg", quality=75)
    kept, report = scan_images([tmp_path / "g.jpg", tmp_path / "c.jpg"], progress=False)
    assert kept == [tmp_path / "c.jpg"] and report.counts == {"no colour": 1}


def test_list_images_recursive_sorted_filtered(tmp_path):
    for rel in ("b/x.PNG", "a.jpg", "b/c/y.webp", "notes.txt", ".hidden.jpg", ".git/z.jpg"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    assert list_images(tmp_path) == [tmp_path / "a.jpg", tmp_path / "b/c/y.webp", tmp_path / "b/x.PNG"]
    with pytest.raises(FileNotFoundError, match="nope"):
        list_images(tmp_path / "nope")


def test_skip_report_merge_and_examples():
    a, b = SkipReport(max_examples=2), SkipReport()
    for i in range(3):
        a.add(f"f{i}", "corrupt")
    b.add("g", "no colour")
    a.merge(b)
    assert a.total == 4 and a.examples["corrupt"] == ["f0", "f1"]
    assert a.summary().splitlines() == ["corrupt: 3 (e.g. f0, f1)", "no colour: 1 (e.g. g)"]
    assert SkipReport().summary() == "nothing skipped"


def test_split_files_deterministic_and_disjoint():
    files = [Path(f"img{i:02d}.jpg") for i in range(20)]
    train, val = split_files(files, val_fraction=0.25, seed=3)
    assert len(val) == 5 and sorted(train + val) == files and not set(train) & set(val)
    assert split_files(files[::-1], val_fraction=0.25, seed=3) == (train, val)
    assert split_files(files, val_fraction=0.25, seed=4)[1] != val
    assert len(split_files(files[:2], val_fraction=0.01, seed=0)[1]) == 1
    with pytest.raises(ValueError, match="val_fraction"):
        split_files(files, val_fraction=1.0, seed=0)


def test_sample_pixels_even_capped_deterministic(tmp_path):
    colours = [(250, 10, 10), (10, 250, 10), (10, 10, 250), (200, 200, 0)]
    for i, c in enumerate(colours):
        Image.fromarray(np.full((10, 10 + i, 3), c, np.uint8)).save(tmp_path / f"{i}.png")
    (tmp_path / "bad.png").write_text("nope")
    px, info = sample_pixels(tmp_path, pixels_per_image=30, max_pixels=1000, seed=1, progress=False)
    assert px.dtype == np.uint8 and px.shape == (120, 3)
    counts = {c: int((px == c).all(1).sum()) for c in colours}
    assert counts == {c: 30 for c in colours}                     # evenly across the folder
    assert info["n_images"] == 4 and info["n_pixels"] == 120 and info["n_skipped"] == 1
    assert "not an image" in info["skipped"]
    capped, info = sample_pixels(tmp_path, pixels_per_image=30, max_pixels=40, seed=1, progress=False)
    assert capped.shape == (40, 3) and info["pixels_per_image"] == 10
    again, _ = sample_pixels(tmp_path, pixels_per_image=30, max_pixels=40, seed=1, progress=False)
    assert np.array_equal(capped, again)
    few, info = sample_pixels(tmp_path, pixels_per_image=30, max_pixels=3, seed=1, progress=False)
    assert few.shape == (3, 3) and info["n_images"] == 3


def test_sample_pixels_positions_depend_on_seed(tmp_path):
    Image.fromarray(colourful()).save(tmp_path / "a.png")
    a, _ = sample_pixels(tmp_path, pixels_per_image=50, max_pixels=100, seed=0, progress=False)
    b, _ = sample_pixels(tmp_path, pixels_per_image=50, max_pixels=100, seed=1, progress=False)
    assert not np.array_equal(a, b)
    assert set(map(tuple, a)) <= set(map(tuple, colourful().reshape(-1, 3)))


@pytest.mark.skipif(not (SHARED / "tiny-imagenet-val").is_dir(), reason="shared data absent")
def test_tiny_imagenet_grayscale_files_are_detected():
    root = SHARED / "tiny-imagenet-val"
    files = list_images(root)
    gray_mode = []
    for f in files:                              # header only: cheap
        with Image.open(f) as im:
            if im.mode == "L":
                gray_mode.append(f)
    assert len(gray_mode) == 168
    colourless_rgb = [root / f"val_{i}.JPEG" for i in (10005, 303, 650, 2111, 4174)]
    faint_but_coloured = [root / f"val_{i}.JPEG" for i in (6590, 1012, 4439)]  # gray with red parts
    kept, report = scan_images(gray_mode + colourless_rgb + faint_but_coloured, progress=False)
    assert report.counts == {"grayscale file": 168, "no colour": 5}
    assert kept == faint_but_coloured
