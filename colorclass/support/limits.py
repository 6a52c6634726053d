"""Input limits of the prediction path: the one home of the network-size caps.

    photo (H, W) + asked size -> *capped_size* -> *network_grid* -> network input grid
                                               -> the CLI's --size check (before any work)

Torch-free, so the command line validates ``--size`` without importing torch. No photo or
option can make the network run on an unbounded grid: a 4000x10 scan or ``--size 100000``
is run smaller, keeping its aspect.

    photo header (W, H) -> *photo_limit* -> None, or the reason it is skipped (before decoding)

Photos themselves are bounded too, because the caps above keep the aspect: a 1 x 20,000,000
strip (a valid 39 KB PNG) would still be decoded, converted and padded at full length.
``MAX_PHOTO_PIXELS`` bounds width x height (the decoded photo needs 3 bytes a pixel; the value is
Pillow's decompression-bomb limit, which ``photos.read`` enforces at decoding as "too large"), and
``MAX_ASPECT`` bounds long side / short side, chosen as ``MAX_LONG_SIDE / MIN_NETWORK_SIDE`` so that
a capped network grid is never thinner than ``MIN_NETWORK_SIDE`` pixels.

    --crop-size / --set data.* / --k / summary --size --batch -> *size-like bounds* -> one line, exit 2

Every size-like value a user gives is bounded here and checked where it enters (the CLI's flags,
``runs.experiment`` for config keys, ``models.summary``), before any work: without a bound
``--crop-size 100000`` asks for a 40 GB batch (the kernel kills the process), ``data.resize=20000``
decodes every photo at 400 Mpx, and a GMM with k = 1000 runs for hours. ``check_at_most`` and
``check_batch_pixels`` raise the one-line ``UsageError`` naming the value, the bound and the fix.

    calibration.json, data_stats.json, card.json, meta.json, log.csv -> *support.records* (these caps)

Small files the toolkit reads are bounded too: size, JSON nesting depth, digits of a number,
bytes of a CSV field (``support.records`` applies them).
"""
from __future__ import annotations

import math

from colorclass.support.errors import UsageError

__all__ = ["network_grid", "MAX_LONG_SIDE", "MAX_NETWORK_PIXELS", "MIN_NETWORK_SIDE", "MAX_PHOTO_PIXELS", "MAX_ASPECT",
           "capped_size", "photo_limit", "MAX_CROP_SIZE", "MAX_RESIZE", "MAX_BATCH_SIZE", "MAX_BATCH_PIXELS",
           "MAX_WIDTH", "MAX_LAYER_VALUES", "MAX_KERNEL_SIZE", "MAX_DEPTH", "MAX_BINS", "MAX_GMM_K", "GMM_FIT_SECONDS",
           "MIN_GRID_STEP", "MAX_SAMPLE_PIXELS", "MAX_REPEAT", "MAX_WORKERS", "MAX_RECORD_BYTES",
           "MAX_LOG_BYTES", "MAX_CSV_FIELD", "MAX_JSON_DEPTH", "MAX_NUMBER_DIGITS", "CONFIG_BOUNDS",
           "check_at_most", "check_batch_pixels"]

MAX_LONG_SIDE = 4096            # network input: longest side, pixels (also the largest --size)
MAX_NETWORK_PIXELS = 4_000_000  # network input: height x width
MIN_NETWORK_SIDE = 8            # network input: the thinnest short side a capped grid may get
MAX_PHOTO_PIXELS = 89_478_485   # a photo: width x height (= PIL.Image.MAX_IMAGE_PIXELS's default)
MAX_ASPECT = MAX_LONG_SIDE // MIN_NETWORK_SIDE   # a photo: long side / short side, 512:1

# training and planning (train-classifier flags and config keys, fit-bins, summary)
MAX_CROP_SIZE = 1024            # data.crop_size / --crop-size: training crop side, pixels
MAX_RESIZE = MAX_LONG_SIDE      # data.resize: shorter side of the working image, pixels
MAX_BATCH_SIZE = 4096           # train.batch_size / --batch-size, summary --batch
MAX_BATCH_PIXELS = 1 << 24      # side * side * batch (training crops, summary): 16.8 Mpx, e.g. 16 x 1024^2;
                                # the first layer of a width-32 network alone holds 2 GB of activations there
MAX_WIDTH = 1024                # model.width / --width: base number of filters
MAX_LAYER_VALUES = 1 << 30      # side * side * batch * width: one layer's float32 activations, 4 GB
MAX_KERNEL_SIZE = 31            # model.kernel_size, model.head_kernel, loss.lowpass
MAX_DEPTH = 12                  # model.depth (deep_unet): stride-2 levels (2 ** 12 = 4096 = MAX_LONG_SIDE)
MAX_BINS = 1024                 # Q: bins.k, fit-bins --k, summary --bins, bins.soft_neighbors
MAX_GMM_K = 256                 # fit-bins --family gmm --k (and bins.k): an EM step over 200,000 pixels costs
                                # ~0.2 s a component on a CPU core, ~45 s at k = 256
GMM_FIT_SECONDS = 600.0         # time budget of one GMM fit: the best fit so far is kept after it
MIN_GRID_STEP = 5.0             # fit-bins --grid-step: step 5 gives 969 ab cells (<= MAX_BINS)
MAX_SAMPLE_PIXELS = 20_000_000  # fit-bins --pixels-per-image / --max-pixels: 60 MB of pixels
MAX_REPEAT = 1000               # data.repeat: crops of each photo per epoch
MAX_WORKERS = 256               # data.num_workers

# small files read back (support.records)
MAX_RECORD_BYTES = 1 << 20      # calibration.json, data_stats.json, card.json, meta.json: 1 MB
MAX_LOG_BYTES = 256 << 20       # log.csv: 256 MB (a row every 20 iterations is ~100 bytes)
MAX_CSV_FIELD = 4096            # one log.csv field, bytes
MAX_JSON_DEPTH = 64             # nesting of JSON arrays / objects
MAX_NUMBER_DIGITS = 64          # characters of one JSON number (a float64 needs fewer than 25)

# config key -> largest value (runs.experiment checks each key where it is read)
CONFIG_BOUNDS = {
    "data.crop_size": MAX_CROP_SIZE, "data.resize": MAX_RESIZE, "train.batch_size": MAX_BATCH_SIZE,
    "model.width": MAX_WIDTH, "model.kernel_size": MAX_KERNEL_SIZE, "model.head_kernel": MAX_KERNEL_SIZE,
    "loss.lowpass": MAX_KERNEL_SIZE, "model.depth": MAX_DEPTH, "bins.k": MAX_BINS,
    "bins.soft_neighbors": MAX_BINS, "data.repeat": MAX_REPEAT, "data.num_workers": MAX_WORKERS,
}


def check_at_most(what: str, value: float, limit: float, fix: str = "") -> None:
    """UsageError (one line) when ``value`` exceeds ``limit``: "--crop-size 100000 is over the
    limit of 1024; FIX"."""
    if value > limit:
        raise UsageError(f"{what} {value:g} is over the limit of {limit:g}" + (f"; {fix}" if fix else ""))


def check_batch_pixels(what: str, side: int, batch: int, width: int | None = None) -> None:
    """UsageError when ``side`` x ``side`` x ``batch`` exceeds MAX_BATCH_PIXELS, or, given the
    network's ``width``, when one layer's activations (x ``width``) exceed MAX_LAYER_VALUES
    (what: the flags, e.g. "--crop-size x --crop-size x --batch-size")."""
    if side * side * batch > MAX_BATCH_PIXELS:
        raise UsageError(f"{what}: {side} x {side} x {batch} = {side * side * batch:,} pixels a batch is over the "
                         f"limit of {MAX_BATCH_PIXELS:,}; use a smaller size or batch")
    if width is not None and side * side * batch * width > MAX_LAYER_VALUES:
        raise UsageError(f"{what} x width: {side} x {side} x {batch} x {width} values in one layer are over the "
                         f"limit of {MAX_LAYER_VALUES:,} (4 GB); use a smaller size, batch or width")


def capped_size(height: int, width: int, size: int | None) -> int | None:
    """The network's shorter side for an (height, width) photo asked to run at ``size`` (None:
    the photo's own), lowered so that the long side stays <= MAX_LONG_SIDE and the area <=
    MAX_NETWORK_PIXELS (aspect kept). Returns None when the photo's own size already fits."""
    short, long_ = min(height, width), max(height, width)
    want = short if size is None else size
    limit = min(want, MAX_LONG_SIDE * short / long_, math.sqrt(MAX_NETWORK_PIXELS * short / long_))
    limit = max(1, int(limit))
    if size is None and limit >= short:
        return None
    return limit


def network_grid(height: int, width: int, size: int | None) -> tuple[int, int]:
    """The network's input grid (h, w) for an (height, width) photo run at shorter side ``size``
    (None or 0: the photo's own), aspect kept and capped by ``capped_size``: the one rule, shared
    by the torch and the ONNX engines."""
    size = capped_size(height, width, size or None)
    if not size:
        return height, width
    scale = size / min(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def photo_limit(width: int, height: int) -> str | None:
    """None when a ``width`` x ``height`` photo may be processed, else the short reason it is
    skipped: "too large" (over MAX_PHOTO_PIXELS) or "extreme aspect ratio" (over MAX_ASPECT:1,
    e.g. a 1 x 20,000,000 strip). Read from the file's header, before decoding."""
    if width <= 0 or height <= 0:
        return None   # the reader reports empty images itself
    if width * height > MAX_PHOTO_PIXELS:
        return "too large"
    if max(width, height) > MAX_ASPECT * min(width, height):
        return f"extreme aspect ratio (over {MAX_ASPECT}:1)"
    return None
