"""colorclass serve, the HTTP API (issue 20): upload, recolour, suggestions, uncertainty, hints JSON
and a download equal to what ``colorize`` writes; the bad uploads (one line each, the server keeps
serving); same-origin only; sessions isolated and bounded."""
from __future__ import annotations

import io
import json
import struct
import threading
import urllib.error
import urllib.request
import zlib

import numpy as np
import pytest
from PIL import Image

from colorclass.builtin import DEFAULT_MODEL
from colorclass.cli import main
from colorclass.hints.points import parse_hints
from colorclass.inference.colorize_files import colorize_paths
from colorclass.inference.predictor import Predictor
from colorclass.models import build_model
from colorclass.server import make_server
from colorclass.server.sessions import Store
from colorclass.server.uploads import MAX_UPLOAD_BYTES


class Client:
    """A browser tab, over urllib: its own session token."""

    def __init__(self, server, token: str | None = None) -> None:
        self.url, self.server = server.url, server
        self.token = token if token is not None else json.loads(self.post("/api/session")[1])["token"]

    def post(self, path: str, body=None, *, raw: bytes | None = None, headers: dict | None = None):
        data = raw if raw is not None else json.dumps(body).encode() if body is not None else b""
        h = {"Content-Type": "application/json", **(headers or {})}
        if getattr(self, "token", None):
            h["X-Colorclass-Session"] = self.token
        return _open(urllib.request.Request(self.url + path.lstrip("/"), data=data, headers=h, method="POST"))

    def json(self, path: str, body=None, **kw):
        status, data = self.post(path, body, **kw)
        assert status == 200, data
        return json.loads(data)

    def upload(self, data: bytes, name: str):
        return self.post(f"/api/upload?name={name}", raw=data, headers={"Content-Type": "application/octet-stream"})


def _open(request):
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _serve(predictor, **kw):
    server = make_server(predictor, port=0, **kw)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def builtin():
    return Predictor.load("builtin:general", device="cpu")


@pytest.fixture(scope="module")
def server(builtin):
    server = _serve(builtin)
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def hint_server(builtin):
    model = build_model("unet", out_channels=builtin.bins.n_bins, width=8, in_channels=4, seed=0).eval()
    server = _serve(Predictor.for_model(model, builtin.bins, size=64))
    yield server
    server.shutdown()
    server.server_close()


def _photo(h: int = 120, w: int = 160, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([128 + 90 * np.sin(xx / 9.0), 100 + 70 * np.cos(yy / 7.0), 80 + 60 * (xx > w / 2)], -1)
    return np.clip(base + rng.normal(0, 5, base.shape), 0, 255).astype(np.uint8)


def _jpeg(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def _error(status_and_body) -> tuple[int, str]:
    status, body = status_and_body
    message = json.loads(body)["error"]
    assert "\n" not in message and message
    return status, message


HINTS = [{"x": 30, "y": 40, "colour": "#c83c1e"}, {"x": 120, "y": 80, "colour": [-30.0, 40.0], "size": 3}]


def test_upload_recolour_suggest_and_download_equal_colorize(server, builtin, tmp_path):
    tab = Client(server)
    photo_file = tmp_path / "street.jpg"
    photo_file.write_bytes(_jpeg(_photo()))
    status, body = tab.upload(photo_file.read_bytes(), "street.jpg")
    reply = json.loads(body)
    assert status == 200 and (reply["width"], reply["height"]) == (160, 120)
    assert reply["gray"].startswith("data:image/jpeg;base64,") and "path" not in body.decode()
    request = {"photo": reply["photo"], "hints": HINTS, "method": "annealed", "temperature": 0.45}
    colour = tab.json("/api/colour", request)
    assert colour["image"].startswith("data:image/jpeg;base64,") and colour["temperature"] == 0.45
    assert "does not take hints" in colour["note"] and not builtin.hint_aware
    suggest = tab.json("/api/suggest", {**request, "x": 50, "y": 60})
    assert suggest["suggestions"] and all(s["hex"].startswith("#") for s in suggest["suggestions"])
    assert 0 < sum(s["probability"] for s in suggest["suggestions"]) <= 1 + 1e-6
    uncertainty = tab.json("/api/uncertainty", request)
    assert uncertainty["image"].startswith("data:image/png") and 0 <= uncertainty["mean"] <= 1
    hints_status, hints_text = tab.post("/api/hints", request)
    assert hints_status == 200 and parse_hints(hints_text, width=160, height=120)[1].size == 3
    for method, temperature in (("annealed", 0.45), ("mode", None)):
        status, data = tab.post("/api/download", {**request, "method": method, "temperature": temperature})
        # the built-in model is not hint-aware: the page colours without the hints, as colorize (torch) does
        written = colorize_paths([photo_file], tmp_path / f"out_{method}", source="builtin:general", method=method,
                                 temperature=temperature, device="cpu", engine="torch")
        assert status == 200 and data == written[0].read_bytes() and written[0].suffix == ".jpg"
    # without hints: the very command `colorize PHOTO --hints HINTS.json --decode M --temperature T`
    no_hints = {**request, "hints": []}
    (tmp_path / "street_hints.json").write_bytes(tab.post("/api/hints", no_hints)[1])
    assert main(["colorize", str(photo_file), "--hints", str(tmp_path / "street_hints.json"), "--decode",
                 "annealed", "--temperature", "0.45", "-o", str(tmp_path / "cli"), "--device", "cpu",
                 "--model", "general"]) == 0
    assert tab.post("/api/download", no_hints)[1] == (tmp_path / "cli" / "street.jpg").read_bytes()


def test_a_temperature_change_only_decodes_again(server, builtin, tmp_path):
    tab = Client(server)
    photo = tab.json("/api/example", {"name": "chelsea"})["photo"]
    calls = []
    hook = builtin.model.register_forward_hook(lambda *_: calls.append(1))
    statuses = []
    try:
        threads = [threading.Thread(target=lambda t=t: statuses.append(
            tab.post("/api/colour", {"photo": photo, "temperature": t})[0])) for t in (0.2, 0.3, 0.6, 0.7)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        tab.json("/api/suggest", {"photo": photo, "x": 3, "y": 4})
        tab.json("/api/colour", {"photo": photo, "temperature": 0.25, "hints": HINTS})   # ignored hints: cached
    finally:
        hook.remove()
    assert statuses == [200] * 4 and len(calls) == 1   # concurrent requests: the network ran once


def test_hints_recolour_a_hint_aware_model_and_the_download_equals_colorize_with_hints(hint_server, tmp_path):
    tab = Client(hint_server)
    rgb = _photo(96, 128, seed=1)
    Image.fromarray(rgb).save(tmp_path / "p.png")
    photo = json.loads(tab.upload((tmp_path / "p.png").read_bytes(), "p.png")[1])["photo"]
    plain = tab.json("/api/colour", {"photo": photo})
    hinted = tab.json("/api/colour", {"photo": photo, "hints": HINTS})
    assert hinted["note"] is None and hinted["image"] != plain["image"]
    status, data = tab.post("/api/download", {"photo": photo, "hints": HINTS, "method": "mean"})
    hints = parse_hints(tab.post("/api/hints", {"photo": photo, "hints": HINTS})[1], width=128, height=96)
    # `colorize --hints hints.json --decode mean` with this model (not a run folder: given as predictor)
    predictor = hint_server.colourist.predictor.with_settings(method="mean")
    written = colorize_paths([tmp_path / "p.png"], tmp_path / "out", hints=hints, predictor=predictor)
    assert status == 200 and data == written[0].read_bytes()


def _png_header(width: int, height: int) -> bytes:
    """A small PNG whose header claims width x height (its data is one compressed row)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * (1 + 3 * width))) + chunk(b"IEND", b""))


@pytest.mark.parametrize("name, data, status, words", [
    ("huge.png", _png_header(60_000, 60_000), 413, "megapixel limit"),
    ("notes.jpg", b"these are my notes, not a photo\n" * 20, 400, "not an image"),
    ("empty.jpg", b"", 400, "empty (0 bytes)"),
    ("cut.jpg", _jpeg(_photo())[:1500], 400, "corrupt or truncated"),
])
def test_bad_uploads_get_one_line_and_the_server_keeps_serving(server, name, data, status, words):
    tab = Client(server)
    got, message = _error(tab.upload(data, name))
    assert got == status and words in message
    assert tab.json("/api/example", {"name": "coffee"})["width"] == 600


def test_an_upload_over_the_byte_limit_is_refused_before_decoding(server):
    got, message = _error(Client(server).upload(b"\0" * (MAX_UPLOAD_BYTES + 1), "big.jpg"))
    assert got == 413 and "20 MB limit" in message


def test_bad_requests_are_one_line(server):
    tab = Client(server)
    photo = tab.json("/api/example", {"name": "astronaut"})["photo"]
    assert "temperature must be in" in _error(tab.post("/api/colour", {"photo": photo, "temperature": -1}))[1]
    assert "not one of" in _error(tab.post("/api/colour", {"photo": photo, "method": "median"}))[1]
    assert "outside the photo" in _error(tab.post("/api/suggest", {"photo": photo, "x": 512, "y": 0}))[1]
    assert "hint entry 0" in _error(tab.post("/api/colour", {"photo": photo, "hints": [{"x": 1}]}))[1]
    assert "not valid JSON" in _error(tab.post("/api/colour", raw=b"{nope"))[1]
    assert _error(tab.post("/api/nothing", {}))[0] == 404


def test_cross_origin_requests_are_refused(server):
    tab = Client(server)
    status, message = _error(tab.post("/api/example", {"name": "coffee"}, headers={"Origin": "http://evil.example"}))
    assert status == 403 and "refused" in message
    assert _error(tab.post("/api/session", headers={"Host": "evil.example:80"}))[0] == 403
    request = urllib.request.Request(server.url, headers={"Host": "rebound.example:%d" % server.server_address[1]})
    assert _open(request)[0] == 403
    assert tab.post("/api/example", {"name": "coffee"}, headers={"Origin": server.url.rstrip("/")})[0] == 200


def test_sessions_never_see_each_others_photos(server):
    one, two = Client(server), Client(server)
    photo = one.json("/api/example", {"name": "coffee"})["photo"]
    status, message = _error(two.post("/api/colour", {"photo": photo}))
    assert status == 410 and "no longer on the server" in message
    assert _error(Client(server, token="").post("/api/colour", {"photo": photo}))[0] == 410
    assert one.post("/api/colour", {"photo": photo})[0] == 200


def test_sessions_and_photos_are_bounded(builtin):
    server = _serve(builtin, store=Store(max_sessions=3, max_photos=1))
    try:
        tabs = [Client(server) for _ in range(5)]
        photos = [tab.json("/api/example", {"name": "chelsea"})["photo"] for tab in tabs[-3:]]
        assert len(server.store) == 3 and server.store.evicted == 2
        assert "expired" in _error(tabs[0].post("/api/example", {"name": "coffee"}))[1]
        newer = tabs[-1].json("/api/example", {"name": "coffee"})["photo"]
        assert _error(tabs[-1].post("/api/colour", {"photo": photos[-1]}))[0] == 410
        assert tabs[-1].post("/api/colour", {"photo": newer})[0] == 200
    finally:
        server.shutdown()
        server.server_close()
    store = Store(max_sessions=8, max_pixels=250_000)
    tokens = [store.new_session() for _ in range(3)]
    for token in tokens:
        store.add_photo(token, rgb=np.zeros((300, 300, 3), np.uint8), suffix=".png", name="x.png")
    assert store.pixels <= 250_000 and len(store) == 2


def test_the_page_is_served_from_the_package_and_names_no_outside_resource(server):
    for path in ("", "static/app.js", "static/style.css"):
        status, body = _open(urllib.request.Request(server.url + path))
        assert status == 200 and b"http://" not in body and b"https://" not in body
    info = json.loads(_open(urllib.request.Request(server.url + "api/info"))[1])
    assert info["model"] == "builtin:general" and "T=0.3" in info["describe"] and info["examples"]


def test_serve_prints_its_address_and_warns_off_localhost(tmp_path):
    import os
    import signal
    import subprocess
    import sys

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # Ctrl-C must reach it even when this test runs as a background job (which ignores SIGINT)
    proc = subprocess.Popen([sys.executable, "-m", "colorclass", "serve", "--port", "0", "--host", "0.0.0.0",
                             "--device", "cpu"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("open http://"):
                break
        text = "".join(lines)
        assert "warning: listening on 0.0.0.0" in text and f"builtin:{DEFAULT_MODEL}" in text, text
        url = lines[-1].split()[1]
        assert _open(urllib.request.Request(url + "api/info"))[0] == 200
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = f"no exit 60 s after Ctrl-C; it printed: {proc.stdout.read()!r}"
        proc.stdout.close()
        assert code == 0, code
