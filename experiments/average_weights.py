"""Average the weights of two runs of one architecture into a new run folder (a "model soup").

    run A (e.g. the built-in model) + run B (a fine-tuned copy of it)
        -> models.average_state_dicts(A, B, weight) -> OUT/model.safetensors
        + the records of one run (config.toml, bins.npz, ...) -> OUT, loadable like any run

Why: a model and a copy fine-tuned from it lie in one basin of the loss, and the average of
their weights often beats both (Wortsman et al. 2022, "Model soups"). The built-in model
``general`` is such an average (EXPERIMENTS.md, "Quality"). Then calibrate and evaluate OUT as
usual. Example::

    python experiments/average_weights.py builtin:general runs/builtin_general_s3 \\
        --weight 0.65 --records runs/builtin_general_s3 --out runs/builtin_general_soup

Weights come as ``model.init_from`` takes them: a run folder (its ``model.safetensors``, the
weights at the end of training), a ``.safetensors`` file, or ``builtin:NAME``. OUT must not exist.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from colorclass.engine.checkpoint import save_weights
from colorclass.models import average_state_dicts
from colorclass.runs.loading import load_weights
from colorclass.training.train_run import init_source

RECORDS = ("config.toml", "bins.npz", "bins.json", "meta.json")


def average_runs(first: str, second: str, *, weight: float, records: str | None, out: str) -> Path:
    """Write OUT with the averaged weights and the records of ``records`` (default: ``first``)."""
    out_dir = Path(out)
    if out_dir.exists():
        raise ValueError(f"--out {out!r} exists; choose a new folder (nothing is overwritten)")
    source = Path(init_source(records or first))
    if not (source / "config.toml").is_file() or not (source / "bins.npz").is_file():
        raise ValueError(f"--records {str(source)!r} is not a run folder (config.toml and bins.npz); "
                         "pass the run folder whose config and bins the average should carry")
    state = average_state_dicts(load_weights(init_source(first)), load_weights(init_source(second)),
                                weight=weight)
    out_dir.mkdir(parents=True)
    for name in RECORDS:
        if (source / name).is_file():
            shutil.copy2(source / name, out_dir / name)
    return save_weights(out_dir / "model.safetensors", state)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("first", help="run folder, .safetensors file or builtin:NAME")
    p.add_argument("second", help="run folder, .safetensors file or builtin:NAME")
    p.add_argument("--weight", type=float, default=0.5, help="weight of FIRST (0..1, default 0.5)")
    p.add_argument("--records", default=None, help="run folder whose config and bins OUT gets (default FIRST)")
    p.add_argument("--out", required=True, help="new run folder to write")
    args = p.parse_args(argv)
    try:
        path = average_runs(args.first, args.second, weight=args.weight, records=args.records, out=args.out)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {path} ({args.weight:g} x {args.first} + {1 - args.weight:g} x {args.second})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
