"""Shared by the evaluation tests: tiny photos and one tiny trained run (seconds on a CPU)."""
from pathlib import Path

import numpy as np
from PIL import Image

from colorclass.cli import fit_bins_main, train_main

COLOURS = np.array([[200, 40, 40], [40, 60, 200], [40, 170, 60], [230, 200, 50]], dtype=np.uint8)


def make_photos(folder: Path, n: int, size=(24, 28), seed: int = 0) -> Path:
    """Photos of coloured rectangles on gray with a little noise."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img = np.full((*size, 3), 128, np.uint8)
        for _ in range(3):
            y, x = rng.integers(0, size[0] - 8), rng.integers(0, size[1] - 8)
            img[y:y + 8, x:x + 9] = COLOURS[rng.integers(len(COLOURS))]
        noisy = img.astype(np.int16) + rng.integers(-6, 7, img.shape)
        Image.fromarray(noisy.clip(0, 255).astype(np.uint8)).save(folder / f"photo_{i:02d}.png")
    return folder


def train_tiny_run(root: Path) -> tuple[Path, Path, Path]:
    """(training photos, held-out photos, run folder) of a 1-epoch k = 8 classifier."""
    data = make_photos(root / "train", 8)
    held_out = make_photos(root / "held_out", 4, seed=7)
    bins = root / "bins.npz"
    assert fit_bins_main([str(data), "-o", str(bins), "--k", "8", "--seed", "1"]) == 0
    run = root / "run"
    assert train_main(["--bins", str(bins), "--data", str(data), "--val-fraction", "0.25", "--width", "8",
                       "--loss", "ce", "--epochs", "1", "--batch-size", "4", "--crop-size", "16",
                       "--out", str(run)]) == 0
    return data, held_out, run


def run_main(*argv) -> tuple[int, str, str]:
    """``colorclass.cli.main(argv)`` in this process: (exit code, stdout, stderr)."""
    import contextlib
    import io

    from colorclass.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()
