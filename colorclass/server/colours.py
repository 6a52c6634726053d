"""What the page asks of the model: colours, suggestions, uncertainty and downloads of one photo.

    photo + hints -> *prediction* (the network, once per (photo, hints): cached)
        + method, temperature -> *colour* (decode at the network grid, then ``recombine`` at the
          photo's full size: cached) -> *preview* (JPEG, long side <= PREVIEW_SIDE) | *download*
        + pixel (x, y) -> *suggestions* (``hints.suggest.suggest_colours`` of the distribution there)
        -> *uncertainty* (entropy of the distribution / log Q, as a PNG at the network grid)

Everything goes through the server's ``inference.Predictor``: a temperature or method change only
decodes again (no network run); a new hint list runs the network once. The download is written by
``photos.write.save_image``, the writer of ``colorize``, so its bytes equal
``colorize --hints HINTS.json --decode M --temperature T`` of the same file. A model that is not
hint-aware keeps the user's hints (for the JSON download) but colours without them (``note``).
"""
from __future__ import annotations

import io
import math
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from colorclass.server.sessions import Photo
from colorclass.server.uploads import RequestError

__all__ = ["Colourist", "PREVIEW_SIDE", "NOT_HINT_AWARE"]

PREVIEW_SIDE = 1024           # long side of the picture sent for display
PREVIEW_QUALITY = 88
NOT_HINT_AWARE = ("this model does not take hints (it was trained without them): the colours ignore them; "
                  "the hint list is kept for the hints JSON download. Start `colorclass serve --run RUN` "
                  "with a hint-aware run to recolour with hints")


def _jpeg(rgb: np.ndarray, *, side: int = PREVIEW_SIDE) -> bytes:
    from PIL import Image

    im = Image.fromarray(rgb)
    if max(im.size) > side:
        im.thumbnail((side, side), Image.Resampling.BILINEAR, reducing_gap=2.0)
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=PREVIEW_QUALITY)
    return buf.getvalue()


class Colourist:
    """The page's view of one ``Predictor`` (its model, bins and default decoding settings)."""

    def __init__(self, predictor) -> None:
        self.predictor = predictor

    def info(self) -> dict[str, Any]:
        from colorclass.decoding.rules import METHODS

        p = self.predictor
        s = p.settings
        return {"model": p.name or "model", "describe": p.describe(), "method": s.method,
                "temperature": s.temperature, "size": s.size, "sources": dict(s.sources),
                "hint_aware": p.hint_aware, "regression": p.regression, "methods": list(METHODS),
                "note_no_hints": None if p.hint_aware else NOT_HINT_AWARE}

    # ------------------------------------------------------------------ requests
    def settings(self, method: Any, temperature: Any):
        """The Predictor with the page's method and temperature (validated like the CLI's flags)."""
        if method is None and temperature is None:
            return self.predictor
        if temperature is not None and (isinstance(temperature, bool) or not isinstance(temperature, (int, float))):
            raise RequestError(f"temperature {temperature!r} is not a number")
        if method is not None and not isinstance(method, str):
            raise RequestError(f"method {method!r} is not a name")
        return self.predictor.with_settings(method=method, temperature=temperature)

    def hints(self, photo: Photo, raw: Any) -> list:
        """The request's hint list (the hints file format) checked against the photo's size."""
        from colorclass.hints.points import parse_hints

        height, width = photo.rgb.shape[:2]
        return parse_hints([] if raw is None else raw, width=width, height=height, source="hint")

    def _used(self, hints: list) -> tuple:
        """The hints the network takes: all of them, or none for a model that is not hint-aware."""
        return tuple(hints) if self.predictor.hint_aware else ()

    def note(self, hints: list) -> str | None:
        return NOT_HINT_AWARE if hints and not self.predictor.hint_aware else None

    # ------------------------------------------------------------------ the network, cached
    def prediction(self, photo: Photo, hints: list):
        """The network's Prediction for (photo, hints), run at most once (see ``sessions.Photo``)."""
        key = self._used(hints)

        def make():
            tensor = photo.extras.get("tensor")
            if tensor is None:
                tensor = photo.extras["tensor"] = self.predictor.photo(photo.rgb)
            return self.predictor.predict(tensor, hints=list(key) or None)

        with photo.lock:
            return photo.predictions.get_or_make(key, make)

    def colour(self, photo: Photo, hints: list, method: Any = None, temperature: Any = None
               ) -> tuple[np.ndarray, int, Any]:
        """(full-resolution colour (H, W, 3) uint8, clipped pixels, the Predictor used): the steps
        of ``Predictor.colorize_tensor`` on the cached Prediction."""
        import torch

        from colorclass.color import GamutWarning
        from colorclass.decoding.decoders import recombine_full_resolution

        predictor = self.settings(method, temperature)
        s = predictor.settings
        key = (self._used(hints), s.method, s.temperature if s.method == "annealed" else None)

        def make():
            prediction = self.prediction(photo, hints)
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore", GamutWarning)   # the count is returned instead
                rgb, n_clipped = recombine_full_resolution(prediction.l_full, predictor.ab(prediction),
                                                           as_uint8=True)
            return rgb[0].cpu().numpy(), int(n_clipped)

        with photo.lock:
            rgb, n_clipped = photo.colours.get_or_make(key, make)
        return rgb, n_clipped, predictor

    def preview(self, rgb: np.ndarray) -> bytes:
        return _jpeg(rgb)

    def gray_preview(self, photo: Photo) -> bytes:
        """The photo's lightness alone (ab = 0), as the network sees it, as a preview JPEG."""
        import torch

        from colorclass.decoding.decoders import recombine_full_resolution
        from colorclass.inference.network import lightness_of

        rgb = photo.rgb
        if max(rgb.shape[:2]) > 2 * PREVIEW_SIDE:   # only a preview: skip most rows and columns first
            step = max(rgb.shape[:2]) // PREVIEW_SIDE
            rgb = np.ascontiguousarray(rgb[::step, ::step])
        with torch.no_grad():
            light = lightness_of(self.predictor.photo(rgb).cpu())
            gray, _ = recombine_full_resolution(light, torch.zeros(1, 2, 1, 1), as_uint8=True)
        return _jpeg(gray[0].numpy())

    def download(self, photo: Photo, hints: list, method: Any = None, temperature: Any = None
                 ) -> tuple[bytes, str]:
        """(file bytes, file name): the full-resolution colour written by ``save_image``."""
        from colorclass.photos.write import save_image

        rgb, _, _ = self.colour(photo, hints, method, temperature)
        stem = Path(photo.name).stem or "photo"
        with tempfile.TemporaryDirectory(prefix="colorclass-download-") as folder:
            path = save_image(rgb, Path(folder) / f"colour{photo.suffix}")
            return path.read_bytes(), f"{stem}_colour{photo.suffix}"

    # ------------------------------------------------------------------ the distribution
    def _probabilities(self, photo: Photo, hints: list):
        if self.predictor.regression or self.predictor.bins is None:
            raise RequestError("this model predicts colours directly (a regression run): it has no "
                               "distribution to suggest colours or show uncertainty from")
        prediction = self.prediction(photo, hints)
        return prediction, self.predictor.probabilities(prediction)[0]

    def suggestions(self, photo: Photo, hints: list, x: Any, y: Any, *, k: int = 6) -> dict[str, Any]:
        """The distinct likely colours at photo pixel (x, y), rendered at its lightness."""
        from colorclass.hints.suggest import suggest_colours

        height, width = photo.rgb.shape[:2]
        for name, value, size in (("x", x, width), ("y", y, height)):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < size:
                raise RequestError(f"{name}={value!r} is outside the photo ({width} x {height}); click on the photo")
        prediction, probs = self._probabilities(photo, hints)
        q, h, w = probs.shape
        cy, cx = min(int((y + 0.5) * h / height), h - 1), min(int((x + 0.5) * w / width), w - 1)
        lightness = float(prediction.l_full[0, 0, y, x].clamp(0, 100))
        found = suggest_colours(probs[:, cy, cx].double().cpu().numpy(), self.predictor.bins.centers_ab,
                                lightness, k=k)
        return {"x": x, "y": y, "lightness": round(lightness, 2),
                "suggestions": [{"hex": s.hex, "ab": [round(s.ab[0], 2), round(s.ab[1], 2)],
                                 "probability": round(s.probability, 4)} for s in found]}

    def uncertainty(self, photo: Photo, hints: list) -> tuple[bytes, float]:
        """(PNG at the network grid: blue = certain .. red = uncertain, mean normalised entropy)."""
        import torch
        from PIL import Image

        _, probs = self._probabilities(photo, hints)
        q = probs.shape[0]
        entropy = -(probs * torch.log(probs.clamp_min(1e-12))).sum(0) / math.log(q)
        u = entropy.clamp(0, 1).cpu().numpy()
        rgba = np.stack([255 * u, 60 + 0 * u, 255 * (1 - u), 60 + 170 * u], -1)
        buf = io.BytesIO()
        Image.fromarray(np.rint(rgba).astype(np.uint8), "RGBA").save(buf, format="PNG")
        return buf.getvalue(), float(u.mean())
