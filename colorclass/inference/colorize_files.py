"""Colourising files: photo files and folders -> colour photo files, through one Predictor.

    inputs (files, folders) -> *plan_outputs* (every output path decided before any work)
        -> Predictor.colorize (inference.engines: torch or ONNX) -> save_image (atomic) -> colour photo files

The output's L channel is the input's L (up to 8-bit rounding and gamut clipping).

A user's files are safe: outputs keep the input's sub-folder paths under the output folder (so
equal stems never collide); names that would still collide -- also when they differ only by
case, as on macOS and Windows -- get ``_2``, ``_3`` before the suffix (logged); no output may be
an input; an output folder inside an input folder may hold only earlier outputs (marked by
``photos.write``), never a user's photos; an existing file is replaced only with
``overwrite=True`` (``skip_existing=True`` skips it instead, to continue a job); a file that
appears while the job runs (another job into the same folder) is never replaced; and every file
is written atomically, its temporary file removed on Ctrl-C and SIGTERM. The network never runs
above ``MAX_LONG_SIDE`` pixels on the long side nor ``MAX_NETWORK_PIXELS`` in total (the aspect
is kept); photos over ``MAX_PHOTO_PIXELS`` or ``MAX_ASPECT`` (``support.limits``) are skipped
from their header, and a photo that still cannot be processed (unreadable, out of memory) is
skipped with a reason and the job goes on.
"""
from __future__ import annotations

import logging
import warnings
from pathlib import Path

from tqdm import tqdm

from colorclass.photos.write import JPEG_SUFFIXES, made_by_colorclass, save_image
from colorclass.support.errors import UsageError
from colorclass.support.files import sigterm_as_interrupt

__all__ = ["colorize_paths", "plan_outputs", "FORMATS", "ColorizeError"]

log = logging.getLogger(__name__)

FORMATS = ("auto", "png", "jpg")
_JPEG_INPUTS = (*JPEG_SUFFIXES, ".jpe")
APPEARED = "output appeared meanwhile (another job?)"     # skip reasons of the save step
ALREADY_EXISTS = "already exists (--skip-existing)"


class ColorizeError(UsageError):
    """The job cannot start (outputs would replace inputs or existing files; no photos)."""


def _output_suffix(src: Path, fmt: str) -> str:
    if fmt == "auto":
        return ".jpg" if src.suffix.lower() in _JPEG_INPUTS else ".png"
    return "." + fmt


def _header_limit(f: Path) -> str | None:
    """``support.limits.photo_limit`` of a photo's header size (None when the header cannot be
    read: the reader reports that file itself)."""
    from PIL import Image

    from colorclass.support.limits import photo_limit

    if not f.is_file():   # a FIFO would block Image.open; the reader reports "not a regular file"
        return None
    try:
        with Image.open(f) as im:
            width, height = im.size
    except Exception:  # noqa: BLE001 -- unreadable, corrupt, a decompression bomb: the reader says why
        return None
    return photo_limit(width, height)


def _inputs(paths: list[Path], out_dir: Path, skipped) -> list[tuple[Path, Path]]:
    """(photo file, the root its output path is relative to) for every photo of ``paths`` (files
    and folders, in order, each photo once). A folder's photos keep its name as their first
    sub-folder when several inputs are given, so that two folders never share an output path.

    An output folder inside an input folder: its photos are not inputs; earlier outputs of
    colorclass there are left out (logged), any other photo refuses the job (ColorizeError), so
    that a user's photos are neither left out silently nor written over. Photos over the limits
    of ``support.limits.photo_limit`` (read from the header) are counted in ``skipped``."""
    from colorclass.photos import list_images
    from colorclass.photos.read import shown

    out_real, seen, pairs = out_dir.resolve(), set(), []
    earlier, foreign = 0, []
    for path in paths:
        if path.is_dir():
            root = path if len(paths) == 1 else path.resolve().parent
            found = []
            for f in list_images(path, skipped):
                if out_real not in f.resolve().parents:
                    found.append((f, root))
                elif made_by_colorclass(f):
                    earlier += 1
                else:
                    foreign.append((f, path))
        else:
            found = [(path, path.parent)]
        for f, root in found:
            if f.resolve() not in seen:
                seen.add(f.resolve())
                pairs.append((f, root))
    if foreign:
        f, folder = foreign[0]
        raise ColorizeError(f"-o {shown(out_dir)!r} is inside the input folder {shown(folder)!r} and holds "
                            f"{len(foreign)} photo(s) that colorize did not make (e.g. {shown(f)!r}); choose "
                            "an -o outside the input folders so that they are neither left out nor replaced")
    if earlier:
        log.info("left out %d earlier output(s) of colorize inside %s", earlier, shown(out_dir))
    kept, beyond = [], []
    for f, root in pairs:
        reason = _header_limit(f)
        if reason:
            skipped.add(f, reason)
            beyond.append((f, reason))
        else:
            kept.append((f, root))
    if beyond and not kept:
        from colorclass.support.limits import MAX_ASPECT, MAX_PHOTO_PIXELS

        f, reason = beyond[0]
        raise ColorizeError(f"no photo can be colourised: {shown(f)!r} ({reason})" + (
            f" (and {len(beyond) - 1} more)" if len(beyond) > 1 else "") + f"; colorize takes photos of at most "
            f"{MAX_PHOTO_PIXELS:,} pixels and an aspect ratio up to {MAX_ASPECT}:1 (crop or resize them)")
    return kept


def _key(path: Path) -> str:
    """A planned output's identity on any file system: macOS and Windows ignore case."""
    return str(path).casefold()


def _unique_names(files: list[Path], base: list[Path]) -> tuple[list[Path], list[tuple[Path, Path]]]:
    """Output paths that differ even ignoring case, decided from the input list alone.

    Inputs whose suffix is kept (``x.png`` -> ``x.png``) choose first, then the others, in input
    order; a taken name falls back to ``name_ext.png`` (``x.jpg`` beside ``x.png``), then to
    ``NAME_2``, ``NAME_3``, ... before the suffix. Returns (paths, [(input, renamed output)])."""
    keeps = [f.suffix.lower() == d.suffix for f, d in zip(files, base)]
    used: set[str] = set()
    chosen: list[Path | None] = [None] * len(files)
    order = [i for i, k in enumerate(keeps) if k] + [i for i, k in enumerate(keeps) if not k]
    for i in order:
        options = [base[i]] if keeps[i] else [base[i], base[i].with_name(
            f"{files[i].stem}_{files[i].suffix.lstrip('.').lower()}{base[i].suffix}")]
        for option in options:
            if _key(option) not in used:
                chosen[i] = option
                used.add(_key(option))
                break
    renamed = []
    for i in range(len(files)):
        if chosen[i] is not None:
            continue
        last = base[i] if keeps[i] else base[i].with_name(
            f"{files[i].stem}_{files[i].suffix.lstrip('.').lower()}{base[i].suffix}")
        n = 2
        while _key(dst := last.with_name(f"{last.stem}_{n}{last.suffix}")) in used:
            n += 1
        chosen[i] = dst
        used.add(_key(dst))
        renamed.append((files[i], dst))
    return [c for c in chosen if c is not None], renamed   # every slot was filled above


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def plan_outputs(files: list[Path], root: Path | list[Path], out_dir: Path, *, fmt: str = "auto",
                 overwrite: bool = False, skip_existing: bool = False) -> list[Path]:
    """Output path of each input: ``out_dir / <path relative to root>`` with the format's suffix,
    unique even ignoring case (``name_ext.png``, then ``name_2``: see ``_unique_names``; renamed
    outputs are logged). Raises ColorizeError -- before any work -- when an output is an input
    (also through another spelling of its name), or exists while neither ``overwrite`` nor
    ``skip_existing`` is given (with ``skip_existing`` the caller skips those outputs)."""
    from colorclass.photos.read import shown

    if fmt not in FORMATS:
        raise ColorizeError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if overwrite and skip_existing:
        raise ColorizeError("--overwrite replaces existing outputs and --skip-existing keeps them; pass only one")
    if out_dir.exists() and not out_dir.is_dir():
        raise ColorizeError(f"-o {str(out_dir)!r} is a file, not a folder; pass a folder for the colour photos")
    if any(out_dir.resolve() == f.resolve() for f in files):
        raise ColorizeError(f"-o {str(out_dir)!r} is the input; choose another output folder so that "
                            "the originals are kept")
    inputs = {f.resolve() for f in files}
    input_ids = {i for i in map(_file_id, files) if i is not None}
    roots = root if isinstance(root, list) else [root] * len(files)
    base = [out_dir / (f.relative_to(r) if r in f.parents else Path(f.name)).with_suffix(
        _output_suffix(f, fmt)) for f, r in zip(files, roots)]
    planned, renamed = _unique_names(files, base)
    for dst in planned:
        if dst.resolve() in inputs or (dst.exists() and _file_id(dst) in input_ids):
            raise ColorizeError(f"output {str(dst)!r} would replace the input photo; choose another -o")
    if renamed:
        log.warning("%d output name(s) would collide (equal ignoring case or suffix) and were renamed: %s%s",
                    len(renamed), ", ".join(f"{shown(f)} -> {shown(d.name)}" for f, d in renamed[:5]),
                    ", ..." if len(renamed) > 5 else "")
    existing = [d for d in planned if d.exists()]
    if existing and not overwrite and not skip_existing:
        raise ColorizeError(f"{len(existing)} output file(s) already exist (e.g. {str(existing[0])!r}); "
                            "pass --skip-existing to continue the job, --overwrite to replace them, "
                            "or choose another -o")
    return planned


def _colorize_one(f: Path, predictor, hints=None):
    """(colour photo uint8, clipped pixels) or raise UnreadableImage / an out-of-memory error."""
    from colorclass.photos import load_rgb
    from colorclass.support.errors import GamutWarning

    rgb = load_rgb(f)
    with warnings.catch_warnings():  # clipping is counted and reported once, by the caller
        warnings.simplefilter("ignore", GamutWarning)
        return predictor.colorize(rgb, hints=hints) if hints is not None else predictor.colorize(rgb)


def colorize_paths(inputs: list[str | Path], out_dir: str | Path, *, source: str | Path | None = None,
                   method: str | None = None, temperature: float | None = None, size: int | None = None,
                   device: str = "auto", fmt: str = "auto", overwrite: bool = False,
                   skip_existing: bool = False, engine: str = "auto", hints=None, predictor=None) -> list[Path]:
    """Colourise photo files and every photo of folders into ``out_dir``, keeping sub-folder paths.

    ``source``: a run folder, ``builtin:NAME`` or a ``.onnx`` file (None: the default built-in
    model); ``engine``: auto | torch | onnx (``inference.engines``); ``method``, ``temperature``,
    ``size`` override its settings (``inference.settings`` resolves them once).
    Output format: ``fmt="auto"`` gives a JPEG (quality 95) for a JPEG input and a PNG
    otherwise; "png" / "jpg" force one. Unreadable files and files that run out of memory are
    skipped and counted; the job never stops on one bad photo. Existing outputs: refused before
    any work, replaced with ``overwrite``, skipped and counted with ``skip_existing`` (to continue
    an interrupted job); an output that appears while the job runs is never replaced (skipped,
    counted). ``hints``: hint points (``hints.points.Hint``) given to every photo (the CLI allows
    one photo with them); ``predictor``: use this one (e.g. a ``LevinPredictor``) instead of loading
    ``source``. Returns the written paths.
    """
    from colorclass.inference.engines import load_predictor
    from colorclass.photos import SkipReport, UnreadableImage
    from colorclass.photos.read import shown
    from colorclass.support.errors import is_out_of_memory

    paths, out_dir = [Path(p) for p in inputs], Path(out_dir)
    for path in paths:
        if path.is_dir() and out_dir.resolve() == path.resolve():
            raise ColorizeError(f"-o {shown(out_dir)!r} is the input folder; choose another output folder so "
                                "that the originals are kept")
    skipped = SkipReport()
    pairs = _inputs(paths, out_dir, skipped)
    if not pairs:
        raise ColorizeError(f"no photos found in {', '.join(repr(shown(p)) for p in paths)}; pass image files "
                            "or folders of photos (.jpg, .png, ...)")
    files, roots = [f for f, _ in pairs], [r for _, r in pairs]
    planned = plan_outputs(files, roots, out_dir, fmt=fmt, overwrite=overwrite, skip_existing=skip_existing)
    if predictor is None:
        predictor = load_predictor(source, engine=engine, method=method, temperature=temperature, size=size,
                                   device=device)
    log.info("%s", predictor.describe())
    written, clipped = [], 0
    for f, dst in tqdm(list(zip(files, planned)), desc="colorize", unit="img", disable=len(files) < 2):
        if skip_existing and dst.exists():
            skipped.add(f, ALREADY_EXISTS)
            continue
        try:
            img, n = _colorize_one(f, predictor, hints)
        except UnreadableImage as e:
            skipped.add(f, e.reason)
            continue
        except (MemoryError, RuntimeError) as e:
            if not is_out_of_memory(e):
                raise
            skipped.add(f, "out of memory")
            continue
        clipped += n
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            with sigterm_as_interrupt():      # SIGTERM while writing: the temporary file is removed
                save_image(img, dst, overwrite=overwrite)
        except FileExistsError:               # another job wrote it meanwhile: never replaced
            skipped.add(f, APPEARED)
            continue
        written.append(dst)
    log.info("colourised %d photo(s) into %s (%s)", len(written), shown(out_dir),
                predictor.settings.describe(regression=predictor.regression))
    if skipped.total:
        log.warning("skipped %d:\n  %s", skipped.total, skipped.summary().replace("\n", "\n  "))
    if clipped:
        log.info("note: %d pixels were outside the sRGB gamut and were clipped", clipped)
    return written
