"""Crop and augmentation geometry for ``ImageFolderDataset`` (on the colour image, before L/ab split).

Pipeline position: photos -> [this: crop / scale / flip / rotate / shear] -> quantize -> encode
targets -> network -> loss -> decode -> colour image -> metrics / reports. Layer: a leaf of
``colorclass.photos`` (pure geometry on arrays; imports nothing of colorclass), used by ``dataset``.

Geometry, in continuous pixel coordinates of the *working image* (the photo after ``resize`` of the
shorter side, and upscaled so that its shorter side is at least ``crop_size``): output pixel
offset ``d`` from the crop centre maps to source point ``c + M d`` with
``M = (side / S) * R(angle) @ Shear(shear) @ Flip``. The source region always lies inside the
image (``side`` shrinks when a rotated or sheared square would not fit), so no fill colour ever
appears. Sampling is antialiased: the region is first resized to output scale with Pillow's
filtered ``resize``; a remaining rotation or shear is one bilinear affine warp at unit scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class CropParams:
    """One crop: centre (cx, cy) and ``side`` in working-image pixels; angles in degrees."""
    cx: float
    cy: float
    side: float
    angle: float = 0.0
    shear: float = 0.0
    flip: bool = False


def working_image(rgb_u8: np.ndarray, *, resize: int, crop_size: int) -> np.ndarray:
    """Resize so the shorter side is ``resize`` (0: keep) and at least ``crop_size``.

    ``rgb_u8``: (H, W, 3) uint8 -> (H', W', 3) uint8 with ``min(H', W') = max(resize or min(H, W),
    crop_size)`` and the aspect ratio kept.
    """
    h, w = rgb_u8.shape[:2]
    short = min(h, w)
    target = max(resize or short, crop_size)
    if target == short:
        return rgb_u8
    scale = target / short
    size = (target, max(target, round(h * scale))) if w <= h else (max(target, round(w * scale)), target)
    return np.asarray(Image.fromarray(rgb_u8).resize(size, Image.Resampling.BILINEAR))


def source_matrix(p: CropParams, crop_size: int) -> np.ndarray:
    """(2, 2) float64 map from output pixel offsets to working-image offsets."""
    t, k = math.radians(p.angle), math.radians(p.shear)
    rot = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    shear = np.array([[1.0, math.tan(k)], [0.0, 1.0]])
    flip = np.diag([-1.0 if p.flip else 1.0, 1.0])
    return (p.side / crop_size) * rot @ shear @ flip


def half_extent(m: np.ndarray, crop_size: int) -> tuple[float, float]:
    """Half width and half height of the source region's axis-aligned bounding box."""
    return (crop_size / 2 * (abs(m[0, 0]) + abs(m[0, 1])),
            crop_size / 2 * (abs(m[1, 0]) + abs(m[1, 1])))


def sample_crop(rng: np.random.Generator, width: int, height: int, *, crop_size: int,
                min_scale: float = 1.0, rotate: float = 0.0, shear: float = 0.0,
                flip: bool = True) -> CropParams:
    """Random crop of a ``width x height`` working image.

    Scale jitter: the crop is taken from a square of side ``crop_size / sqrt(u)``,
    ``u ~ U[min_scale, 1]`` (so ``min_scale=1`` is a plain random crop at the working scale and
    ``min_scale=0.25`` zooms out up to 2x), never larger than what fits in the image.
    Rotation ``~ U[-rotate, rotate]`` degrees (positive turns the content counter-clockwise on
    screen) and shear ``~ U[-shear, shear]`` degrees; flip with p = 0.5.
    The same number of draws is made whatever the options, so streams stay aligned.
    """
    u = rng.uniform(min_scale, 1.0)
    angle = rng.uniform(-rotate, rotate)
    shear_deg = rng.uniform(-shear, shear)
    flipped = bool(rng.random() < 0.5) and flip
    fx, fy = rng.random(2)
    p = CropParams(0.0, 0.0, crop_size / math.sqrt(u), angle, shear_deg, flipped)
    hx, hy = half_extent(source_matrix(p, crop_size), crop_size)
    fit = min(1.0, width / (2 * hx), height / (2 * hy))
    hx, hy = hx * fit, hy * fit
    x0, y0 = fx * (width - 2 * hx), fy * (height - 2 * hy)
    if p.side * fit == crop_size and angle == 0.0 and shear_deg == 0.0:
        # no resampling needed: snap to whole pixels so the crop is an exact copy (no blur)
        x0 = min(math.floor(fx * (width - crop_size + 1)), width - crop_size)
        y0 = min(math.floor(fy * (height - crop_size + 1)), height - crop_size)
    return CropParams(x0 + hx, y0 + hy, p.side * fit, angle, shear_deg, flipped)


def center_crop(width: int, height: int, *, crop_size: int) -> CropParams:
    """The central ``crop_size`` square (or the largest centred square, if the image is smaller)."""
    return CropParams(width / 2, height / 2, float(min(crop_size, width, height)))


def apply_crop(img: Image.Image, p: CropParams, crop_size: int) -> np.ndarray:
    """Cut crop ``p`` out of the RGB working image ``img``: -> (S, S, 3) uint8, S = crop_size."""
    s = crop_size
    m = source_matrix(p, s)
    hx, hy = half_extent(m, s)
    if p.angle == 0.0 and p.shear == 0.0:
        region = img.resize((s, s), Image.Resampling.BILINEAR, box=(p.cx - hx, p.cy - hy, p.cx + hx, p.cy + hy))
        if p.flip:
            region = region.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        return np.asarray(region)
    margin = 2 * p.side / s
    box = (max(0.0, p.cx - hx - margin), max(0.0, p.cy - hy - margin),
           min(float(img.width), p.cx + hx + margin), min(float(img.height), p.cy + hy + margin))
    scale = s / p.side
    bw, bh = max(1, math.ceil((box[2] - box[0]) * scale)), max(1, math.ceil((box[3] - box[1]) * scale))
    region = img.resize((bw, bh), Image.Resampling.BILINEAR, box=box)
    to_region = np.diag([bw / (box[2] - box[0]), bh / (box[3] - box[1])])
    mr = to_region @ m
    cx, cy = to_region @ np.array([p.cx - box[0], p.cy - box[1]])
    data = (mr[0, 0], mr[0, 1], cx - (mr[0, 0] + mr[0, 1]) * s / 2,
            mr[1, 0], mr[1, 1], cy - (mr[1, 0] + mr[1, 1]) * s / 2)
    return np.asarray(region.transform((s, s), Image.Transform.AFFINE, data, resample=Image.Resampling.BILINEAR))
