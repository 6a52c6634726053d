"""ColorizationTask: the only colour-aware object the generic trainer sees.

Pipeline position: photos -> quantize (fit bins) -> **encode targets -> (network) -> loss**
-> decode -> colour image -> metrics / reports.

A batch ``{"rgb": (B, 3, S, S) uint8, optional "mask": (B, S, S) bool, ...}`` becomes the
network input ``l_input = L / 50 - 1: (B, 1, S, S) float32`` and targets at the logits'
resolution ``S / output_stride`` (further divided by ``lowpass`` for low-pass targets; then the
logits are average-pooled by ``lowpass`` before the loss). Targets come from the bins' fast
LUT ``Encoder``: hard nearest-bin labels (``loss="ce"``), sparse Gaussian soft targets
(``loss="kl"``; GMM bins give their posteriors through the same API) or Lab ab (``loss="mse"``,
regression baseline whose network outputs ab in Lab units). Photos without colour
(``colorclass.photos.is_colourless_batch``: the same rule and constants as the photo scan) are
masked out of the loss and the metrics.

User-guided runs (``hints=True``, ``model.hints``): the input gains the three hint planes of
``colorclass.hints.points.hint_planes`` -> ``(B, 4, S, S)`` = [L / 50 - 1, a / 110, b / 110, mask],
simulated from the crop's true ab at the INPUT resolution by ``hints.simulate.simulate_hint_planes``
with a generator seeded by (``hint_seed``, training iteration) -- the run seed fixes the hints; a
resumed run sets ``iteration`` from its checkpoint -- and by a fixed seed for validation.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor

import colorclass.training.losses as losses
from colorclass.color import lab_to_l_input, rgb_to_lab
from colorclass.decoding.bins_protocol import ColourBins
from colorclass.hints.simulate import DEFAULT_ZERO_FRACTION, simulate_hint_planes
from colorclass.inference.network import Prediction, forward_padded
from colorclass.inference.predictor import Predictor
from colorclass.inference.settings import resolve_settings
from colorclass.photos.colourless import is_colourless_batch as colourless_images
from colorclass.runs.experiment import LOSS_NAMES

if TYPE_CHECKING:
    import numpy as np

__all__ = ["ColorizationTask", "TrainingBins", "TargetEncoder", "colourless_images", "REGRESSION_SCALE",
           "hint_step_seed", "VALIDATION_HINT_SEED"]

REGRESSION_SCALE = 100.0  # mse loss is computed on ab / 100 so its size is comparable to CE
VALIDATION_HINT_SEED = 20_170_000  # added to the run seed: the same validation hints every epoch


def hint_step_seed(seed: int, iteration: int) -> int:
    """The simulated hints' seed of training ``iteration`` of a run with seed ``seed``."""
    return int(seed) * 1_000_003 + int(iteration)


class TargetEncoder(Protocol):
    """uint8 photos (B, 3, h, w) -> targets (``quantize.Encoder``): hard labels (B, h, w) int64,
    soft targets idx and weight (B, n, h, w)."""

    def hard(self, rgb_u8: Tensor) -> Tensor: ...

    def soft(self, rgb_u8: Tensor) -> tuple[Tensor, Tensor]: ...


class TrainingBins(ColourBins, Protocol):
    """:class:`ColourBins` plus what training reads (``quantize.Bins`` has it all): the class
    prior (Q,) (None when the bins file has none) and the fast target encoder."""

    @property
    def prior(self) -> np.ndarray | None: ...

    def encoder(self, *, device: str = ..., n: int = ..., sigma: float = ...) -> TargetEncoder: ...


def _area_downsample_u8(rgb_u8: Tensor, size: tuple[int, int]) -> Tensor:
    if tuple(rgb_u8.shape[-2:]) == size:
        return rgb_u8
    return F.interpolate(rgb_u8.float(), size=size, mode="area").round().clamp(0, 255).to(torch.uint8)


class ColorizationTask:
    """Targets, loss and validation metrics for per-pixel colour classification.

    bins: a ``quantize.Bins`` (``n_bins``, ``centers_ab``, ``decode_space``, ``prior``,
    ``encoder()``); may be None for ``loss="mse"``. ``rebalance`` weights each pixel by
    ``quantize.rebalance_weights(bins.prior, lam=lam)[its target's most likely bin]``.
    ``method`` / ``temperature``: the run's decoding rule, used for the validation ab error.
    """

    metric_names = ("pixel_acc", "bin_miou")  # log.csv / loss.png columns (colorclass.engine.protocol.Task)

    def __init__(self, bins: TrainingBins | None, *, loss: str = "ce", n_neighbors: int = 5, sigma: float = 5.0,
                 rebalance: bool = False, lam: float = 0.5, lowpass: int = 1, output_stride: int = 1,
                 method: str | None = None, temperature: float | None = None,
                 device: str | torch.device = "cpu", hints: bool = False, hint_seed: int = 0,
                 hint_zero_fraction: float = DEFAULT_ZERO_FRACTION) -> None:
        if loss not in LOSS_NAMES:
            raise ValueError(f"loss must be one of {LOSS_NAMES}, got {loss!r}")
        integers = (("lowpass", lowpass), ("output_stride", output_stride), ("n_neighbors", n_neighbors))
        for name, value in integers:
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if bins is None and loss != "mse":
            raise ValueError(f"loss={loss!r} needs colour bins; pass bins (quantize.load_bins(path))")
        self.bins, self.loss, self.lowpass, self.output_stride = bins, loss, int(lowpass), int(output_stride)
        self.settings = resolve_settings({"method": method, "temperature": temperature}, layer_names=("run",))
        self.device = torch.device(device)
        self.encoder: TargetEncoder | None = None
        if bins is not None:
            self.encoder = bins.encoder(device=str(self.device), n=int(n_neighbors), sigma=float(sigma))
        self.hints, self.hint_seed, self.hint_zero_fraction = bool(hints), int(hint_seed), float(hint_zero_fraction)
        self.iteration = 0   # training steps taken (the hint seed's second half); set on resume
        self.class_weights = None
        if rebalance and loss != "mse":
            self.class_weights = self._rebalancing_weights(bins, lam)

    def _rebalancing_weights(self, bins: TrainingBins | None, lam: float) -> Tensor:
        prior: np.ndarray | None = getattr(bins, "prior", None)
        if prior is None:
            raise ValueError(
                "rebalance=True needs the bins' class prior, but this bins file has none; "
                "re-fit the bins (fit-bins stores the prior) or set loss.rebalance = false"
            )
        import quantize

        weights = quantize.rebalance_weights(prior, lam=lam)
        return torch.as_tensor(weights, dtype=torch.float32, device=self.device)

    # ------------------------------------------------------------------ targets
    def _check_rgb(self, rgb_u8) -> Tensor:
        valid = isinstance(rgb_u8, Tensor) and rgb_u8.dim() == 4 and rgb_u8.shape[1] == 3
        if not valid or rgb_u8.dtype != torch.uint8:
            shape = tuple(rgb_u8.shape) if isinstance(rgb_u8, Tensor) else type(rgb_u8).__name__
            dtype = getattr(rgb_u8, "dtype", None)
            raise ValueError(f'batch["rgb"] must be a (B, 3, H, W) uint8 tensor, got {shape} {dtype}')
        return rgb_u8.to(self.device, non_blocking=True)

    def target_size(self, height: int, width: int) -> tuple[int, int]:
        """Spatial size of the targets for an (height, width) input."""
        factor = self.output_stride * self.lowpass
        if height % factor or width % factor:
            raise ValueError(
                f"input size {height}x{width} must be divisible by output_stride * lowpass = "
                f"{self.output_stride} * {self.lowpass} = {factor}; "
                f"choose a crop size that is a multiple of {factor}"
            )
        return height // factor, width // factor

    def prepare(self, batch: dict, *, hint_seed: int | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        """batch -> (l_input (B, 1, H, W) float32 in [-1, 1], targets at (h, w) = target_size(H, W)).

        For a hint-aware task the input is (B, 4, H, W): simulated hint planes drawn with
        ``hint_seed`` (default: the validation seed) are joined to the lightness input.

        targets: "labels" (B, h, w) int64 (not for mse), "idx"/"weight" (B, n, h, w) for kl,
        "ab" (B, 2, h, w) float32 Lab chroma, "lightness" (B, 1, h, w) Lab L, "mask" (B, h, w) bool.
        """
        rgb_u8 = self._check_rgb(batch["rgb"])
        lab = rgb_to_lab(rgb_u8.float() / 255.0)
        size = self.target_size(*rgb_u8.shape[-2:])
        small_lab = F.interpolate(lab, size=size, mode="area") if size != tuple(lab.shape[-2:]) else lab
        mask = ~colourless_images(rgb_u8)[:, None, None].expand(-1, *size)
        if batch.get("mask") is not None:  # a target pixel counts only if all its pixels count
            pixel_mask = batch["mask"].to(self.device, dtype=torch.float32)[:, None]
            mask = mask & (F.interpolate(pixel_mask, size=size, mode="area")[:, 0] > 1 - 1e-6)
        targets = {"ab": small_lab[:, 1:], "lightness": small_lab[:, :1], "mask": mask.contiguous()}
        if self.encoder is not None:
            small_u8 = _area_downsample_u8(rgb_u8, size)
            targets["labels"] = self.encoder.hard(small_u8)
            if self.loss == "kl":
                targets["idx"], targets["weight"] = self.encoder.soft(small_u8)
        net_input = lab_to_l_input(lab[:, :1])
        if self.hints:
            seed = self.hint_seed + VALIDATION_HINT_SEED if hint_seed is None else hint_seed
            planes = simulate_hint_planes(lab[:, 1:], seed=seed, zero_fraction=self.hint_zero_fraction)
            net_input = torch.cat([net_input, planes], dim=1)
        return net_input, targets

    # ------------------------------------------------------------------ loss
    def _pool_output(self, output: Tensor, targets: dict[str, Tensor]) -> Tensor:
        """Check the network output's size and average-pool it to the (low-pass) target size."""
        size = tuple(targets["mask"].shape[-2:])
        expected = (size[0] * self.lowpass, size[1] * self.lowpass)
        if tuple(output.shape[-2:]) != expected:
            raise ValueError(
                f"network output {tuple(output.shape)} does not have the expected spatial size {expected} "
                f"(input / output_stride={self.output_stride}); "
                "pass the model's output_stride to ColorizationTask"
            )
        return F.avg_pool2d(output, self.lowpass) if self.lowpass > 1 else output

    def loss_from_output(self, output: Tensor, targets: dict[str, Tensor]) -> Tensor:
        """Scalar loss of the raw network output (logits (B, Q, h', w') or ab (B, 2, h', w'))."""
        output = self._pool_output(output, targets)
        mask = targets["mask"]
        if self.loss == "mse":
            return losses.mse_ab(output / REGRESSION_SCALE, targets["ab"] / REGRESSION_SCALE, mask=mask)
        if self.loss == "kl":
            return losses.kl_divergence(output, targets["idx"], targets["weight"],
                                        class_weights=self.class_weights, mask=mask)
        return losses.cross_entropy(output, targets["labels"], class_weights=self.class_weights, mask=mask)

    def training_loss(self, model, batch: dict) -> tuple[Tensor, dict[str, float]]:
        """One training step's loss (scalar tensor with grad) and loggable floats."""
        seed = hint_step_seed(self.hint_seed, self.iteration) if self.hints else None
        self.iteration += 1
        l_input, targets = self.prepare(batch, hint_seed=seed)
        loss = self.loss_from_output(model(l_input), targets)
        return loss, {"loss": float(loss.detach())}

    # ------------------------------------------------------------------ metrics
    @torch.no_grad()
    def validation_stats(self, model, batch: dict) -> dict[str, float | Tensor]:
        """Sums over one validation batch (aggregated by addition, see finalize_stats).

        Keys: loss_sum, pixels, sq_err_sum (ab error of the decoded prediction, Lab units²) and,
        for classification, correct, intersection / predicted / target (Q,) per-bin counts.
        """
        l_input, targets = self.prepare(batch)
        output = forward_padded(model, l_input, stride=self.output_stride)
        loss = self.loss_from_output(output, targets)
        output = self._pool_output(output, targets)
        mask = targets["mask"]
        pixels = int(mask.sum())
        stats: dict[str, float | Tensor] = {"loss_sum": float(loss) * pixels, "pixels": float(pixels)}
        ab = self.predictor(model).ab(Prediction(targets["lightness"], l_input[:, :1], targets["lightness"], output))
        if self.loss != "mse":
            stats.update(self._classification_counts(output.argmax(dim=1)[mask], targets["labels"][mask]))
        stats["sq_err_sum"] = float((ab - targets["ab"]).square().sum(dim=1)[mask].sum())
        return stats

    def _classification_counts(self, predicted: Tensor, labels: Tensor) -> dict[str, float | Tensor]:
        if self.bins is None:   # __init__ requires bins for every loss but mse, which has no classes
            raise ValueError("class counts need colour bins; this task has none (loss='mse')")
        q = self.bins.n_bins
        hit = predicted == labels
        return {
            "correct": float(hit.sum()),
            "intersection": torch.bincount(labels[hit], minlength=q).cpu().double(),
            "predicted": torch.bincount(predicted, minlength=q).cpu().double(),
            "target": torch.bincount(labels, minlength=q).cpu().double(),
        }

    def finalize_stats(self, sums: dict) -> dict[str, float]:
        """Summed stats -> val_loss, ab_rmse and (classification) pixel_acc, bin_miou.

        bin_miou is the mean IoU over the run's own bins present in the targets or the predictions
        (not eval.json's mean_iou, which is over the 313 reference ab bins of the decoded colour).
        """
        pixels = float(sums.get("pixels", 0.0))
        if pixels == 0:
            return {"val_loss": math.nan, "ab_rmse": math.nan} | (
                {} if self.loss == "mse" else {"pixel_acc": math.nan, "bin_miou": math.nan})
        result = {"val_loss": float(sums["loss_sum"]) / pixels,
                  "ab_rmse": math.sqrt(float(sums["sq_err_sum"]) / pixels)}
        if self.loss != "mse":
            intersection = torch.as_tensor(sums["intersection"], dtype=torch.float64)
            union = torch.as_tensor(sums["predicted"], dtype=torch.float64) + torch.as_tensor(
                sums["target"], dtype=torch.float64) - intersection
            present = union > 0
            result["pixel_acc"] = float(sums["correct"]) / pixels
            iou = intersection[present] / union[present]
            result["bin_miou"] = float(iou.mean()) if present.any() else math.nan
        return result

    # ------------------------------------------------------------------ inference
    def predictor(self, model) -> Predictor:
        """The one prediction path for this network with the run's decoding settings (validation,
        sample grids); the photo runs at its own size."""
        return Predictor(model, self.bins, settings=self.settings, regression=self.loss == "mse",
                         device=self.device, stride=self.output_stride)
