"""The local web page: steer a model's colours in a browser (``colorclass serve``).

    app (HTTP routes, same-origin checks) -> colours (the Predictor: cached network outputs,
    re-decoding, suggestions, uncertainty, downloads) -> sessions (bounded per-tab state)
    -> uploads (size, pixel and format checks before decoding); static/ (index.html, app.js,
    style.css: plain JavaScript, served from the package, works offline)
"""
from __future__ import annotations

from colorclass.server.app import EXAMPLES, PageServer, make_server

__all__ = ["make_server", "PageServer", "EXAMPLES"]
