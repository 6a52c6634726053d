"""The Predictor: the one way from a photo to logits, distributions, ab and colour photos.

    Predictor.load(run folder | "builtin:NAME", flags)      # settings resolved once (settings.py)
    photo rgb uint8 -> *predict*: lightness -> network grid -> network -> logits (Prediction)
                    -> *ab*: decode (mode / mean / annealed mean; the network's ab for regression)
                    -> *colorize*: ab upsampled + the photo's own lightness -> sRGB

colorize, evaluate, calibrate, the demo, the reports, the activation pictures and the training
sample grids and validation all go through a Predictor, so they see the same colours for the
same photo and settings. ``Predictor.for_model`` wraps a network that is still training.
``Predictor.distribution_at`` gives the distribution (Q,) at one pixel (``colorclass suggest``).

``LevinPredictor`` has the same ``colorize(rgb_u8 (H, W, 3) uint8, hints=) -> ((H, W, 3) uint8,
clipped)`` but no network: the hint points are propagated by Levin et al. 2004
(``hints.levin``), for ``colorize --method levin`` and as the baseline of the hint curve.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from colorclass.hints.points import HINT_CHANNELS, check_hints_taken
from colorclass.inference.settings import DecodeSettings, resolve_settings
from colorclass.support.errors import UsageError

if TYPE_CHECKING:
    import numpy as np
    import torch
    from torch import Tensor

    from colorclass.decoding.bins_protocol import ColourBins
    from colorclass.hints.points import Hint
    from colorclass.inference.network import Prediction
    from colorclass.runs.loading import Run

__all__ = ["Predictor", "LevinPredictor", "resolve_source", "BUILTIN_PREFIX"]

BUILTIN_PREFIX = "builtin:"


def resolve_source(source: str | Path | None) -> tuple[Path, str]:
    """A run folder, ``builtin:NAME``, a built-in model's bare name, or None (the default
    built-in model) -> (run folder, display name)."""
    from colorclass.builtin import BUILTIN_MODELS, DEFAULT_MODEL, builtin_run_dir

    if source is None:
        return builtin_run_dir(DEFAULT_MODEL), f"{BUILTIN_PREFIX}{DEFAULT_MODEL}"
    text = str(source)
    name = text[len(BUILTIN_PREFIX):] if text.startswith(BUILTIN_PREFIX) else None
    if name is None and text in BUILTIN_MODELS and not Path(text).exists():
        name = text
    if name is not None:
        return builtin_run_dir(name), f"{BUILTIN_PREFIX}{name}"
    return Path(text), text


def _card(run_dir: Path) -> dict[str, Any] | None:
    """A built-in model's card.json decoding fields, as a settings layer."""
    from colorclass.builtin import read_card

    path = run_dir / "card.json"
    if not path.exists():
        return None
    card = read_card(path)   # bounded and checked: one line naming the file
    return {"method": card.get("decode_method"), "temperature": card.get("calibrated_temperature"),
            "size": card.get("inference_size")}


class Predictor:
    """A network, its bins and its resolved decoding settings.

    model: the network (eval mode) on ``device``; bins: ``quantize.Bins`` (any
    ``colorclass.decoding.ColourBins``; None only for regression); regression: the network outputs ab
    (the L2 baseline);
    settings: ``DecodeSettings`` (method, temperature, size, where each came from); stride:
    the network's output stride (default: the model's ``output_stride`` attribute).
    """

    def __init__(self, model: torch.nn.Module, bins: ColourBins | None, *, settings: DecodeSettings,
                 regression: bool = False, device: torch.device | str = "cpu", stride: int | None = None,
                 name: str = "", run: Run | None = None) -> None:
        self.model, self.bins, self.settings = model, bins, settings
        self.regression, self.device, self.stride = regression, device, stride
        self.name, self.run = name, run

    # ------------------------------------------------------------------ construction
    @classmethod
    def load(cls, source: str | Path | None = None, *, method: str | None = None,
             temperature: float | None = None, size: int | None = None, device: str = "auto") -> Predictor:
        """Predictor for a run folder or built-in model (see ``resolve_source``); the flags
        override the run's calibration, config and card, each validated once here."""
        from colorclass.runs.experiment import load_config
        from colorclass.runs.loading import CALIBRATION_FILE, load_run, read_calibration, require_run_files

        run_dir, name = resolve_source(source)
        require_run_files(run_dir)
        cfg = load_config(str(run_dir / "config.toml"), [])
        cal = None if cfg.loss.name == "mse" else read_calibration(run_dir)
        recorded = {"method": cfg.decode.method, "temperature": cfg.decode.temperature,
                    "size": cfg.data.resize or None}
        settings = resolve_settings(
            {"method": method, "temperature": temperature, "size": size}, cal, recorded, _card(run_dir),
            where={"calibration": str(run_dir / CALIBRATION_FILE), "run": str(run_dir / "config.toml")},
            calibrated_on=str(cal.get("data", "?")) if cal else None)
        run = load_run(run_dir, device=device)
        return cls(run.model, run.bins, settings=settings, regression=run.regression, device=run.device,
                   name=name, run=run)

    @classmethod
    def for_model(cls, model: torch.nn.Module, bins: ColourBins | None, *, regression: bool = False,
                  method: str | None = None, temperature: float | None = None, size: int | None = None,
                  device: torch.device | str = "cpu", stride: int | None = None) -> Predictor:
        """Predictor for a network that is not a run folder yet (training-time validation and
        sample grids); ``method`` / ``temperature`` / ``size`` as from the run's config."""
        settings = resolve_settings({"method": method, "temperature": temperature, "size": size},
                                    layer_names=("run",))
        return cls(model, bins, settings=settings, regression=regression, device=device, stride=stride)

    def with_settings(self, *, method: str | None = None, temperature: float | None = None,
                      size: int | None = None) -> Predictor:
        """The same network with some settings overridden (e.g. a calibration sweep)."""
        return Predictor(self.model, self.bins, settings=self.settings.with_overrides(
            method=method, temperature=temperature, size=size), regression=self.regression,
            device=self.device, stride=self.stride, name=self.name, run=self.run)

    def describe(self) -> str:
        """One line: the model and where each decoding setting came from."""
        return f"{self.name or 'model'}: {self.settings.describe(regression=self.regression)}"

    # ------------------------------------------------------------------ prediction
    def photo(self, rgb_u8: np.ndarray) -> Tensor:
        """(H, W, 3) uint8 array -> (1, 3, H, W) uint8 tensor on the Predictor's device."""
        from colorclass.inference.network import photo_tensor

        return photo_tensor(rgb_u8, self.device)

    @property
    def hint_aware(self) -> bool:
        """True when the network takes hint planes (lightness + ab hint map + mask)."""
        return int(getattr(self.model, "in_channels", 1)) == 1 + HINT_CHANNELS

    def _planes(self, hints: Sequence[Hint] | None, height: int, width: int, batch: int = 1):
        """Extra input planes for the network grid (h, w) of an (height, width) photo: the hint
        map and mask (zeros without hints) for a hint-aware network, None otherwise."""
        check_hints_taken(hints, hint_aware=self.hint_aware, name=self.name)
        if not self.hint_aware:
            return None
        import torch

        from colorclass.hints.points import hints_to_planes

        def planes(h: int, w: int) -> Tensor:
            grid = hints_to_planes(list(hints or ()), h, w, scale=(h / height, w / width))
            return torch.from_numpy(grid)[None].to(self.device).expand(batch, -1, -1, -1)

        return planes

    def predict(self, rgb_u8: Tensor, *, hints: Sequence[Hint] | None = None) -> Prediction:
        """rgb_u8 (B, 3, H, W) uint8 (only its lightness is used) -> Prediction (logits at the
        network grid of ``settings.size``; see ``inference.network.Prediction``). ``hints``:
        points in the photo's own pixel coordinates (``hints.points.Hint``), for every photo of
        the batch; a network that is not hint-aware refuses them."""
        from colorclass.inference.network import lightness_of, predict_logits

        height, width = rgb_u8.shape[-2:]
        planes = self._planes(hints, int(height), int(width), batch=int(rgb_u8.shape[0]))
        return predict_logits(self.model, lightness_of(rgb_u8.to(self.device)), size=self.settings.size,
                              stride=self.stride, planes=planes)

    def distribution_at(self, rgb_u8: np.ndarray, x: int, y: int, *,
                        hints: Sequence[Hint] | None = None) -> tuple[np.ndarray, float]:
        """The predicted distribution at photo pixel (x, y) of one photo (H, W, 3) uint8 (given
        ``hints`` for a hint-aware network): (probs (Q,) float64 summing to 1 -- the network grid
        cell holding the pixel --, the pixel's own Lab L in [0, 100])."""
        height, width = rgb_u8.shape[:2]
        for key, value, n, side in (("x", x, width, "width"), ("y", y, height, "height")):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < n:
                raise UsageError(f"--at {key}={value!r} is outside the photo ({side} {n}); "
                                 f"give {key} in 0..{n - 1}")
        prediction = self.predict(self.photo(rgb_u8), hints=hints)
        probs = self.probabilities(prediction)[0]
        rows, cols = probs.shape[-2:]
        row, col = min(int((y + 0.5) * rows / height), rows - 1), min(int((x + 0.5) * cols / width), cols - 1)
        return probs[:, row, col].double().cpu().numpy(), float(prediction.l_full[0, 0, y, x])

    def probabilities(self, prediction: Prediction) -> Tensor:
        """The predicted distribution softmax(logits): (B, Q, h, w) float32, sums to 1 over Q."""
        import torch

        if self.regression:
            raise UsageError(f"{self.name or 'this run'} is a regression run: it predicts ab directly and has no "
                             "distribution over bins; use a classification run")
        return torch.softmax(prediction.output.float(), dim=1)

    def ab(self, prediction: Prediction) -> Tensor:
        """Decoded chroma (B, 2, h, w) float32, ab in about [-110, 110], with ``settings``."""
        from colorclass.decoding.decoders import decode

        if self.regression:
            return prediction.output
        if self.bins is None:
            raise ValueError(f"{self.name or 'this model'} has no colour bins to decode its logits with; "
                             "pass bins (quantize.load_bins(path)) or regression=True")
        return decode(prediction.output, self.bins, method=self.settings.method,
                      temperature=self.settings.temperature, lightness=prediction.l_net)

    def colorize_tensor(self, rgb_u8: Tensor, *, as_uint8: bool = False,
                        hints: Sequence[Hint] | None = None) -> tuple[Tensor, int, Prediction]:
        """rgb_u8 (B, 3, H, W) uint8 -> (colour (B, 3, H, W) float32 in [0, 1] at full
        resolution, number of clipped pixels, the Prediction); with ``as_uint8`` the colour is
        (B, H, W, 3) uint8, made strip by strip without a full-size float copy."""
        import torch

        from colorclass.decoding.decoders import recombine_full_resolution

        with torch.no_grad():
            prediction = self.predict(rgb_u8, hints=hints)
            rgb, n_clipped = recombine_full_resolution(prediction.l_full, self.ab(prediction), as_uint8=as_uint8)
        return rgb, int(n_clipped), prediction

    def colorize(self, rgb_u8: np.ndarray, *, hints: Sequence[Hint] | None = None) -> tuple[np.ndarray, int]:
        """One photo (H, W, 3) uint8 (a gray photo replicated to 3 channels is fine), optional
        hint points -> (colour photo (H, W, 3) uint8 at the photo's own size, clipped pixels)."""
        rgb, n_clipped, _ = self.colorize_tensor(self.photo(rgb_u8), as_uint8=True, hints=hints)
        return rgb[0].cpu().numpy(), n_clipped


class _LevinSettings:
    """What ``colorize_files`` and ``evaluate`` read of a Predictor's settings."""

    method, temperature, size = "levin", None, None
    sources: dict[str, str] = {}

    def describe(self, *, regression: bool = False) -> str:
        return "Levin et al. 2004 propagation of the hints (no network)"


class LevinPredictor:
    """Hint propagation without a network, behind the Predictor's ``colorize`` (``hints.levin``).
    Without hints the answer is gray. ``max_side``: the solve's bounded size (long side)."""

    regression, run, bins, hint_aware = False, None, None, True

    def __init__(self, *, max_side: int | None = None) -> None:
        from colorclass.hints.levin import DEFAULT_MAX_SIDE

        self.max_side, self.settings, self.name = int(max_side or DEFAULT_MAX_SIDE), _LevinSettings(), "levin"

    def describe(self) -> str:
        return f"levin: {self.settings.describe()}"

    def colorize(self, rgb_u8: np.ndarray, *, hints: Sequence[Hint] | None = None) -> tuple[np.ndarray, int]:
        """One photo (H, W, 3) uint8 and hint points -> (colour photo (H, W, 3) uint8, clipped pixels)."""
        import numpy as np

        from colorclass.cie import lab_to_rgb
        from colorclass.color import rgb_u8_to_lab_np
        from colorclass.hints.levin import levin_colorize_points

        lightness = rgb_u8_to_lab_np(rgb_u8)[..., 0]
        ab = levin_colorize_points(lightness, list(hints or ()), max_side=self.max_side)
        rgb, out_of_gamut = lab_to_rgb(np.concatenate([lightness[..., None], ab.transpose(1, 2, 0)], axis=-1))
        return (rgb * 255).round().astype(np.uint8), int(out_of_gamut.sum())
