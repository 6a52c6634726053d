"""Metrics: how close a trained run's colours are to the truth.

    photos with true colour -> gray -> trained run -> decode -> colour image -> *metrics JSON*

JSON keys (a contract; later versions add keys, never rename):
    n_images, n_skipped, skipped (reason -> count), decode, temperature,
    pixel_acc      predicted argmax bin == nearest bin of the true colour (network resolution)
    ab_rmse        root mean squared ab error in Lab units, full resolution
    auc_ab         area under the curve of the fraction of pixels within ab distance t,
                   t = 0..150 (Zhang et al. 2016 "raw accuracy"), in [0, 1]
    psnr           PSNR of the sRGB output vs the truth in dB (peak 1), full resolution
    colorfulness_pred, colorfulness_true   mean Hasler-Suesstrunk colourfulness
    clipped_fraction   fraction of pixels clipped to the sRGB gamut
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

__all__ = ["image_metrics", "evaluate_run", "AUC_THRESHOLDS"]

AUC_THRESHOLDS = np.arange(0, 151, dtype=np.float64)
_trapezoid = getattr(np, "trapezoid", None) or np.trapz  # NumPy 2 renamed trapz


def image_metrics(pred_u8: np.ndarray, truth_u8: np.ndarray) -> dict[str, float | np.ndarray]:
    """Full-resolution metrics of one photo: ab error stats, PSNR, colourfulness.

    pred_u8, truth_u8: (H, W, 3) uint8 of the same size.
    """
    from .color import rgb_u8_to_lab_np
    from .photos import hasler_susstrunk

    if pred_u8.shape != truth_u8.shape:
        raise ValueError(f"prediction {pred_u8.shape} and truth {truth_u8.shape} differ in size")
    lab_p, lab_t = rgb_u8_to_lab_np(pred_u8), rgb_u8_to_lab_np(truth_u8)
    dist = np.linalg.norm(lab_p[..., 1:] - lab_t[..., 1:], axis=-1).ravel()
    within = (dist[None, :] <= AUC_THRESHOLDS[:, None]).mean(axis=1)
    mse = np.mean((pred_u8.astype(np.float64) - truth_u8.astype(np.float64)) ** 2) / 255 ** 2
    return {"sq_err_sum": float((dist ** 2).sum()), "n_pixels": dist.size, "within": within,
            "psnr": float(10 * math.log10(1 / max(mse, 1e-12))),
            "colorfulness_pred": float(hasler_susstrunk(pred_u8)),
            "colorfulness_true": float(hasler_susstrunk(truth_u8))}


def _pixel_hits(output: torch.Tensor, truth_u8: np.ndarray, encoder) -> tuple[int, int]:
    """Argmax-bin hits against nearest-bin labels of the truth resized to the output size."""
    h, w = output.shape[2:]
    rgb = torch.from_numpy(truth_u8).permute(2, 0, 1)[None].float()
    small = F.interpolate(rgb, size=(h, w), mode="area").round().clamp(0, 255).byte()
    labels = encoder.hard(small.to(output.device))
    return int((output.argmax(1) == labels).sum()), labels.numel()


def evaluate_run(run_dir: str | Path, data: str | Path, *, out: str | Path | None = None,
                 method: str | None = None, temperature: float | None = None,
                 max_images: int = 0, device: str = "auto") -> dict:
    """Colourise every photo of ``data`` with the run and write the metrics JSON."""
    from .photos import list_images, load_rgb, scan_images
    from .predict import colorize_batch, photo_tensor, to_uint8
    from .runs import load_run

    run = load_run(run_dir, device=device)
    method = method or run.method
    temperature = temperature if temperature is not None else run.temperature
    files, skipped = scan_images(list_images(data))
    files = files[:max_images] if max_images else files
    if not files:
        raise ValueError(f"no usable photos with colour in {str(data)!r}; `colorclass data {data}` shows why")
    encoder = None if run.regression else run.bins.encoder(device=str(run.device))
    size = run.network_size
    sums = {"sq": 0.0, "n": 0, "within": np.zeros_like(AUC_THRESHOLDS), "psnr": 0.0, "cp": 0.0,
            "ct": 0.0, "hits": 0, "labels": 0, "clipped": 0, "full_pixels": 0}
    for f in tqdm(files, desc="evaluate", unit="img"):
        truth = load_rgb(f)
        rgb, n_clipped, p = colorize_batch(run.model, photo_tensor(truth, run.device), run.bins,
                                           regression=run.regression, method=method,
                                           temperature=temperature, size=size)
        pred = to_uint8(rgb)[0]
        m = image_metrics(pred, truth)
        sums["sq"] += m["sq_err_sum"]
        sums["n"] += m["n_pixels"]
        sums["within"] += m["within"] * m["n_pixels"]
        sums["psnr"] += m["psnr"]
        sums["cp"] += m["colorfulness_pred"]
        sums["ct"] += m["colorfulness_true"]
        sums["clipped"] += int(n_clipped)
        if encoder is not None:
            hits, n = _pixel_hits(p.output, truth, encoder)
            sums["hits"] += hits
            sums["labels"] += n
    n_img = len(files)
    curve = sums["within"] / sums["n"]
    result = {
        "n_images": n_img, "n_skipped": skipped.total, "skipped": dict(skipped.counts),
        "decode": method, "temperature": temperature,
        "pixel_acc": sums["hits"] / sums["labels"] if sums["labels"] else None,
        "ab_rmse": math.sqrt(sums["sq"] / sums["n"]),
        "auc_ab": float(_trapezoid(curve, AUC_THRESHOLDS) / AUC_THRESHOLDS[-1]),
        "psnr": sums["psnr"] / n_img,
        "colorfulness_pred": sums["cp"] / n_img, "colorfulness_true": sums["ct"] / n_img,
        "clipped_fraction": sums["clipped"] / sums["n"],
        "run": str(run_dir), "data": str(data),
    }
    out = Path(out) if out else Path(run_dir) / "eval.json"
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k not in ("skipped",)}, indent=2))
    print(f"wrote {out}")
    return result
