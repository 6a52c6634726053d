"""Command line, the built-in models: ``colorclass models``.

    colorclass/builtin/<name>/card.json -> *models* -> what each model was trained on, how it
    scores against gray on held-out photos, its calibrated temperature, size and limits
"""
from __future__ import annotations

import argparse
import json

__all__ = ["_add_models", "_add_export", "format_card"]


def _add_models(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the model cards as JSON")
    p.set_defaults(handler=_run_models)


def _metrics_line(name: str, m: dict) -> str:
    return (f"    {name:<28} AuC {m.get('auc', float('nan')):6.2f}   rebalanced AuC "
            f"{m.get('rebal_auc', float('nan')):6.2f}   colourfulness {m.get('colorfulness', float('nan')):5.1f}")


def format_card(card: dict) -> str:
    """A model card as readable text (the fields that are present)."""
    lines = [f"{card['name']}: {card.get('description', '')}", f"  folder: {card.get('path', '')}"]
    for key, label in (("training_data", "trained on"), ("command", "command"), ("held_out", "held out"),
                       ("training_time_min", "training time (min)"), ("images_seen", "images seen"),
                       ("calibrated_temperature", "calibrated temperature"),
                       ("inference_size", "inference size (shorter side, px)")):
        if key in card:
            lines.append(f"  {label}: {card[key]}")
    for key, metrics in card.items():   # metrics_<where>: {method: {auc, rebal_auc, colorfulness}, ...}
        if not (key.startswith("metrics_") and isinstance(metrics, dict)):
            continue
        lines.append(f"  held-out metrics, {key.removeprefix('metrics_').replace('_', ' ')} (percent):")
        lines += [_metrics_line(k, v) for k, v in metrics.items() if isinstance(v, dict)]
        if "truth_colorfulness" in metrics:
            lines.append(f"    {'truth':<28} colourfulness {metrics['truth_colorfulness']:.1f}")
    if isinstance(card.get("hint_curve_photos_val"), str):
        lines.append("  hint curve on photos/val (AuC / rebalanced AuC / PSNR):")
        lines += ["    " + row for row in card["hint_curve_photos_val"].splitlines() if row.startswith("|")]
    if "limits" in card:
        lines.append(f"  limits: {card['limits']}")
    return "\n".join(lines)


def _run_models(a: argparse.Namespace) -> int:
    from colorclass.builtin import list_models

    cards = list_models()
    print(json.dumps(cards, indent=2) if a.json else "\n\n".join(format_card(c) for c in cards))
    return 0


def _add_export(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar="RUN_DIR_OR_builtin:NAME", help="a run folder or builtin:NAME")
    p.add_argument("-o", "--out", required=True, metavar="MODEL.onnx",
                   help="the ONNX file to write (network, bins and decoding settings in one file)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset, 17 or newer (default 17)")
    p.add_argument("--overwrite", action="store_true", help="replace MODEL.onnx if it exists")
    p.set_defaults(handler=_run_export)


def _run_export(a: argparse.Namespace) -> int:
    from pathlib import Path

    from colorclass.cli.common import UsageError
    from colorclass.export.onnx_export import export_onnx

    if Path(a.out).exists() and not a.overwrite:
        raise UsageError(f"export: {a.out!r} exists; pass --overwrite to replace it or choose another -o")
    export_onnx(a.source, a.out, opset=a.opset)   # logs what it wrote
    return 0
