"""The page's HTTP server: routes, same-origin checks, one-line errors.

    browser tab -> GET / (index.html, app.js, style.css: package files only, works offline)
        -> POST /api/session -> token (kept in the tab's memory: one session per tab)
        -> POST /api/upload | /api/example -> photo id + gray preview
        -> POST /api/colour | /api/suggest | /api/uncertainty | /api/download | /api/hints
           (JSON bodies; the token travels in the X-Colorclass-Session header)

The standard library's ``ThreadingHTTPServer`` serves it: one local user, a handful of requests
a second, no new dependency to install (a web framework would add one for a page that needs
none of its features); each request runs in its own thread and the network runs outside the
GIL. Requests whose Host or Origin is not the server's own are refused (403: another site open
in the browser, or a DNS-rebinding name, cannot drive it); a request that fails answers one line
of JSON ``{"error": ...}`` and is logged -- the server keeps serving.
"""
from __future__ import annotations

import base64
import json
import logging
import re
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from colorclass.server.colours import Colourist
from colorclass.server.sessions import Store
from colorclass.server.uploads import MAX_UPLOAD_BYTES, MAX_UPLOAD_PIXELS, RequestError, check_size, read_upload

log = logging.getLogger(__name__)

__all__ = ["PageServer", "make_server", "EXAMPLES", "SESSION_HEADER", "MAX_JSON_BYTES"]

SESSION_HEADER = "X-Colorclass-Session"
MAX_JSON_BYTES = 2_000_000      # a hints list at its file limit (1 MB) and the rest of a request
EXAMPLES = ("astronaut", "chelsea", "coffee")   # skimage.data photos: served from the dependency
STATIC = {"/": ("index.html", "text/html; charset=utf-8"),
          "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
          "/static/style.css": ("style.css", "text/css; charset=utf-8")}
_SECURITY_HEADERS = {
    "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
                               "connect-src 'self' blob:; frame-ancestors 'none'",
}


def _safe_name(name: str) -> str:
    """A download's file name with only letters, digits, '.', '-' and '_' (safe in a header)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:100] or "download"


def _data_url(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def example_png(name: str) -> bytes:
    """An example photo from ``skimage.data`` as PNG bytes (as if the user uploaded NAME.png)."""
    import io

    import skimage.data
    from PIL import Image

    if name not in EXAMPLES:
        raise RequestError(f"unknown example {name!r}; choose one of {', '.join(EXAMPLES)}")
    buf = io.BytesIO()
    Image.fromarray(getattr(skimage.data, name)()).save(buf, format="PNG")
    return buf.getvalue()


class PageServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer holding the page's state: ``colourist`` (the model), ``store`` (the
    sessions) and the Host names it answers to."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], colourist: Colourist, store: Store) -> None:
        super().__init__(address, Handler)
        self.colourist, self.store = colourist, store
        raw_host, port = self.server_address[:2]
        host = raw_host.decode() if isinstance(raw_host, bytes) else str(raw_host)
        self.wildcard = host in ("0.0.0.0", "::", "")
        names = {str(host), "127.0.0.1", "localhost", "[::1]"} if not self.wildcard else set()
        if host == "::1":
            names.add("[::1]")
        self.hosts = {f"{n}:{port}" for n in names}
        self.url = f"http://{'127.0.0.1' if self.wildcard or host == '127.0.0.1' else host}:{port}/"


def make_server(predictor, *, host: str = "127.0.0.1", port: int = 0, store: Store | None = None) -> PageServer:
    """A PageServer for ``predictor`` on (host, port) (port 0: a free one); call ``serve_forever``."""
    return PageServer((host, port), Colourist(predictor), store if store is not None else Store())


class Handler(BaseHTTPRequestHandler):
    server: PageServer
    server_version = "colorclass"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 -- the base class's name
        log.debug("%s %s", self.address_string(), format % args)

    # ------------------------------------------------------------------ plumbing
    def _send(self, status: int, body: bytes, mime: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", mime)
        self.send_header("Content-Length", str(len(body)))
        for key, value in {**_SECURITY_HEADERS, **(extra or {})}.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, obj: dict, status: int = 200) -> None:
        self._send(status, json.dumps(obj).encode("utf-8"), "application/json")

    def _error(self, status: int, message: str) -> None:
        self.close_connection = True   # the body may not have been read
        self._json({"error": message}, status)

    def _same_origin(self) -> bool:
        host = self.headers.get("Host", "")
        origin = self.headers.get("Origin")
        if not self.server.wildcard and host not in self.server.hosts:
            return False
        return origin is None or origin == f"http://{host}"

    def _body(self, limit: int) -> bytes:
        length = self.headers.get("Content-Length")
        if length is None or not length.strip().isdigit():
            raise RequestError("the request has no Content-Length; send the file as the request body", 411)
        n = int(length)
        try:
            if limit == MAX_UPLOAD_BYTES:
                check_size(n)
            elif n > limit:
                raise RequestError(f"the request is {n:,} bytes, over the {limit:,} byte limit", 413)
        except RequestError:
            self._drain(n)
            raise
        return self.rfile.read(n)

    def _drain(self, n: int) -> None:
        """Read and drop a refused body (up to 4 limits), so that the browser sees the answer."""
        left = min(n, 4 * MAX_UPLOAD_BYTES)
        while left > 0:
            chunk = self.rfile.read(min(left, 1 << 20))
            if not chunk:
                break
            left -= len(chunk)

    def _request(self) -> dict:
        try:
            data = json.loads(self._body(MAX_JSON_BYTES) or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            raise RequestError("the request is not valid JSON") from None
        if not isinstance(data, dict):
            raise RequestError("the request must be a JSON object")
        return data

    def _handle(self) -> None:
        started = time.perf_counter()
        path = urlsplit(self.path).path
        try:
            if not self._same_origin():
                log.warning("refused %s %s: Host %r / Origin %r is not this server", self.command, path,
                            self.headers.get("Host"), self.headers.get("Origin"))
                self._error(403, "refused: this server answers only its own page (Host / Origin mismatch)")
                return
            self._route(path)
        except RequestError as e:
            self._error(getattr(e, "status", 400), str(e).splitlines()[0])
        except ValueError as e:   # ColorclassError (bad hints, settings) and the library's value checks
            self._error(400, (str(e).splitlines() or ["bad request"])[0])
        except (BrokenPipeError, ConnectionResetError):
            log.debug("client went away during %s", path)
        except Exception as e:  # noqa: BLE001 -- one bad request must never stop the server
            from colorclass.support.errors import is_out_of_memory

            if is_out_of_memory(e):
                log.warning("out of memory on %s", path)
                self._error(503, "the server ran out of memory; use a smaller photo")
                return
            log.exception("internal error on %s %s", self.command, path)
            self._error(500, f"internal error ({type(e).__name__}); see the server's log")
        finally:
            log.debug("%s %s %.0f ms", self.command, path, 1000 * (time.perf_counter() - started))

    def do_GET(self) -> None:  # noqa: N802 -- http.server's name
        self._handle()

    def do_HEAD(self) -> None:  # noqa: N802
        self._handle()

    def do_POST(self) -> None:  # noqa: N802
        self._handle()

    # ------------------------------------------------------------------ routes
    def _route(self, path: str) -> None:
        if self.command in ("GET", "HEAD"):
            if path in STATIC:
                name, mime = STATIC[path]
                body = resources.files("colorclass.server").joinpath("static", name).read_bytes()
                self._send(200, body, mime)
            elif path == "/api/info":
                self._json({**self.server.colourist.info(), "examples": list(EXAMPLES),
                            "max_upload_mb": MAX_UPLOAD_BYTES // 1_000_000,
                            "max_megapixels": MAX_UPLOAD_PIXELS // 1_000_000})
            elif path == "/favicon.ico":
                self._send(204, b"", "image/x-icon")
            else:
                raise RequestError(f"no page at {path[:80]!r}", 404)
            return
        if self.command != "POST":
            raise RequestError(f"method {self.command} is not supported", 405)
        if path == "/api/session":
            self._json({"token": self.server.store.new_session()})
            return
        token = self.headers.get(SESSION_HEADER)
        handler = {"/api/upload": self._upload, "/api/example": self._example, "/api/colour": self._colour,
                   "/api/suggest": self._suggest, "/api/uncertainty": self._uncertainty,
                   "/api/download": self._download, "/api/hints": self._hints}.get(path)
        if handler is None:
            raise RequestError(f"no API at {path[:80]!r}", 404)
        handler(token)

    def _added(self, token: str | None, data: bytes, name: str | None) -> None:
        upload = read_upload(data, name)
        store, colourist = self.server.store, self.server.colourist
        photo = store.add_photo(token, rgb=upload.rgb, suffix=upload.suffix, name=upload.name)
        height, width = upload.rgb.shape[:2]
        log.info("photo %s (%d x %d) added", upload.name, width, height)
        self._json({"photo": photo.id, "name": photo.name, "width": width, "height": height,
                    "gray": _data_url(colourist.gray_preview(photo), "image/jpeg")})

    def _upload(self, token: str | None) -> None:
        self.server.store.check(token)   # a clear message before reading the body
        name = parse_qs(urlsplit(self.path).query).get("name", ["photo"])[0]
        self._added(token, self._body(MAX_UPLOAD_BYTES), name)

    def _example(self, token: str | None) -> None:
        name = self._request().get("name")
        self._added(token, example_png(str(name)), f"{name}.png")

    def _photo_and_hints(self, token: str | None, request: dict):
        photo = self.server.store.photo(token, request.get("photo"))
        return photo, self.server.colourist.hints(photo, request.get("hints"))

    def _colour(self, token: str | None) -> None:
        started = time.perf_counter()
        request = self._request()
        photo, hints = self._photo_and_hints(token, request)
        colourist = self.server.colourist
        rgb, n_clipped, predictor = colourist.colour(photo, hints, request.get("method"), request.get("temperature"))
        s = predictor.settings
        self._json({"image": _data_url(colourist.preview(rgb), "image/jpeg"), "clipped": n_clipped,
                    "method": s.method, "temperature": s.temperature, "describe": predictor.describe(),
                    "note": colourist.note(hints), "hints": len(hints),
                    "ms": round(1000 * (time.perf_counter() - started), 1)})

    def _suggest(self, token: str | None) -> None:
        request = self._request()
        photo, hints = self._photo_and_hints(token, request)
        self._json(self.server.colourist.suggestions(photo, hints, request.get("x"), request.get("y")))

    def _uncertainty(self, token: str | None) -> None:
        request = self._request()
        photo, hints = self._photo_and_hints(token, request)
        png, mean = self.server.colourist.uncertainty(photo, hints)
        self._json({"image": _data_url(png, "image/png"), "mean": round(mean, 4)})

    def _download(self, token: str | None) -> None:
        request = self._request()
        photo, hints = self._photo_and_hints(token, request)
        body, name = self.server.colourist.download(photo, hints, request.get("method"), request.get("temperature"))
        name = _safe_name(name)
        mime = "image/jpeg" if name.endswith(".jpg") else "image/png"
        self._send(200, body, mime, {"Content-Disposition": f'attachment; filename="{name}"'})

    def _hints(self, token: str | None) -> None:
        from colorclass.hints.points import hints_to_json

        request = self._request()
        photo, hints = self._photo_and_hints(token, request)
        name = _safe_name(f"{Path(photo.name).stem or 'photo'}_hints.json")
        self._send(200, hints_to_json(hints).encode("utf-8"), "application/json",
                   {"Content-Disposition": f'attachment; filename="{name}"'})
