"""Decode-time knobs of a trained run, and the accuracy / rare-colour / colourfulness frontier.

    trained run + photos -> network once per photo -> for every setting:
        logits / T  (+ log w_decode)  (- log w_train)  -> softmax -> expected ab (x gain)
        -> colour photo -> AuC, rebalanced AuC, colourfulness (as `colorclass evaluate`)

The knobs, none of which retrains anything:
* ``T``: the annealed-mean temperature (what `colorclass calibrate` tunes);
* ``lambda``: decode-time class rebalancing (logit adjustment): the distribution is multiplied by
  ``quantize.rebalance_weights(bins.prior, lam=lambda)``, the weights training-time rebalancing
  puts on the loss; 1 = off;
* ``--undo LAMBDA``: divides those weights out again for a run *trained* with rebalancing
  ``LAMBDA``, which recovers its un-rebalanced distribution;
* ``--gain``: multiplies the decoded ab (a plain saturation boost);
* ``--flip``: averages the distributions of the photo and its mirror image.

Used for EXPERIMENTS.md, "Quality", "Decode-time knobs". Example (one JSON line per setting)::

    python experiments/decode_frontier.py RUN ../shared/data/cifar10/test/horse \
        --grid 0.5:1 1:1 0.5:0.9 --undo 0.75
"""
from __future__ import annotations

import argparse
import json
import warnings

import numpy as np
import torch

from colorclass.color import GamutWarning
from colorclass.decoding.decoders import annealed_mean, recombine_full_resolution
from colorclass.evaluation.metrics import MetricAccumulator
from colorclass.photos import list_images, load_rgb, scan_images
from colorclass.inference.network import to_uint8
from colorclass.inference.predictor import Predictor
from quantize import rebalance_weights


def network_outputs(predictor, folder: str, *, flip: bool) -> list[tuple]:
    """(log-probabilities (1, Q, h, w), l_full, truth) of every usable photo of ``folder``."""
    files, _ = scan_images(list_images(folder), progress=False)
    out = []
    for f in files:
        truth = load_rgb(f)
        views = [truth, truth[:, ::-1].copy()] if flip else [truth]
        preds = [predictor.predict(predictor.photo(v)) for v in views]
        probs = [predictor.probabilities(p) for p in preds]
        if flip:
            probs[1] = probs[1].flip(3)
        out.append((torch.log(sum(probs) / len(probs)), preds[0].l_full, truth))
    return out


def log_weights(prior: np.ndarray, lam: float) -> torch.Tensor:
    """log rebalancing weights (1, Q, 1, 1); zero for lam = 1 (no rebalancing)."""
    return torch.log(torch.as_tensor(rebalance_weights(prior, lam=lam), dtype=torch.float32)).view(1, -1, 1, 1)


def score(outputs, centers: torch.Tensor, shift: torch.Tensor, temperature: float, gain: float) -> dict:
    """AuC, rebalanced AuC (percent) and signed colourfulness gap of one decoding setting:
    the annealed mean of ``softmax(log p / T + shift)``, times ``gain``."""
    acc = MetricAccumulator()
    for logp, l_full, truth in outputs:
        ab = gain * annealed_mean(logp + temperature * shift, centers, temperature)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", GamutWarning)
            rgb, n_clipped = recombine_full_resolution(l_full, ab)
        acc.add(to_uint8(rgb)[0], truth, n_clipped)
    r = acc.result()
    return {"auc": round(100 * r["auc_ab"], 2), "rebal_auc": round(100 * r["auc_ab_rebalanced"], 2),
            "colorfulness": round(r["colorfulness_pred"], 2),
            "gap": round(r["colorfulness_pred"] - r["colorfulness_true"], 2)}


def setting(text: str) -> tuple[float, float]:
    """``"T:lambda"`` -> (T, lambda), with T > 0 and 0 < lambda <= 1 (argparse type)."""
    try:
        t, lam = (float(v) for v in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not T:lambda, e.g. 0.38:1") from None
    if not (t > 0 and 0 < lam <= 1):
        raise argparse.ArgumentTypeError(f"{text!r}: T must be > 0 and lambda in (0, 1]")
    return t, lam


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", help="run folder (or colorclass/builtin/general)")
    p.add_argument("photos", help="folder of held-out colour photos")
    p.add_argument("--grid", nargs="+", type=setting, default=[(0.38, 1.0)],
                   help="T:lambda settings, e.g. 0.5:1 0.5:0.9")
    p.add_argument("--undo", type=float, default=1.0, help="rebalancing lambda the run was trained with")
    p.add_argument("--gain", type=float, default=1.0, help="multiply the decoded ab")
    p.add_argument("--size", type=int, default=None, help="network input's shorter side (default: the run's)")
    p.add_argument("--flip", action="store_true", help="average with the mirrored photo")
    args = p.parse_args(argv)
    torch.set_grad_enabled(False)
    predictor = Predictor.load(args.run, size=args.size, device="cpu")
    run = predictor.run
    centers = torch.as_tensor(run.bins.centers_ab, dtype=torch.float32)
    outputs = network_outputs(predictor, args.photos, flip=args.flip)
    undo = log_weights(run.bins.prior, args.undo)
    for t, lam in args.grid:
        row = score(outputs, centers, log_weights(run.bins.prior, lam) - undo, t, args.gain)
        print(json.dumps({"T": t, "lambda": lam, "undo": args.undo, "gain": args.gain, "flip": args.flip,
                          "n_photos": len(outputs), **row}), flush=True)


if __name__ == "__main__":
    main()
