"""Figure: how fast `colorclass serve` answers on a 1-megapixel photo (issue 20, goal < 0.5 s).

Server side, in this process: a PageServer on a free port, driven over HTTP with urllib like the
page's script. For a 1155 x 866 photo (skimage's chelsea upscaled, a JPEG) it times

* baseline: ``Predictor.colorize`` of the same photo (network + decode + full-resolution merge),
  what a page without caches would do for every change, alternated call by call with the
  requests so that both see the same load, and run in a worker thread like the server's requests
  (on a loaded 2-core machine torch's two OpenMP threads in the main thread were several times
  slower than in a worker thread; the main-thread figure is reported too);
* upload: the photo's bytes -> checks, decode, gray preview;
* temperature: /api/colour with a new temperature (decode again + merge + preview JPEG; no network),
  for both models;
* hint, built-in model: /api/colour with one more hint (the built-in model is not hint-aware:
  it ignores them, so this is the temperature path);
* hint, hint-aware twin: /api/colour with one more hint on a network of the built-in's
  architecture with 4 input planes (random weights): the network runs again (at the built-in's
  size 64, or ``--twin-size``: at 256 the network's share of the time grows);
* suggest: /api/suggest at a pixel (cached network output);
* download: /api/download (the full-resolution JPEG, quality 95, via photos.write.save_image).

``--hint-model builtin:hints`` (or a run folder) times a real hint-aware model in the twin's place,
at its own inference size (or ``--twin-size``).

Usage: python benchmarks/serve.py [--repeats 9] [--json out.json] [--twin-size 256] [--hint-model builtin:hints]
"""
from __future__ import annotations

import argparse
import io
import json
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import machine, spread, time_pair  # noqa: E402


def photo_jpeg() -> tuple[np.ndarray, bytes]:
    import skimage.data
    from PIL import Image

    im = Image.fromarray(skimage.data.chelsea()).resize((1155, 866), Image.BICUBIC)
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=92)
    return np.asarray(im), buf.getvalue()


class Tab:
    def __init__(self, url: str) -> None:
        self.url, self.token = url, None
        self.token = self.post("/api/session")["token"]

    def post(self, path: str, body=None, raw: bytes | None = None, parse: bool = True):
        data = raw if raw is not None else json.dumps(body or {}).encode()
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["X-Colorclass-Session"] = self.token
        request = urllib.request.Request(self.url + path.lstrip("/"), data=data, headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=120) as r:
            body = r.read()
        return json.loads(body) if parse else body


def timed(fn, repeats: int) -> list[float]:
    times = []
    for i in range(repeats):
        t = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - t)
    return times


def serve(predictor):
    from colorclass.server import make_server

    server = make_server(predictor, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--json", default=None)
    parser.add_argument("--twin-size", type=int, default=None,
                        help="network size of the hint-aware twin (default: the built-in model's, 64)")
    parser.add_argument("--hint-model", default=None,
                        help="a hint-aware model (builtin:NAME or a run folder) instead of the random-weight twin")
    a = parser.parse_args()

    from colorclass.hints.points import Hint
    from colorclass.inference.predictor import Predictor
    from colorclass.models import build_model

    rgb, jpeg = photo_jpeg()
    predictor = Predictor.load("builtin:general", device="cpu")
    if a.hint_model:
        twin = Predictor.load(a.hint_model, device="cpu", size=a.twin_size)
    else:
        model = build_model("unet", out_channels=predictor.bins.n_bins, width=48, kernel_size=3, head_kernel=1,
                            output_stride=2, in_channels=4, seed=0).eval()
        twin = Predictor.for_model(model, predictor.bins, size=a.twin_size or predictor.settings.size,
                                   temperature=0.3)
    rows = {}
    worker = ThreadPoolExecutor(max_workers=1)
    rows["baseline in the main thread, built-in"] = time_pair(lambda: predictor.colorize(rgb), lambda: None,
                                                              a.repeats)[0]
    for label, p in (("built-in", predictor), ("hint-aware twin", twin)):
        server = serve(p)
        tab = Tab(server.url)
        uploads = timed(lambda i: tab.post("/api/upload?name=chelsea.jpg", raw=jpeg), 3)
        photo = tab.post("/api/upload?name=chelsea.jpg", raw=jpeg)["photo"]
        first = timed(lambda i: tab.post("/api/colour", {"photo": photo, "temperature": 0.3}), 1)
        count = iter(range(10 ** 6))

        def temperature() -> None:
            tab.post("/api/colour", {"photo": photo, "temperature": 0.31 + 0.001 * next(count)})

        def add_hint() -> None:   # one more hint each time: a new hint list
            more = [{"x": 300, "y": 400, "colour": "#c83c1e"}, {"x": 20 + next(count), "y": 300, "colour": "#2a7fd4"}]
            tab.post("/api/colour", {"photo": photo, "temperature": 0.3, "hints": more})

        hints = [Hint(x=300, y=400, ab=(40.0, 40.0))] if p.hint_aware else None
        # the baseline alternates call by call with the timed endpoint: both see the same load
        def baseline() -> None:   # in a worker thread, as the server's requests run (see the docstring)
            worker.submit(p.colorize, rgb, hints=hints).result()

        changed, full = time_pair(add_hint, baseline, a.repeats)
        rows[f"hint change, {label}"] = changed
        temperatures, more = time_pair(temperature, baseline, a.repeats)
        full += more
        rows[f"temperature change, {label}"] = temperatures
        if label == "built-in":
            rows["upload (checks, decode, gray preview)"] = uploads
            rows["first colour after upload (network + decode)"] = first
            rows["suggest at a pixel"] = timed(lambda i: tab.post(
                "/api/suggest", {"photo": photo, "x": 100 + i, "y": 200}), a.repeats)
            rows["download (full-resolution JPEG)"] = timed(lambda i: tab.post(
                "/api/download", {"photo": photo, "temperature": 0.3 + 0.01 * i}, parse=False), 3)
        rows[f"baseline: Predictor.colorize, {label}"] = full
        server.shutdown()
        server.server_close()
    result = {"machine": machine(), "twin_size": twin.settings.size, "hint_model": a.hint_model or "random twin",
              "photo": f"{rgb.shape[1]} x {rgb.shape[0]} JPEG ({len(jpeg) / 1e3:.0f} kB)",
              "seconds": {k: dict(zip(("median", "min", "max"), spread(v))) for k, v in rows.items()}}
    print(f"{result['photo']}; {result['machine']['cpu']}, {result['machine']['torch_threads']} torch threads, "
          f"load {result['machine']['load_average_1_5_15']}")
    print(f"{'seconds':48s} {'median':>8s} {'min':>8s} {'max':>8s}  baseline / median")
    for name, s in result["seconds"].items():
        twin = "hint-aware twin" in name
        base = result["seconds"][f"baseline: Predictor.colorize, {'hint-aware twin' if twin else 'built-in'}"]
        print(f"{name:48s} {s['median']:8.3f} {s['min']:8.3f} {s['max']:8.3f}  {base['median'] / s['median']:.1f}x")
    if a.json:
        Path(a.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
