"""Figure 6: ``colorize`` as a user runs it (whole process: start, read, predict, full-resolution
merge, write) on one synthetic 4000x3000 JPEG, and photos/s on a folder of 100 Tiny ImageNet
photos. The run is a one-epoch CIFAR-10 horse U-Net made once per suite (see ``train.trained_run``),
or ``colorclass/builtin/general`` when this tree has it.
"""
from __future__ import annotations

import importlib.util
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from common import PYTHON, ROOT, SHARED, Figure, run_child, seconds_figure, spread


def synthetic_12mp(folder: Path) -> Path:
    """A 4000x3000 JPEG (quality 90): a Tiny ImageNet photo upscaled, plus mild noise."""
    from PIL import Image
    src = sorted((SHARED / "tiny-imagenet-val").glob("*.JPEG"))
    rng = np.random.default_rng(0)
    im = (Image.open(src[7]).convert("RGB") if src else
          Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)))
    a = np.asarray(im.resize((4000, 3000), Image.BICUBIC)).astype(np.int16)
    a += rng.integers(-4, 5, a.shape, dtype=np.int16)
    path = folder / "photo_12mp.jpg"
    Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).save(path, quality=90)
    return path


def pillow_yardstick(path: Path, out: Path) -> float:
    """Seconds to decode ``path`` and encode it again as JPEG quality 95 (in this process)."""
    from PIL import Image
    t = time.perf_counter()
    with Image.open(path) as im:
        im.load()
        im.save(out / "yardstick.jpg", quality=95)
    return time.perf_counter() - t


def size_option(run_dir: Path) -> list[str]:
    """The one-epoch CIFAR run keeps the photo's size (data.resize = 0), which would run the network
    on all 12 megapixels; it is run at 256 (the built-in model's scale) instead."""
    return [] if run_dir.parent.name == "builtin" else ["--size", "256"]


def the_run(quick: bool) -> Path:
    builtin = ROOT / "colorclass" / "builtin" / "general"
    if builtin.is_dir():
        return builtin
    import train
    return train._RUN_DIR or train.trained_run(quick)[0]


def run(quick: bool, only) -> list[Figure]:
    figures = []
    run_dir = the_run(quick)
    tmp = Path(tempfile.mkdtemp(prefix="colorclass-bench-colorize-"))
    if only("colorize_12mp") or only("colorize_12mp_onnx"):
        photo = synthetic_12mp(tmp)
        times, rss, yard = [], [], []
        onnx_times, onnx_rss = [], []
        has_onnx = (run_dir / "model.onnx").is_file() and importlib.util.find_spec("onnxruntime") is not None
        for i in range(2 if quick else 4):
            out = tmp / f"out{i}"
            seconds, peak, _ = run_child([PYTHON, "-m", "colorclass", "colorize", "--run", str(run_dir),
                                          str(photo), "-o", str(out), "--engine", "torch", *size_option(run_dir)])
            times.append(seconds)
            rss.append(peak)
            yard.append(pillow_yardstick(photo, tmp))
            if has_onnx:   # the torch-free engine, same photo, same run of the suite
                seconds, peak, _ = run_child([PYTHON, "-m", "colorclass", "colorize", "--model", run_dir.name,
                                              str(photo), "-o", str(tmp / f"onnx{i}"), "--engine", "onnx"])
                onnx_times.append(seconds)
                onnx_rss.append(peak)
        start = [run_child([PYTHON, "-c", "import torch, colorclass.inference.colorize_files"])[0] for _ in range(1 if quick else 3)]
        written = sorted(p.name for p in (tmp / "out0").iterdir())
        fig = seconds_figure("colorize_12mp", times, yard, "Pillow decode + JPEG q95 encode, in-process",
                             note=(f"whole process, {' '.join(size_option(run_dir))}, 4000x3000 JPEG -> {', '.join(written)}; goal < 1.5 s and "
                                   f"< 800 MB; peak RSS {max(rss):.0f} MB; importing torch + colorclass.inference.colorize_files "
                                   f"alone takes {spread(start)[0]:.2f} s"))
        fig.extra = {"peak_rss_mb": max(rss), "import_seconds": spread(start)[0]}
        figures.append(fig)
        if onnx_times:
            fig = seconds_figure("colorize_12mp_onnx", onnx_times, times, "the same command with --engine torch",
                                 note=(f"whole process, --engine onnx (no torch import), 4000x3000 JPEG; goal < 1.0 s "
                                       f"and < 400 MB; peak RSS {max(onnx_rss):.0f} MB (torch engine "
                                       f"{max(rss):.0f} MB)"))
            fig.extra = {"peak_rss_mb": max(onnx_rss)}
            figures.append(fig)
    if only("colorize_folder"):
        folder = tmp / "folder100"
        folder.mkdir()
        src = sorted((SHARED / "tiny-imagenet-val").glob("*.JPEG"))[:100]
        for f in src:
            shutil.copy(f, folder / f.name)
        times = []
        for i in range(1 if quick else 3):
            times.append(run_child([PYTHON, "-m", "colorclass", "colorize", "--run", str(run_dir), str(folder),
                                    "-o", str(tmp / f"folder_out{i}"), *size_option(run_dir)])[0])
        med, low, high = spread([len(src) / t for t in times])
        figures.append(Figure("colorize_folder", med, "photos/s", low, high, note=(
            f"{len(src)} Tiny ImageNet photos, whole process incl. start-up, run {run_dir.name} "
            f"{' '.join(size_option(run_dir))}")))
    shutil.rmtree(tmp, ignore_errors=True)
    return figures
