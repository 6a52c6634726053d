"""Fast target encoding by table lookup: uint8 colour -> hard label or sparse soft target.

Pipeline: photos -> quantize (fit bins) -> **encode targets** -> network -> loss -> decode -> ...

Each table is the bins' exact encoder evaluated once at the centre of every colour cell of a
``bits``-per-channel RGB grid (8 bits = every 8-bit colour). Encoding a batch is then an integer
key computation and a gather, on CPU or CUDA. Tables are built on first use.

Accuracy: a table entry is the exact target of its cell's centre colour, so the lookup equals the
exact encoder applied to the colour moved by at most (2 ** (8 - bits) - 1) / 2 levels per channel.
Hard tables default to 8 bits (identical to the exact encoder; 7 bits for the GMM, whose
posteriors are costly to tabulate: about 4% of CIFAR pixels then differ, all at bin borders).
Soft tables default to 6 bits: on CIFAR photos the summed absolute weight difference per pixel
is about 0.1-0.2 on average (tests/test_quantize_encoder.py states the bounds it checks).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

DEFAULT_SOFT_BITS = 6
_BUILD_CHUNK = 1 << 18


def cell_centre_colours(bits: int, start: int = 0, stop: int | None = None) -> np.ndarray:
    """sRGB in [0, 1] at the centre of the colour cells with keys in [start, stop): (n, 3) float32.

    key = (r >> s) << 2 bits | (g >> s) << bits | (b >> s), with s = 8 - bits."""
    size = 1 << bits
    keys = np.arange(start, size ** 3 if stop is None else stop, dtype=np.int64)
    levels = np.stack([keys >> (2 * bits), (keys >> bits) & (size - 1), keys & (size - 1)], 1)
    width = 1 << (8 - bits)
    return ((levels * width + (width - 1) / 2) / 255.0).astype(np.float32)


def colour_keys(rgb_u8: Tensor, bits: int) -> Tensor:
    """rgb_u8: (B, 3, H, W) uint8 -> (B, H, W) int32 table keys (see :func:`cell_centre_colours`)."""
    x = rgb_u8 >> (8 - bits) if bits < 8 else rgb_u8
    key = x[:, 0].to(torch.int32)
    key.mul_(1 << bits).add_(x[:, 1]).mul_(1 << bits).add_(x[:, 2])
    return key


def _check_image(rgb_u8: Tensor) -> Tensor:
    if not isinstance(rgb_u8, Tensor) or rgb_u8.dtype != torch.uint8 or rgb_u8.ndim != 4 or rgb_u8.shape[1] != 3:
        got = f"{rgb_u8.dtype} {tuple(rgb_u8.shape)}" if isinstance(rgb_u8, Tensor) else type(rgb_u8).__name__
        raise ValueError(f"rgb_u8 must be a uint8 tensor (B, 3, H, W), got {got}; "
                         "add a batch axis with x[None] or convert with (x * 255).round().to(torch.uint8)")
    return rgb_u8


def _check_bits(bits: int, name: str) -> int:
    if int(bits) != bits or not 4 <= bits <= 8:
        raise ValueError(f"{name} must be an integer in [4, 8] (bits per colour channel), got {bits!r}")
    return int(bits)


class Encoder:
    """Lookup-table encoder for a fitted :class:`quantize.Bins`.

    hard(rgb_u8 (B, 3, H, W) uint8) -> (B, H, W) int64 bin index in [0, Q)
    soft(rgb_u8) -> (idx (B, n, H, W) int64, weight (B, n, H, W) float32 summing to 1 over n)
    """

    def __init__(self, bins, *, device: str | torch.device = "cpu", n: int = 5, sigma: float = 5.0,
                 soft_bits: int | None = None, hard_bits: int | None = None) -> None:
        self.bins, self.n, self.sigma = bins, bins._check_n_sigma(n, sigma), float(sigma)
        self.device = torch.device(device)
        self.soft_bits = _check_bits(DEFAULT_SOFT_BITS if soft_bits is None else soft_bits, "bits")
        self.hard_bits = _check_bits(bins.lut_hard_bits if hard_bits is None else hard_bits, "hard_bits")
        self._hard_table: Tensor | None = None
        self._soft_tables: tuple[Tensor, Tensor] | None = None

    # -- tables ----------------------------------------------------------------------------
    def hard_table(self) -> Tensor:
        """(2 ** (3 * hard_bits),) int64: bin of each colour cell."""
        if self._hard_table is None:
            size = 1 << (3 * self.hard_bits)
            table = np.empty(size, np.int64)
            for s in range(0, size, _BUILD_CHUNK):
                table[s:s + _BUILD_CHUNK] = self.bins.encode_hard_exact(
                    cell_centre_colours(self.hard_bits, s, min(size, s + _BUILD_CHUNK)))
            self._hard_table = torch.from_numpy(table).to(self.device)
        return self._hard_table

    def soft_tables(self) -> tuple[Tensor, Tensor]:
        """(idx (n, M) int64, weight (n, M) float32) with M = 2 ** (3 * soft_bits), one row per slot."""
        if self._soft_tables is None:
            size = 1 << (3 * self.soft_bits)
            idx, weight = np.empty((size, self.n), np.int64), np.empty((size, self.n), np.float32)
            for s in range(0, size, _BUILD_CHUNK):
                colours = cell_centre_colours(self.soft_bits, s, min(size, s + _BUILD_CHUNK))
                idx[s:s + _BUILD_CHUNK], weight[s:s + _BUILD_CHUNK] = self.bins.encode_soft_exact(
                    colours, n=self.n, sigma=self.sigma)
            self._soft_tables = (torch.from_numpy(np.ascontiguousarray(idx.T)).to(self.device),
                                 torch.from_numpy(np.ascontiguousarray(weight.T)).to(self.device))
        return self._soft_tables

    # -- encoding --------------------------------------------------------------------------
    def hard(self, rgb_u8: Tensor) -> Tensor:
        """rgb_u8: (B, 3, H, W) uint8 -> (B, H, W) int64 labels (on the encoder's device)."""
        rgb_u8 = _check_image(rgb_u8).to(self.device)
        key = colour_keys(rgb_u8, self.hard_bits)
        return torch.index_select(self.hard_table(), 0, key.view(-1)).view(key.shape)

    def soft(self, rgb_u8: Tensor, *, out: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        """rgb_u8: (B, 3, H, W) uint8 -> (idx (B, n, H, W) int64, weight (B, n, H, W) float32).

        ``out``: optional preallocated (idx, weight) of exactly those shapes, dtypes and device,
        reused instead of fresh tensors (writing fresh large tensors costs page faults on CPU).
        """
        rgb_u8 = _check_image(rgb_u8).to(self.device)
        table_idx, table_w = self.soft_tables()
        key = colour_keys(rgb_u8, self.soft_bits)
        b, h, w = key.shape
        idx, weight = self._soft_outputs((b, self.n, h, w), out)
        # one gather per output: slot j of pixel p reads table[j, key[p]]
        slot_keys = key.view(b, 1, h * w).long().expand(b, self.n, h * w)
        torch.gather(table_idx.unsqueeze(0).expand(b, -1, -1), 2, slot_keys, out=idx.view(b, self.n, h * w))
        torch.gather(table_w.unsqueeze(0).expand(b, -1, -1), 2, slot_keys, out=weight.view(b, self.n, h * w))
        return idx, weight

    def _soft_outputs(self, shape: tuple[int, ...], out: tuple[Tensor, Tensor] | None) -> tuple[Tensor, Tensor]:
        if out is None:
            return (torch.empty(shape, dtype=torch.int64, device=self.device),
                    torch.empty(shape, dtype=torch.float32, device=self.device))
        idx, weight = out
        for t, dtype, name in ((idx, torch.int64, "idx"), (weight, torch.float32, "weight")):
            if tuple(t.shape) != shape or t.dtype != dtype or t.device != self.device or not t.is_contiguous():
                raise ValueError(f"out {name} must be a contiguous {dtype} tensor of shape {shape} on "
                                 f"{self.device}, got {t.dtype} {tuple(t.shape)} on {t.device}")
        return idx, weight

    def __repr__(self) -> str:
        return (f"Encoder({self.bins!r}, n={self.n}, sigma={self.sigma}, hard_bits={self.hard_bits}, "
                f"soft_bits={self.soft_bits}, device={self.device})")
