"""Figures 1-3: target encoding (soft to the 313-bin grid, hard to k-means RGB bins) and
uint8 sRGB -> Lab, each against its reference baseline in the same run.

Images: Tiny ImageNet validation photos upsampled to 256x256 (synthetic smooth images when
../shared/data is absent). Throughput counts input pixels per second, from a uint8 (B, 3, H, W)
tensor to the encoder's outputs.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from common import SHARED, rate_figure, time_calls


def test_images(batch: int, size: int) -> tuple[torch.Tensor, str]:
    folder = SHARED / "tiny-imagenet-val"
    if folder.is_dir():
        from colorclass.photos import list_images, load_rgb
        imgs = [load_rgb(f) for f in list_images(folder)[: batch * 3]]
        imgs = np.stack([im for im in imgs if np.ptp(im.astype(int), axis=2).mean() > 8][:batch])
        x = torch.from_numpy(imgs).permute(0, 3, 1, 2).float()
        source = f"{batch} Tiny ImageNet val photos upsampled to {size}x{size}"
    else:
        x = torch.rand(batch, 3, size // 16, size // 16, generator=torch.Generator().manual_seed(0)) * 255
        source = f"{batch} synthetic smooth {size}x{size} images (../shared/data absent)"
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return x.round().clamp(0, 255).to(torch.uint8).contiguous(), source


def _kmeans_bins():
    import quantize
    horse = SHARED / "cifar10" / "train" / "horse"
    if horse.is_dir():
        from colorclass.photos import sample_pixels
        px = sample_pixels(horse, pixels_per_image=200, max_pixels=200_000, seed=0, progress=False)[0]
    else:
        px = np.random.default_rng(0).integers(0, 256, (100_000, 3), dtype=np.uint8)
    return quantize.make_bins("kmeans", k=24).fit(px)


def sklearn_soft(bins, pixels_u8: np.ndarray, n: int = 5, sigma: float = 5.0):
    """The original work's encoder: sklearn NearestNeighbors on ab, 5 neighbours, Gaussian weights."""
    from sklearn.neighbors import NearestNeighbors
    from colorclass.color import rgb_to_lab
    nn = NearestNeighbors(n_neighbors=n, algorithm="ball_tree").fit(bins.centers_ab)

    def run():
        lab = rgb_to_lab(torch.from_numpy(pixels_u8.astype(np.float32) / 255), dim=-1).numpy()
        dist, idx = nn.kneighbors(lab[:, 1:])
        w = np.exp(-dist ** 2 / (2 * sigma ** 2))
        return idx, w / w.sum(1, keepdims=True)
    return run


def numpy_argmin_hard(centers: np.ndarray, pixels_u8: np.ndarray):
    """Brute force: squared distance of every pixel to every centre, argmin (RGB in [0, 1])."""
    def run():
        x = pixels_u8.astype(np.float32) / 255
        d = (x * x).sum(1, keepdims=True) - 2 * x @ centers.T + (centers * centers).sum(1)
        return d.argmin(1)
    return run


def skimage_lab(images_u8: torch.Tensor):
    from skimage.color import rgb2lab
    photos = images_u8.permute(0, 2, 3, 1).numpy()

    def run():
        return [rgb2lab(p) for p in photos]
    return run


def run(quick: bool, only) -> list:
    import quantize
    from colorclass.color import rgb_to_lab, rgb_u8_to_lab

    repeats = 5 if quick else 15
    images, source = test_images(8, 256)
    n_pixels = images.shape[0] * images.shape[2] * images.shape[3]
    flat = images.permute(0, 2, 3, 1).reshape(-1, 3).numpy()
    n_base = 100_000 if quick else 400_000
    sub = flat[np.random.default_rng(0).choice(len(flat), n_base, replace=False)]
    figures = []
    if only("encode_soft"):
        enc = quantize.make_bins("grid", preset="zhang313").build().encoder()
        enc.soft_tables()
        out = (torch.empty(8, enc.n, 256, 256, dtype=torch.int64), torch.empty(8, enc.n, 256, 256))
        fresh = time_calls(lambda: enc.soft(images), repeats)
        reused = time_calls(lambda: enc.soft(images, out=out), repeats)
        base = time_calls(sklearn_soft(enc.bins, sub), 1 if quick else 2, warmup=0)
        fig = rate_figure("encode_soft", "Mpix/s", n_pixels / 1e6, reused, base, n_base / 1e6,
                          "sklearn NearestNeighbors (ball tree), 5 nn, Gaussian weights",
                          note=f"{source}; LUT soft n=5, reused output buffers (the trainer's path)")
        fresh_fig = rate_figure("encode_soft_fresh", "Mpix/s", n_pixels / 1e6, fresh, base, n_base / 1e6,
                                "same baseline", note="LUT soft n=5, new output tensors every call")
        figures += [fig, fresh_fig]
    if only("encode_hard"):
        bins = _kmeans_bins()
        enc = bins.encoder()
        enc.hard_table()
        lut = time_calls(lambda: enc.hard(images), repeats)
        base = time_calls(numpy_argmin_hard(bins.centers, sub), 2 if quick else 3)
        figures.append(rate_figure("encode_hard", "Mpix/s", n_pixels / 1e6, lut, base, n_base / 1e6,
                                   "brute-force argmin in numpy (24 RGB centres)",
                                   note="k-means RGB k=24 fitted on CIFAR horses; 8-bit LUT (exact)"))
    if only("rgb_to_lab"):
        fast = time_calls(lambda: rgb_u8_to_lab(images), repeats)
        float_path = time_calls(lambda: rgb_to_lab(images.float() / 255), repeats)
        base = time_calls(skimage_lab(images), 2 if quick else 5)
        err = max(float(np.abs(rgb_u8_to_lab(images)[i].permute(1, 2, 0).numpy() - ref).max())
                  for i, ref in enumerate(skimage_lab(images)()))
        figures.append(rate_figure("rgb_to_lab", "Mpix/s", n_pixels / 1e6, fast, base, None,
                                   "skimage rgb2lab, image by image",
                                   note=f"rgb_u8_to_lab (8-bit tables), 8x256x256; max |diff| vs skimage {err:.1e}"))
        figures.append(rate_figure("rgb_to_lab_float", "Mpix/s", n_pixels / 1e6, float_path, base, None,
                                   "same baseline", note="rgb_to_lab(rgb_u8 / 255), the float path"))
    return figures
