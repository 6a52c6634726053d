"""Inference: a trained run turns photos into colour photos at full resolution.

    photo -> Lab L (full res) -> resize to network scale -> network -> logits
          -> decode (mode / mean / annealed mean) -> ab (network res)
          -> upsample ab -> recombine with the full-resolution L -> sRGB file

The output's L channel is the input's L (up to 8-bit rounding and gamut clipping).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from tqdm import tqdm

__all__ = ["Run", "load_run", "predict", "colorize_array", "colorize_path"]


@dataclass
class Run:
    """A trained run loaded for inference."""

    model: torch.nn.Module
    bins: object
    config: object
    device: torch.device
    regression: bool


def load_run(run_dir: str | Path, *, device: str = "auto") -> Run:
    """Load config, bins and weights (safetensors) of a run folder."""
    from safetensors.torch import load_file

    import quantize

    from .config import load_config
    from .train import model_from_config, resolve_device

    run_dir = Path(run_dir)
    for name in ("config.toml", "bins.npz", "model.safetensors"):
        if not (run_dir / name).is_file():
            raise FileNotFoundError(f"run folder {str(run_dir)!r} has no {name}; "
                                    "train one with `train-classifier` or `colorclass demo`")
    cfg = load_config(str(run_dir / "config.toml"), [])
    bins = quantize.load_bins(run_dir / "bins.npz")
    regression = cfg.loss.name == "mse"
    model = model_from_config(cfg, bins.n_bins)
    weights = run_dir / ("best.safetensors" if (run_dir / "best.safetensors").is_file() else "model.safetensors")
    model.load_state_dict(load_file(str(weights)))
    dev = resolve_device(device)
    return Run(model.to(dev).eval(), bins, cfg, dev, regression)


def _network_size(h: int, w: int, size: int | None) -> tuple[int, int]:
    """Shorter side -> ``size`` (keeping aspect); None keeps the photo's size."""
    if not size:
        return h, w
    scale = size / min(h, w)
    return max(1, round(h * scale)), max(1, round(w * scale))


@torch.no_grad()
def predict(rgb_u8: np.ndarray, run: Run, *, size: int | None = None) -> dict[str, torch.Tensor]:
    """Run the network on one photo.

    rgb_u8: (H, W, 3) uint8. Returns a dict with ``l_full`` (1, 1, H, W) Lab L of the photo,
    ``l_net`` (1, 1, h', w') Lab L at the network's output resolution and ``output``
    (1, Q or 2, h', w') float32 logits (or ab for a regression run), h' = ceil(h / stride).
    """
    from .color import lab_to_l_input, rgb_to_lab
    from .models import crop_to, pad_to_multiple

    if rgb_u8.ndim != 3 or rgb_u8.shape[2] != 3 or rgb_u8.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 photo, got {rgb_u8.dtype} {rgb_u8.shape}")
    rgb = torch.from_numpy(rgb_u8).to(run.device).permute(2, 0, 1)[None].float() / 255
    l_full = rgb_to_lab(rgb)[:, :1]
    h, w = _network_size(rgb.shape[2], rgb.shape[3], size)
    l_small = F.interpolate(l_full, size=(h, w), mode="bilinear", align_corners=False,
                            antialias=True) if (h, w) != tuple(l_full.shape[2:]) else l_full
    x, _ = pad_to_multiple(lab_to_l_input(l_small), run.model.input_multiple)
    stride = run.model.output_stride
    out = crop_to(run.model(x), -(-h // stride), -(-w // stride)).float()
    l_net = F.avg_pool2d(l_small, stride, ceil_mode=True) if stride > 1 else l_small
    return {"l_full": l_full, "l_net": l_net, "output": out}


@torch.no_grad()
def colorize_array(rgb_u8: np.ndarray, run: Run, *, method: str = "annealed",
                   temperature: float = 0.38, size: int | None = None) -> tuple[np.ndarray, int]:
    """Colourise one photo.

    rgb_u8: (H, W, 3) uint8 (a grayscale photo replicated to 3 channels is fine; only its
    lightness is used). Returns (colour photo (H, W, 3) uint8, number of clipped pixels).
    """
    from .decode import decode, recombine_full_resolution

    p = predict(rgb_u8, run, size=size)
    ab = p["output"] if run.regression else decode(
        p["output"], run.bins, method=method, temperature=temperature, lightness=p["l_net"])
    rgb_out, n_clipped = recombine_full_resolution(p["l_full"], ab)
    img = (rgb_out[0].permute(1, 2, 0).clamp(0, 1) * 255).round().byte().cpu().numpy()
    return img, int(n_clipped)


def _inputs(path: Path) -> list[Path]:
    from .photos import list_images

    return [path] if path.is_file() else list_images(path)


def colorize_path(input_path: str | Path, out_dir: str | Path, *, run_dir: str | Path = "runs/demo",
                  method: str | None = None, temperature: float | None = None,
                  size: int | None = None, device: str = "auto") -> list[Path]:
    """Colourise a file or every photo of a folder into ``out_dir`` as ``<stem>.png``.

    Unreadable files are skipped and counted; the job never stops on one bad file.
    Returns the written paths.
    """
    from .color import GamutWarning
    from .photos import SkipReport, UnreadableImage, load_rgb

    run = load_run(run_dir, device=device)
    method = method or run.config.decode.method
    temperature = temperature if temperature is not None else run.config.decode.temperature
    if size is None:
        size = run.config.data.resize or None
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = _inputs(Path(input_path))
    skipped, written, clipped = SkipReport(), [], 0
    for f in tqdm(files, desc="colorize", unit="img", disable=len(files) < 2):
        try:
            rgb = load_rgb(f)
        except UnreadableImage as e:
            skipped.add(f, e.reason)
            continue
        with warnings.catch_warnings():  # clipping is counted and reported once, below
            warnings.simplefilter("ignore", GamutWarning)
            img, n = colorize_array(rgb, run, method=method, temperature=temperature, size=size)
        clipped += n
        dst = out_dir / f"{f.stem}.png"
        Image.fromarray(img).save(dst)
        written.append(dst)
    print(f"colourised {len(written)} photo(s) into {out_dir} (decode={method}, T={temperature})")
    if skipped.total:
        print(f"skipped {skipped.total}: {skipped.summary()}")
    if clipped:
        print(f"note: {clipped} pixels were outside the sRGB gamut and were clipped")
    return written
