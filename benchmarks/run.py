"""Benchmark suite (issue 12): every speed figure beside its baseline measured in the same run.

    python benchmarks/run.py [--quick] [--json FILE] [--only NAME,...] [--threads N]

On a shared machine pass ``--threads 1`` (see BENCHMARKS.md: two OpenMP threads on busy cores
are several times slower than one). Baselines are measured in the same run as their figure.

Groups: ``encode`` (encode_soft, encode_hard, rgb_to_lab), ``train`` (matmul, train_step_unet32,
train_step_unet64, train_step_q313, train_step_q313_cheap, train_step_unet256, epoch_rss), ``io`` (loader_256,
fit_bins_10k, cli_start), ``colorize`` (colorize_12mp, colorize_folder). Each figure: warm-up,
repetitions, median with min-max; prints a Markdown table; ``--json`` writes
``{name: {"value", "unit", "baseline", "ratio", "min", "max", ...}}``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))

from common import machine  # noqa: E402

MODULES = {"io": "loading"}
GROUPS = {
    "encode": ("encode_soft", "encode_soft_fresh", "encode_hard", "rgb_to_lab", "rgb_to_lab_float"),
    "train": ("matmul", "train_step_unet32", "train_step_unet64", "train_step_unet96", "train_step_unet128",
              "train_step_q313", "train_step_q313_cheap",
              "train_step_unet256", "epoch_rss"),
    "io": ("cli_start", "loader_256", "fit_bins_10k"),
    "colorize": ("colorize_12mp", "colorize_12mp_onnx", "colorize_folder"),
}


def _fmt(x) -> str:
    if x is None:
        return "-"
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:,.0f}"


def table(figures) -> str:
    lines = ["| figure | value | unit | min-max | baseline (same run) | ratio | note |",
             "|---|---:|---|---|---:|---:|---|"]
    for f in figures:
        base = f"{_fmt(f.baseline)} ({f.baseline_what})" if f.baseline is not None else "-"
        lines.append(f"| {f.name} | {_fmt(f.value)} | {f.unit} | {_fmt(f.low)}-{_fmt(f.high)} | {base} | "
                     f"{_fmt(f.ratio)}{'x' if f.ratio else ''} | {f.note} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions and smaller samples (< 3 minutes)")
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    ap.add_argument("--only", metavar="NAME,...", default="",
                    help="figures or groups to run: " + ", ".join(GROUPS) + " or figure names")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch intra-op threads here and in child processes (default: torch's own)")
    a = ap.parse_args(argv)
    if a.threads:
        import os
        import torch
        torch.set_num_threads(a.threads)
        os.environ["OMP_NUM_THREADS"] = str(a.threads)
    wanted = {w.strip() for w in a.only.split(",") if w.strip()}
    unknown = wanted - set(GROUPS) - {n for names in GROUPS.values() for n in names}
    if unknown:
        ap.error(f"--only: unknown figure(s) {sorted(unknown)}")

    def only(name: str) -> bool:
        return not wanted or name in wanted or any(name in GROUPS[g] for g in wanted if g in GROUPS)

    import importlib
    start, figures = time.perf_counter(), []
    for group, names in GROUPS.items():
        if any(only(n) for n in names):
            t = time.perf_counter()
            figures += importlib.import_module(MODULES.get(group, group)).run(a.quick, only)
            print(f"[{group}: {time.perf_counter() - t:.0f} s]", file=sys.stderr, flush=True)
    info = machine()
    print(f"command: python benchmarks/run.py {' '.join(argv if argv is not None else sys.argv[1:])}")
    print("machine: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    print(f"total: {time.perf_counter() - start:.0f} s\n")
    print(table(figures))
    if a.json:
        data = {f.name: f.as_json() for f in figures}   # figures only (the contract)
        Path(a.json).write_text(json.dumps(data, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
