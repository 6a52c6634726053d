"""Per-layer activation pictures: what each layer of a trained network responds to.

    photo -> lightness -> network (forward hooks) -> *feature maps per layer* -> PNG
                                                   -> predicted bins and confidence

``record_activations`` is the pure part (hooks always removed); ``save_activation_grid``
draws one row per layer (input, then the strongest feature maps), plus a last row with the
colourised prediction, the argmax bin coloured by its bin colour and the confidence map.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from colorclass.support.errors import ColorclassError
from colorclass.support.files import atomic_path

__all__ = ["default_layers", "record_activations", "save_activation_grid"]


def default_layers(model: nn.Module) -> list[str]:
    """Names of every Conv2d / ConvTranspose2d of ``model``, in forward-definition order."""
    return [name for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]


@torch.no_grad()
def record_activations(model: nn.Module, l_input: Tensor, *,
                       layers: Sequence[str] | None = None) -> dict[str, Tensor]:
    """Run ``model`` on ``l_input: (1, 1, H, W)`` and return ``{layer name: (C, h, w) float32}``
    in execution order. Hooks are removed even when the forward pass fails."""
    modules = dict(model.named_modules())
    names = list(layers) if layers is not None else default_layers(model)
    missing = [n for n in names if n not in modules]
    if missing:
        raise ColorclassError(f"unknown layer(s) {missing[:3]}; "
                              f"valid names: {', '.join(default_layers(model)[:8])}, ...")
    out: dict[str, Tensor] = {}
    handles = []
    for name in names:
        def hook(_m, _inp, output, name=name):
            if torch.is_tensor(output) and output.ndim == 4:
                out[name] = output[0].detach().float().cpu()
        handles.append(modules[name].register_forward_hook(hook))
    was_training = model.training
    try:
        model.eval()
        model(l_input)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return out


def _strongest(maps: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """The ``k`` channels with the highest mean squared activation, each scaled to [0, 1]."""
    energy = maps.square().mean(dim=(1, 2))
    idx = energy.argsort(descending=True)[:k]
    sel = maps[idx]
    lo = sel.amin(dim=(1, 2), keepdim=True)
    hi = sel.amax(dim=(1, 2), keepdim=True)
    return (sel - lo) / (hi - lo).clamp(min=1e-8), idx


def _pick_rows(acts: dict[str, Tensor], max_rows: int) -> list[str]:
    names = list(acts)
    if len(names) <= max_rows:
        return names
    keep = np.linspace(0, len(names) - 1, max_rows).round().astype(int)
    return [names[i] for i in sorted(set(keep))]


def save_activation_grid(run_dir: str | Path, image_path: str | Path, out_png: str | Path, *,
                         max_channels: int = 16, size: int | None = None, max_layers: int = 14) -> Path:
    """Draw the activations of the run's network on one photo into ``out_png``."""
    from matplotlib.figure import Figure  # object API: no pyplot state, no global backend change

    from colorclass.inference.predictor import Predictor
    from colorclass.models import pad_to_multiple
    from colorclass.photos import load_rgb

    predictor = Predictor.load(run_dir, size=size)
    rgb_u8 = load_rgb(image_path)
    prediction = predictor.predict(predictor.photo(rgb_u8))
    # what the network saw (padded as inference.network.forward_padded pads it)
    x, _ = pad_to_multiple(prediction.l_input, int(getattr(predictor.model, "input_multiple", 1)))
    acts = record_activations(predictor.model, x)
    rows = _pick_rows(acts, max_layers)
    cols = max_channels + 1
    fig = Figure(figsize=(cols * 1.1, (len(rows) + 1) * 1.25))
    axes = fig.subplots(len(rows) + 1, cols, squeeze=False)
    gray = x[0, 0].cpu().numpy()
    for r, name in enumerate(rows):
        maps, _ = _strongest(acts[name], max_channels)
        axes[r, 0].imshow(gray, cmap="gray")
        axes[r, 0].set_ylabel(f"{name}\n{tuple(acts[name].shape)}", fontsize=6, rotation=0, ha="right", va="center")
        for c in range(max_channels):
            ax = axes[r, c + 1]
            if c < len(maps):
                ax.imshow(maps[c].cpu().numpy(), cmap="magma")
    _prediction_row(axes[-1], predictor, rgb_u8, prediction.output)
    for ax in axes.ravel():
        ax.set_xticks([]), ax.set_yticks([])
        for s in ax.spines.values():
            s.set_visible(False)
    fig.suptitle(f"{Path(image_path).name}: strongest feature maps per layer (each scaled to its own range)",
                 fontsize=9)
    fig.tight_layout(rect=(0.06, 0, 1, 0.98))
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, dpi=110)
    return out_png


def _prediction_row(axes, predictor, rgb_u8: np.ndarray, output: Tensor) -> None:
    """Last row: truth, colourised, argmax bin colours, confidence, region averages."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        colour, _ = predictor.colorize(rgb_u8)
    panels = [(rgb_u8, "truth"), (colour, "colourised")]
    if not predictor.regression:
        panels += _label_panels(predictor, rgb_u8, output.cpu())
    for ax, (img, title) in zip(axes, panels):
        ax.imshow(img, cmap="viridis" if img.ndim == 2 else None, vmin=0, vmax=1 if img.ndim == 2 else None)
        ax.set_title(title, fontsize=7)


def _label_panels(run, rgb_u8: np.ndarray, output: Tensor) -> list[tuple[np.ndarray, str]]:
    """Argmax bin colours, confidence, and the true photo averaged over the regions of the
    predicted and of the target labels (what the labels mean for this photo)."""
    import torch.nn.functional as F

    from colorclass.color import lab_to_rgb_with_gamut
    from colorclass.decoding.decoders import region_average

    probs = output.float().softmax(1)
    conf, label = probs.max(1)                                                      # (1, h, w)
    ab = torch.as_tensor(run.bins.centers_ab, dtype=torch.float32)[label[0]]       # (h, w, 2)
    lab = torch.cat([torch.full_like(ab[..., :1], 65.0), ab], -1)
    truth = torch.from_numpy(rgb_u8).permute(2, 0, 1)[None].float()
    truth = F.interpolate(truth, size=label.shape[1:], mode="area")                 # (1, 3, h, w)
    target = run.bins.encoder().hard(truth.round().clamp(0, 255).byte())
    by_pred = region_average(label, truth / 255)[0].permute(1, 2, 0).numpy()
    by_target = region_average(target, truth / 255)[0].permute(1, 2, 0).numpy()
    return [(lab_to_rgb_with_gamut(lab, dim=-1)[0].numpy(), "argmax bin"),
            (conf[0].numpy(), "confidence"),
            (by_pred.clip(0, 1), "regions: pred."),
            (by_target.clip(0, 1), "regions: target")]
