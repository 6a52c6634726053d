"""A corpus of bad photo files, built in code, through the photo layer and the data commands (issue 11).

``build_corpus`` writes good photos (several modes and shapes) beside bad ones and returns
the reason each bad file is skipped for; other test modules reuse it.
"""
import contextlib
import errno
import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colorclass.cli import main
from colorclass.photos import SkipReport, list_images, load_rgb, scan_images
from colorclass.photos.read import UnreadableImage

BAD_NAME = os.fsdecode(b"caf\xe9_latin1.png")   # not valid UTF-8 (surrogate-escaped on Linux)


def _colour(h=24, w=32, seed=0):
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = np.linspace(30, 220, w, dtype=np.uint8)[None]
    img[..., 1] = np.linspace(200, 40, h, dtype=np.uint8)[:, None]
    img[..., 2] = 90 + rng.integers(0, 20, (h, w))
    return img


def build_corpus(root: Path) -> tuple[Path, set[str], dict[str, int]]:
    """Folder of good and bad photos: (folder, good file names (relative), skip counts per reason)."""
    d = root / "corpus"
    (d / "sub").mkdir(parents=True)
    good = {}
    good["plain.png"] = _colour()
    good["sub/plain.png"] = _colour(seed=1)                     # same stem in a sub-folder
    good["photo.jpg"] = _colour(seed=2)
    good["tiny.png"] = _colour(1, 1)                             # 1 x 1
    good["small.png"] = _colour(8, 6)                            # smaller than any crop
    good["wide.png"] = _colour(10, 400)                          # extreme aspect
    good[BAD_NAME] = _colour(seed=3)                             # non-UTF-8 name
    for name, img in good.items():
        Image.fromarray(img).save(d / name)
    Image.fromarray(_colour(seed=4)).convert("RGBA").save(d / "rgba.png")
    Image.fromarray(_colour(seed=5)).convert("CMYK").save(d / "cmyk.jpg")
    pal = Image.fromarray(_colour(seed=6)).convert("P", palette=Image.ADAPTIVE, colors=16)
    pal.info["transparency"] = 0
    pal.save(d / "palette.png", transparency=0)
    rot = Image.fromarray(_colour(20, 30, seed=7))
    exif = rot.getexif()
    exif[0x0112] = 6
    rot.save(d / "rotated.jpg", exif=exif)
    good_names = {*good, "rgba.png", "cmyk.jpg", "palette.png", "rotated.jpg"}
    # colourless but readable
    Image.fromarray((np.arange(24 * 32).reshape(24, 32) % 256).astype(np.uint16) * 200).save(d / "gray16.png")
    Image.fromarray(np.repeat(_colour()[..., :1], 3, axis=2)).save(d / "equal_channels.png")
    Image.fromarray(_colour()[..., 0]).save(d / "gray.png")
    # broken
    (d / "zero.jpg").write_bytes(b"")
    buf = io.BytesIO()
    Image.fromarray(_colour(64, 64)).save(buf, "JPEG")
    (d / "truncated.jpg").write_bytes(buf.getvalue()[:300])
    (d / "text.jpg").write_text("this is a text file, not a photo")
    buf = io.BytesIO()
    Image.fromarray(_colour()).save(buf, "PNG")
    raw = bytearray(buf.getvalue())
    raw[29] ^= 0xFF                                              # the IHDR chunk's CRC no longer matches
    (d / "bad_crc.png").write_bytes(bytes(raw))
    os.symlink("..", d / "sub" / "loop")                         # a link back up the tree
    os.symlink(".", d / "self")
    reasons = {"grayscale file": 2, "no colour": 1, "empty file": 1, "not an image": 1, "corrupt": 2}
    return d, good_names, reasons


@pytest.fixture
def corpus(tmp_path):
    return build_corpus(tmp_path)


def test_symlink_loops_are_followed_once_and_reported(corpus):
    folder, good, _ = corpus
    report = SkipReport()
    files = list_images(folder, report)
    assert len(files) == len(set(files)) == 18                  # every real file once
    assert report.counts == {"symlink loop": 2}


def test_scan_counts_every_reason_and_keeps_every_good_file(corpus):
    folder, good, reasons = corpus
    kept, report = scan_images(list_images(folder, SkipReport()), progress=False)
    assert {os.fsdecode(p.relative_to(folder)) for p in kept} == good
    assert report.counts == reasons
    report.summary().encode("utf-8")                            # printable


def test_exif_rotation_and_modes_read_as_rgb(corpus):
    folder, _, _ = corpus
    assert load_rgb(folder / "rotated.jpg").shape == (30, 20, 3)
    for name in ("rgba.png", "cmyk.jpg", "palette.png", BAD_NAME):
        rgb = load_rgb(folder / name)
        assert rgb.dtype == np.uint8 and rgb.shape[2] == 3


def test_permission_denied_is_not_corrupt(corpus, monkeypatch):
    folder, _, _ = corpus
    real_open = Image.open

    def denied(path, *a, **k):
        if str(path).endswith("plain.png"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, *a, **k)

    monkeypatch.setattr(Image, "open", denied)
    with pytest.raises(UnreadableImage) as e:
        load_rgb(folder / "plain.png")
    assert e.value.reason == "permission denied"


def test_decompression_bomb_is_skipped_with_a_reason(corpus, monkeypatch):
    folder, _, _ = corpus
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    for name in ("plain.png", "wide.png"):                      # 768 px (> 2x: error), 4000 px
        with pytest.raises(UnreadableImage) as e:
            load_rgb(folder / name)
        assert e.value.reason == "too large"
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)          # 1x..2x: Pillow only warns
    with pytest.raises(UnreadableImage, match="too large"):
        load_rgb(folder / "plain.png")


def _run(argv):
    proc = subprocess.run([sys.executable, "-m", "colorclass", *argv], capture_output=True, text=True,
                          timeout=300)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def test_fit_bins_over_corpus_prints_reasons(corpus, tmp_path):
    folder, _, reasons = corpus
    out = tmp_path / "b.npz"
    proc = _run(["fit-bins", str(folder), "-o", str(out), "--k", "4", "--pixels-per-image", "50"])
    assert proc.returncode == 0, proc.stderr
    assert "skipped 7 photo(s)" in proc.stdout
    for reason in reasons:
        assert reason in proc.stdout
    assert out.is_file() and not [p for p in tmp_path.iterdir() if ".tmp" in p.name]


def test_data_and_rank_over_corpus(corpus, tmp_path, capsys):
    folder, good, reasons = corpus
    assert main(["data", str(folder)]) == 0
    assert "symlink loop: 2" in capsys.readouterr().out
    out = tmp_path / "rank.tsv"
    assert main(["rank-colorful", str(folder), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "ranked 14 images" in text                           # colourless files are still ranked
    for reason in ("empty file", "not an image", "corrupt", "symlink loop"):
        assert reason in text
    rows = out.read_text(encoding="utf-8").splitlines()
    assert len(rows) == 1 + 14 + 1 and "\\udce9" in "".join(rows)


def test_rank_full_disk_leaves_no_partial_file(corpus, tmp_path, monkeypatch, capsys):
    import colorclass.support.files as files

    folder, _, _ = corpus
    real_open = open

    def full_disk_open(path, mode="r", *a, **k):
        fh = real_open(path, mode, *a, **k)
        if "w" in mode and ".tmp" in str(path):
            fh.write(b"partial")
            fh.close()
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return fh

    monkeypatch.setattr(files, "open", full_disk_open, raising=False)
    out = tmp_path / "rank.tsv"
    assert main(["rank-colorful", str(folder), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error")]
    assert len(lines) == 1 and "No space left on device" in lines[0] and "rank.tsv" in lines[0]
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus"]


def test_fit_bins_full_disk_leaves_no_partial_file(corpus, tmp_path, monkeypatch, capsys):
    import colorclass.support.files as files

    folder, _, _ = corpus
    real_open = open

    def full_disk_open(path, mode="r", *a, **k):
        fh = real_open(path, mode, *a, **k)
        if "w" in mode and ".tmp" in str(path):
            fh.close()
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return fh

    monkeypatch.setattr(files, "open", full_disk_open, raising=False)
    assert main(["fit-bins", str(folder), "-o", str(tmp_path / "b.npz"), "--k", "4",
                 "--pixels-per-image", "20"]) == 1
    assert "No space left on device" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus"]


@pytest.mark.parametrize("argv, fragment", [
    (["fit-bins", "{data}", "-o", "{tmp}"], "is a folder"),
    (["rank-colorful", "{data}", "-o", "{tmp}"], "is a folder"),
    (["rank-colorful", "{data}", "-o", "{file}/x.tsv"], "is a file"),
    (["fit-bins", "{empty}", "-o", "{tmp}/b.npz"], "no usable photos"),
])
def test_output_and_input_mistakes_are_one_line(tmp_path, argv, fragment):
    data = tmp_path / "d"
    data.mkdir()
    Image.fromarray(_colour()).save(data / "a.png")
    (tmp_path / "empty").mkdir()
    (tmp_path / "f.txt").write_text("x")
    argv = [a.format(data=data, tmp=tmp_path, file=tmp_path / "f.txt", empty=tmp_path / "empty") for a in argv]
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(argv) == 2
    lines = [line for line in err.getvalue().splitlines() if line.strip() and "%|" not in line]
    assert len(lines) == 1 and fragment in lines[0], err.getvalue()
