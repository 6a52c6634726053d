"""Command line, photo and bin commands: ``fit-bins``, ``data``, ``rank-colorful``.

    photos -> *fit-bins* -> bins file;  photos -> *data* / *rank-colorful* -> what the pipeline sees
"""
from __future__ import annotations

import argparse
import sys

from colorclass.cli.common import UsageError, positive_float, positive_int, require_dir
from colorclass.runs.experiment import BIN_FAMILIES, BIN_SPACES
from colorclass.support import limits
from colorclass.support.errors import ColorclassError
from colorclass.support.files import check_output_file


def _add_fit_bins(p: argparse.ArgumentParser) -> None:
    p.add_argument("input_dir", metavar="INPUT_DIR", help="folder of photos (searched recursively)")
    p.add_argument("-o", "--out", required=True, metavar="BINS.npz", help="bins file to write")
    p.add_argument("--family", default="kmeans", choices=BIN_FAMILIES,
                   help="bin family: " + ", ".join(BIN_FAMILIES) + " (default kmeans)")
    p.add_argument("--space", default=None, choices=BIN_SPACES,
                   help="colour space (default: rgb for kmeans, hc for gmm/hcgrid, ab for grid)")
    p.add_argument("--k", type=positive_int, default=24, help="number of bins for kmeans/gmm/hcgrid (default 24)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pixels-per-image", type=positive_int, default=None, help="pixels sampled per image")
    p.add_argument("--max-pixels", type=positive_int, default=None, help="cap on the total pixel sample")
    p.add_argument("--preset", default=None, choices=["zhang313"], help="grid preset (family grid)")
    p.add_argument("--grid-step", type=positive_float, default=10, help="ab grid step (family grid)")
    p.add_argument("--no-prior", action="store_true", help="do not compute the empirical bin prior")
    p.set_defaults(handler=_run_fit_bins)


def _check_fit_bins_sizes(a: argparse.Namespace) -> None:
    """Size-like flags within support.limits, before any photo is read (one line, exit 2)."""
    k_limit = limits.MAX_GMM_K if a.family == "gmm" else limits.MAX_BINS
    limits.check_at_most(f"fit-bins: --k for --family {a.family}", a.k, k_limit,
                         "use fewer bins (e.g. --k 32)" + (" or --family kmeans" if a.family == "gmm" else ""))
    for flag, value in (("--pixels-per-image", a.pixels_per_image), ("--max-pixels", a.max_pixels)):
        if value is not None:
            limits.check_at_most(f"fit-bins: {flag}", value, limits.MAX_SAMPLE_PIXELS, "sample fewer pixels")
    if a.family == "grid" and a.preset is None and a.grid_step < limits.MIN_GRID_STEP:
        raise UsageError(f"fit-bins: --grid-step {a.grid_step:g} is under the limit of {limits.MIN_GRID_STEP:g} "
                         f"(it would make over {limits.MAX_BINS} bins); use --grid-step 10 or --preset zhang313")


def _run_fit_bins(a: argparse.Namespace) -> int:
    import quantize
    from colorclass.binning import fit_bins_from_folder

    _check_fit_bins_sizes(a)
    kwargs = dict(family=a.family, space=a.space, k=a.k, seed=a.seed, preset=a.preset,
                  grid_step=a.grid_step, with_prior=not a.no_prior)
    if a.pixels_per_image is not None:
        kwargs["pixels_per_image"] = a.pixels_per_image
    if a.max_pixels is not None:
        kwargs["max_pixels"] = a.max_pixels
    require_dir(a.input_dir, "INPUT_DIR")
    check_output_file(a.out, "-o")
    try:
        bins = fit_bins_from_folder(a.input_dir, a.out, **kwargs)
    except ColorclassError:
        raise
    except ValueError as e:   # quantize's one-line errors: an option or a sample that cannot work
        raise UsageError(f"fit-bins: {(str(e).splitlines() or [''])[0]}") from None
    print(quantize.format_summary(bins, bins.meta))
    data = bins.meta.get("data", {})
    if data.get("n_skipped"):
        print(f"skipped {data['n_skipped']} photo(s):\n  " + str(data.get("skipped", "")).replace("\n", "\n  "))
    print(f"wrote {a.out}")
    return 0


def _add_data(p: argparse.ArgumentParser) -> None:
    p.add_argument("root", metavar="DIR")
    p.set_defaults(handler=_run_data)


def _run_data(a: argparse.Namespace) -> int:
    from colorclass.photos import describe_folder

    require_dir(a.root, "DIR")
    print(describe_folder(a.root))
    return 0


def _add_rank(p: argparse.ArgumentParser) -> None:
    p.add_argument("root", metavar="DIR")
    p.add_argument("-o", "--out", required=True, metavar="RANKED.tsv")
    p.set_defaults(handler=_run_rank)


def _run_rank(a: argparse.Namespace) -> int:
    from colorclass.photos import SkipReport, rank_folder

    require_dir(a.root, "DIR")
    check_output_file(a.out, "-o")
    skipped = SkipReport()
    ranked = rank_folder(a.root, a.out, skipped=skipped)
    print(f"ranked {len(ranked)} images by colourfulness -> {a.out}")
    if skipped.total:
        print(f"skipped {skipped.total}:\n  " + skipped.summary().replace("\n", "\n  "))
    if not ranked:
        print(f"error: no readable photos in {a.root!r}", file=sys.stderr)
        return 1
    return 0
