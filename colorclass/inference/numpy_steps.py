"""The prediction path's pixel steps in NumPy alone (the torch-free ONNX engine uses them).

    photo (H, W, 3) uint8 -> *lightness_u8* -> Lab L (H, W) float32 in [0, 100]
        -> (support.limits.network_grid) -> *resize_antialiased* -> (h, w) float32
        -> (/ 50 - 1) -> *pad_to_multiple* (reflect, else replicate) -> network (ONNX)
        -> logits (B, Q, h', w') float32 -> *decode_ab* (mode / mean / annealed) -> ab (B, 2, h', w')
        -> *recombine_u8*: ab upsampled bilinearly (align_corners=False) + full L -> sRGB (H, W, 3) uint8

The maths and constants are those of ``colorclass.color`` (``rgb_u8_to_lightness``: D65, uint8
tables), ``inference.network`` (grid, antialiased resize, padding) and ``decoding.decoders``
(decode, ``recombine_full_resolution``), written for NumPy float32 so the results agree with the
torch path to float rounding (tests/test_onnx_export.py checks it). Imports no torch.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from colorclass import cie

__all__ = ["lightness_u8", "resize_antialiased", "pad_to_multiple", "decode_ab", "recombine_u8", "STRIP_ROWS"]

STRIP_ROWS = 64   # rows per strip (lightness, recombine): small reused temporaries, one task each

# --- the constants and uint8 tables of colorclass.cie (the one home of the Lab maths)
_WHITE_D65, _RGB_FROM_XYZ, _HIGH_LINEAR = cie.WHITE_D65, cie.RGB_FROM_XYZ, cie.HIGH_LINEAR
_EPSILON, _KAPPA = cie.EPSILON, cie.KAPPA
_Y_TABLES = cie.XYZ_TABLES[1]   # [c][v]: contribution of channel c at level v to Y / Yn
_GRAY_L_U8 = cie.GRAY_L_U8


class _Workspace(threading.local):
    """Per-thread scratch arrays reused strip after strip (fresh memory costs page faults)."""

    def __init__(self) -> None:
        self.buffers: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: type = np.float32) -> np.ndarray:
        n = int(np.prod(shape))
        buf = self.buffers.get(name)
        if buf is None or buf.size < n or buf.dtype != dtype:
            buf = self.buffers[name] = np.empty(n, dtype)
        return buf[:n].reshape(shape)


def _map_strips(fn, height: int, threads: int | None) -> list:
    """[fn(rows) for each strip of STRIP_ROWS rows], spread over ``threads`` threads (default: all
    cores; NumPy releases the GIL in the array loops, and strips keep temporaries small)."""
    strips = [slice(top, min(top + STRIP_ROWS, height)) for top in range(0, height, STRIP_ROWS)]
    workers = max(1, min(threads or os.cpu_count() or 1, len(strips)))
    if workers == 1:   # (the pool's threads keep their own _Workspace)
        return [fn(rows) for rows in strips]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(fn, strips))


def lightness_u8(rgb_u8: np.ndarray, *, threads: int | None = None) -> np.ndarray:
    """(H, W, 3) uint8 sRGB -> (H, W) float32 Lab L in [0, 100] (table lookups; gray photos, R = G = B
    everywhere, take one lookup per pixel), as ``colorclass.color.rgb_u8_to_lightness``."""
    if rgb_u8.ndim != 3 or rgb_u8.shape[2] != 3 or rgb_u8.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 photo, got {rgb_u8.dtype} {rgb_u8.shape}")
    height, width = int(rgb_u8.shape[0]), int(rgb_u8.shape[1])
    out: np.ndarray = np.empty((height, width), np.float32)

    def is_gray(rows: slice) -> bool:
        return bool(np.array_equal(rgb_u8[rows, :, 0], rgb_u8[rows, :, 1])
                    and np.array_equal(rgb_u8[rows, :, 1], rgb_u8[rows, :, 2]))
    gray = all(_map_strips(is_gray, height, threads))
    ws = _Workspace()

    def strip(rows: slice) -> None:
        s, o = rgb_u8[rows], out[rows]
        index = ws.get("index", o.shape, np.intp)
        if gray:
            np.copyto(index, s[..., 0])
            np.take(_GRAY_L_U8, index, out=o, mode="clip")
            return
        t, mask = ws.get("t", o.shape), ws.get("mask", o.shape, np.bool_)
        for c in range(3):
            np.copyto(index, s[..., c])
            np.take(_Y_TABLES[c], index, out=o if c else t, mode="clip")
            if c:
                t += o
        np.less_equal(t, np.float32(_EPSILON), out=mask)
        np.multiply(t, np.float32(_KAPPA), out=o)
        o += np.float32(16 / 116)
        np.cbrt(t, out=t)
        np.copyto(t, o, where=mask)
        t *= np.float32(116)
        np.subtract(t, np.float32(16), out=o)

    _map_strips(strip, height, threads)
    return out


def _aa_taps(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Taps of torch's antialiased bilinear resize (``F.interpolate(antialias=True)``, PIL's
    triangle filter widened by the scale when shrinking): (indices (out, K) int, weights (out, K))."""
    scale = in_size / out_size
    support = scale if scale >= 1 else 1.0
    invscale = 1 / scale if scale >= 1 else 1.0
    center = scale * (np.arange(out_size) + 0.5)
    lo = np.maximum((center - support + 0.5).astype(np.int64), 0)   # int() truncates toward 0, as C++
    hi = np.minimum((center + support + 0.5).astype(np.int64), in_size)
    k = int((hi - lo).max())
    idx = lo[:, None] + np.arange(k)[None, :]
    w = np.clip(1 - np.abs((idx - center[:, None] + 0.5) * invscale), 0, None)
    w[idx >= hi[:, None]] = 0
    w /= w.sum(1, keepdims=True)
    return np.minimum(idx, in_size - 1), w.astype(np.float32)


def _linear_taps(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Taps of ``F.interpolate(mode="bilinear", align_corners=False)``: (indices (out, 2), weights (out, 2))."""
    src = np.maximum((np.arange(out_size) + 0.5) * (in_size / out_size) - 0.5, 0)
    i0, frac = src.astype(np.int64), (src - src.astype(np.int64)).astype(np.float32)
    return np.stack([i0, np.minimum(i0 + 1, in_size - 1)], 1), np.stack([1 - frac, frac], 1)


def _apply_taps(x: np.ndarray, idx: np.ndarray, w: np.ndarray, axis: int) -> np.ndarray:
    """sum_k w[:, k] * x.take(idx[:, k], axis) along ``axis`` (-1 or -2) -> float32."""
    shape = (-1, 1) if axis == -2 else (-1,)
    out = np.zeros(x.shape[:axis] + (idx.shape[0],) + (x.shape[axis + 1:] if axis == -2 else ()), np.float32)
    for k in range(idx.shape[1]):
        out += np.take(x, idx[:, k], axis=axis) * w[:, k].reshape(shape)
    return out


def resize_antialiased(x: np.ndarray, height: int, width: int) -> np.ndarray:
    """(..., H, W) float32 -> (..., height, width) float32, antialiased bilinear (torch's
    ``F.interpolate(mode="bilinear", align_corners=False, antialias=True)``)."""
    if x.shape[-2:] == (height, width):
        return x
    rows = _apply_taps(x, *_aa_taps(x.shape[-2], height), axis=-2)
    return _apply_taps(rows, *_aa_taps(x.shape[-1], width), axis=-1)


def pad_to_multiple(x: np.ndarray, multiple: int) -> np.ndarray:
    """(..., H, W) padded at the bottom / right to multiples of ``multiple``: reflection, or edge
    replication when the image is too small to reflect (``colorclass.models.pad_to_multiple``)."""
    (h, w), pad_h, pad_w = x.shape[-2:], (-x.shape[-2]) % multiple, (-x.shape[-1]) % multiple
    if not (pad_h or pad_w):
        return x
    mode = "reflect" if pad_h < h and pad_w < w else "edge"
    widths = [(0, 0)] * (x.ndim - 2) + [(0, pad_h), (0, pad_w)]
    return np.pad(x, widths, mode="reflect") if mode == "reflect" else np.pad(x, widths, mode="edge")


def decode_ab(logits: np.ndarray, centers_ab: np.ndarray, method: str, temperature: float) -> np.ndarray:
    """logits (B, Q, h, w) float32 -> ab (B, 2, h, w) float32: the chroma of the most likely bin
    ("mode") or the expected chroma under softmax(logits / T) ("mean": T = 1; "annealed")."""
    centers = np.asarray(centers_ab, dtype=np.float32)
    if logits.ndim != 4 or centers.shape != (logits.shape[1], 2):
        raise ValueError(f"logits must be (B, Q, h, w) with Q = {centers.shape[0]} bins, got {logits.shape}")
    if not np.isfinite(logits).all():
        raise ValueError("logits contain NaN or infinite values; the ONNX file is broken (export it again)")
    if method == "mode":
        return np.moveaxis(centers[logits.argmax(axis=1)], -1, 1)
    z = logits / np.float32(1.0 if method == "mean" else temperature)
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return np.einsum("bqhw,qc->bchw", z, centers, optimize=True).astype(np.float32)


def _srgb_levels(lin: np.ndarray) -> np.ndarray:
    """The decoders' float32 steps linear light -> sRGB level: clip to [0, 1], gamma, * 255, rint."""
    c = np.clip(np.asarray(lin, np.float32), 0, 1)
    gamma = np.power(c, np.float32(1 / 2.4)) * np.float32(1.055) - np.float32(0.055)
    return np.rint(np.where(c <= np.float32(0.0031308), c * np.float32(12.92), gamma) * np.float32(255))


def _level_tables(cells: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Exact tables for ``_srgb_levels``: level = base[i] + (c >= step[i]), i = int(clip(c * cells, 0,
    cells)). Each level's threshold (the smallest float32 giving it) is found by bisection over the
    float32 bit patterns; no cell holds two thresholds (levels are >= 3e-4 apart in linear light)."""
    level = np.arange(1, 256)
    lo, hi = np.zeros(255, np.int64), np.full(255, 0x3F800000, np.int64)   # bit patterns of 0.0, 1.0
    for _ in range(32):
        mid = (lo + hi) // 2
        ok = _srgb_levels(mid.astype(np.int32).view(np.float32)) >= level
        hi, lo = np.where(ok, mid, hi), np.where(ok, lo, mid + 1)
    thresholds = hi.astype(np.int32).view(np.float32)
    starts = np.arange(cells + 1, dtype=np.float32) / np.float32(cells)
    base = np.searchsorted(thresholds, starts, side="right")
    inside = np.searchsorted(thresholds, starts + np.float32(1 / cells), side="left") - base
    if inside.max() > 1:
        raise RuntimeError("two sRGB levels in one table cell: use more cells")
    step = np.where(inside > 0, thresholds[np.minimum(base, 254)], np.float32(np.inf))
    return base.astype(np.uint8), step.astype(np.float32)


_LEVEL_CELLS = 4096
_LEVEL_BASE, _LEVEL_STEP = _level_tables(_LEVEL_CELLS)


def _f_inverse(f: np.ndarray, out: np.ndarray) -> np.ndarray:
    """CIE f^-1 in float32 into ``out``: f ** 3 above the breakpoint, linear below (few pixels)."""
    np.multiply(f, f, out=out)
    out *= f
    low = np.flatnonzero(f <= np.float32(cie.F_BREAK))
    if low.size:
        out.flat[low] = (f.flat[low] - np.float32(16 / 116)) * np.float32(1 / cie.KAPPA)
    return out


def _lab_to_u8(lightness: np.ndarray, a: np.ndarray, b: np.ndarray, out: np.ndarray, ws: _Workspace) -> int:
    """One strip: L, a, b (h, W) float32 -> sRGB uint8 written to ``out`` (h, W, 3); returns the
    number of out-of-gamut (clipped) pixels. The maths of ``decoders._lab_strip_to_rgb_``; the
    gamma and rounding by the exact tables of ``_level_tables``; a and b are overwritten."""
    shape = lightness.shape
    fy, tmp, x, y, z = (ws.get(k, shape) for k in ("fy", "tmp", "x", "y", "z"))
    mask, bad = ws.get("mask", shape, np.bool_), ws.get("bad", shape, np.bool_)
    index, level = ws.get("index", shape, np.intp), ws.get("level", shape, np.uint8)
    np.add(lightness, np.float32(16), out=fy)
    fy /= np.float32(116)
    b /= np.float32(-200)
    b += fy
    np.maximum(b, np.float32(0), out=b)                        # fz, clamped at 0
    _f_inverse(b, z)
    z *= np.float32(_WHITE_D65[2])
    a /= np.float32(500)
    a += fy                                                    # fx
    _f_inverse(a, x)
    x *= np.float32(_WHITE_D65[0])
    _f_inverse(fy, y)
    rgb = (fy, a, b)                                           # reused as the r, g, b planes
    for c, (mx, my, mz) in zip(rgb, _RGB_FROM_XYZ):
        np.multiply(x, np.float32(mx), out=c)
        np.multiply(y, np.float32(my), out=tmp)
        c += tmp
        np.multiply(z, np.float32(mz), out=tmp)
        c += tmp
    np.minimum(np.minimum(fy, a, out=tmp), b, out=tmp)
    np.less(tmp, np.float32(-1e-4), out=bad)
    np.maximum(np.maximum(fy, a, out=tmp), b, out=tmp)
    bad |= np.greater(tmp, np.float32(_HIGH_LINEAR), out=mask)
    for ch, c in enumerate(rgb):                               # clip to [0, 1], gamma, * 255, rint:
        np.multiply(c, np.float32(_LEVEL_CELLS), out=tmp)
        np.clip(tmp, 0, _LEVEL_CELLS, out=tmp)
        np.copyto(index, tmp, casting="unsafe")                # truncation: the table cell
        np.take(_LEVEL_BASE, index, out=level, mode="clip")
        np.take(_LEVEL_STEP, index, out=tmp, mode="clip")
        np.greater_equal(c, tmp, out=mask)
        np.add(level, mask, out=level, casting="unsafe")
        out[..., ch] = level
    return int(np.count_nonzero(bad))


def recombine_u8(lightness: np.ndarray, ab: np.ndarray, *, threads: int | None = None) -> tuple[np.ndarray, int]:
    """Full-resolution L (H, W) float32 in [0, 100] + ab (2, h, w) float32 (any h, w) -> (sRGB (H, W, 3)
    uint8, number of clipped pixels). ab is upsampled bilinearly (align_corners=False) to (H, W), strip
    by strip of STRIP_ROWS rows, the strips spread over ``threads`` threads (default: all cores)."""
    if lightness.ndim != 2 or ab.ndim != 3 or ab.shape[0] != 2:
        raise ValueError(f"lightness must be (H, W) and ab (2, h, w), got {lightness.shape} and {ab.shape}")
    height, width = lightness.shape
    ab = ab.astype(np.float32, copy=False)
    if ab.shape[2] != width:
        ab = _apply_taps(ab, *_linear_taps(ab.shape[2], width), axis=-1)   # (2, h, W): small
    row_idx, row_w = _linear_taps(ab.shape[1], height)   # (weights 1, 0 when the heights agree)
    out = np.empty((height, width, 3), np.uint8)
    ws = _Workspace()

    def strip(rows: slice) -> int:
        n = rows.stop - rows.start
        planes, tmp = [ws.get("a", (n, width)), ws.get("b", (n, width))], ws.get("tmp", (n, width))
        i, w = row_idx[rows], row_w[rows]
        for plane, src in zip(planes, ab):
            np.take(src, i[:, 0], axis=0, out=plane, mode="clip")
            plane *= w[:, 0, None]
            np.take(src, i[:, 1], axis=0, out=tmp, mode="clip")
            tmp *= w[:, 1, None]
            plane += tmp
        return _lab_to_u8(lightness[rows], planes[0], planes[1], out[rows], ws)

    return out, sum(_map_strips(strip, height, threads))
