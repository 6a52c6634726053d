"""colorclass serve in a real headless browser (Debian's chromium + chromium-driver, selenium):
upload a photo, wait for its colours, click a point, read the suggestions, add a hint, drag it,
move the temperature slider, download the photo and the hints and compare them with ``colorize``
of the same hints. Skips with the reason when no browser is found, except under CI=true (fails).

COLORCLASS_SCREENSHOT=1 also writes docs/serve.png (the page with a photo, hints and suggestions).
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colorclass.hints.points import parse_hints
from colorclass.inference.colorize_files import colorize_paths
from colorclass.inference.predictor import Predictor
from colorclass.models import build_model
from colorclass.server import make_server

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1600,1000")


def _missing(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: the browser test must run in CI)")
    pytest.skip(reason)


def _browser_paths() -> tuple[str, str]:
    chromium = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        _missing("no chromium / chromedriver found; install them with "
                 "`apt-get install -y chromium chromium-driver`")
    try:
        import selenium  # noqa: F401
    except ImportError:
        _missing("selenium is not installed; `pip install -e '.[test]'`")
    return chromium, driver


@pytest.fixture
def browser(tmp_path):
    chromium, driver_path = _browser_paths()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="colorclass-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.add_experimental_option("prefs", {"download.default_directory": str(tmp_path / "downloads")})
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    driver.set_script_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def _serve(predictor):
    server = make_server(predictor, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _photo_file(folder: Path) -> Path:
    """A 1 x 0.75 photo with a few colour regions, as a JPEG (colorize writes a JPEG for it)."""
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:240, 0:320]
    rgb = np.stack([120 + 100 * np.sin(xx / 25.0), 110 + 80 * np.cos(yy / 19.0), 90 + 70 * (xx > 160)], -1)
    path = folder / "garden.jpg"
    Image.fromarray(np.clip(rgb + rng.normal(0, 4, rgb.shape), 0, 255).astype(np.uint8)).save(path, quality=92)
    return path


def _wait(driver, what, timeout: float = 60):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: what(d))


def _src(driver, element_id: str = "colour") -> str:
    return driver.find_element("id", element_id).get_attribute("src") or ""


def _idle(driver) -> bool:
    return driver.execute_script("return document.getElementById('busy').textContent === ''")


def _error_line(driver) -> str:
    return driver.find_element("id", "error").text


def _pixel_mean(driver, element_id: str, x: float, y: float, radius: int = 6) -> list[float]:
    """Mean RGB of the displayed image around the fractional position (x, y), read in the page."""
    return driver.execute_script("""
        const img = document.getElementById(arguments[0]);
        const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;
        const g = c.getContext('2d'); g.drawImage(img, 0, 0);
        const r = arguments[3], cx = Math.round(arguments[1] * c.width), cy = Math.round(arguments[2] * c.height);
        const d = g.getImageData(cx - r, cy - r, 2 * r + 1, 2 * r + 1).data; const m = [0, 0, 0];
        for (let i = 0; i < d.length; i += 4) { m[0] += d[i]; m[1] += d[i + 1]; m[2] += d[i + 2]; }
        return m.map((v) => v / (d.length / 4));""", element_id, x, y, radius)


def _blob(driver) -> bytes:
    """The bytes behind the page's download link (a blob: URL), read by the page itself."""
    encoded = driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch(document.getElementById('download-link').href).then((r) => r.arrayBuffer()).then((b) => {
          let s = ''; const u = new Uint8Array(b);
          for (let i = 0; i < u.length; i += 8192) s += String.fromCharCode.apply(null, u.subarray(i, i + 8192));
          done(btoa(s)); }).catch((e) => done('ERROR ' + e));""")
    assert not encoded.startswith("ERROR"), encoded
    return base64.b64decode(encoded)


def _download(driver, button: str, kind: str) -> bytes:
    driver.execute_script("const l = document.getElementById('download-link'); l.removeAttribute('href');")
    driver.find_element("id", button).click()
    _wait(driver, lambda d: d.execute_script(
        "const l = document.getElementById('download-link'); return l.href.startsWith('blob:') && "
        f"l.dataset.kind === '{kind}'"))
    return _blob(driver)


def _drop(driver, path: Path, name: str) -> None:
    """Drop the file ``path`` (named ``name``) on the page's drop zone, as a drag from the desktop does."""
    driver.execute_script("""
        const bytes = Uint8Array.from(atob(arguments[0]), (c) => c.charCodeAt(0));
        const data = new DataTransfer();
        data.items.add(new File([bytes], arguments[1], { type: 'image/jpeg' }));
        document.getElementById('drop').dispatchEvent(
          new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));""",
                          base64.b64encode(path.read_bytes()).decode(), name)


def _session(driver, server, photo: Path) -> None:
    """Open the page, upload ``photo`` with the file picker and wait for its colours."""
    driver.get(server.url)
    _wait(driver, lambda d: d.find_elements("css selector", "#examples button"))
    driver.find_element("id", "file").send_keys(str(photo))
    _wait(driver, lambda d: _src(d).startswith("data:image/jpeg")
          and _idle(d))
    assert _error_line(driver) == ""


def _click_and_suggest(driver, fx: float, fy: float) -> list:
    from selenium.webdriver.common.action_chains import ActionChains

    img = driver.find_element("id", "colour")
    w, h = img.size["width"], img.size["height"]
    ActionChains(driver).move_to_element_with_offset(img, int((fx - 0.5) * w), int((fy - 0.5) * h)).click().perform()
    return _wait(driver, lambda d: d.find_elements("css selector", "#suggestions .swatch") and _idle(d)
                 and d.find_elements("css selector", "#suggestions .swatch"))


def test_the_page_colours_suggests_takes_hints_and_downloads_what_colorize_writes(browser, tmp_path):
    from selenium.webdriver.common.keys import Keys

    predictor = Predictor.load("builtin:general", device="cpu")
    server = _serve(predictor)
    try:
        photo = _photo_file(tmp_path)
        _session(browser, server, photo)
        assert "builtin:general" in browser.find_element("id", "model-line").text
        swatches = _click_and_suggest(browser, 0.3, 0.4)
        labels = [s.text for s in swatches]
        assert all("%" in t and "#" in t for t in labels), labels
        swatches[-1].click()
        _wait(browser, lambda d: len(d.find_elements("css selector", "#hint-list li")) == 1 and _idle(d))
        note = browser.find_element("id", "note").text
        assert predictor.hint_aware or "does not take hints" in note
        _click_and_suggest(browser, 0.75, 0.6)
        browser.execute_script("document.getElementById('picker').value = '#1e64c8'")
        browser.find_element("id", "add-picked").click()
        _wait(browser, lambda d: len(d.find_elements("css selector", "#hint-list li")) == 2 and _idle(d))
        slider = browser.find_element("id", "temperature")
        before = _src(browser)
        for _ in range(15):
            slider.send_keys(Keys.ARROW_RIGHT)
        _wait(browser, lambda d: _idle(d) and _src(d) != before)
        temperature = float(browser.find_element("id", "temperature-value").text)
        assert temperature == pytest.approx(0.45) and _error_line(browser) == ""
        browser.find_element("id", "uncertainty").click()
        _wait(browser, lambda d: d.find_element("id", "uncertainty-map").is_displayed() and _idle(d))
        browser.find_element("id", "uncertainty").click()
        hints_json = _download(browser, "download-hints", "/api/hints")
        hints = parse_hints(hints_json, width=320, height=240)
        assert len(hints) == 2 and json.loads(hints_json)[1]["colour"] != json.loads(hints_json)[0]["colour"]
        image = _download(browser, "download-image", "/api/download")
        # the built-in model takes no hints: `colorize --engine torch` of the same photo and temperature
        written = colorize_paths([photo], tmp_path / "out", source="builtin:general", temperature=temperature,
                                 device="cpu", engine="torch")
        assert image == written[0].read_bytes(), browser.find_element("id", "command-line").text
        browser.find_element("id", "undo").click()
        _wait(browser, lambda d: len(d.find_elements("css selector", "#hint-list li")) == 1 and _idle(d))
        assert _error_line(browser) == ""
        if os.environ.get("COLORCLASS_SCREENSHOT") == "1":
            _screenshot(browser)
    finally:
        server.shutdown()
        server.server_close()


def _screenshot(driver) -> None:
    """docs/serve.png: the coffee example with two hints and the suggestions at a point."""
    driver.find_element("xpath", "//div[@id='examples']/button[text()='coffee'] | "
                                 "//span[@id='examples']/button[text()='coffee']").click()
    _wait(driver, lambda d: not d.find_elements("css selector", "#hint-list li") and _idle(d)
          and _src(d).startswith("data:image/jpeg"))
    _click_and_suggest(driver, 0.65, 0.45)[0].click()
    _wait(driver, lambda d: len(d.find_elements("css selector", "#hint-list li")) == 1 and _idle(d))
    _click_and_suggest(driver, 0.85, 0.2)
    driver.execute_script("document.getElementById('picker').value = '#2a7fd4'")
    driver.find_element("id", "add-picked").click()
    _wait(driver, lambda d: len(d.find_elements("css selector", "#hint-list li")) == 2 and _idle(d))
    _click_and_suggest(driver, 0.25, 0.35)
    driver.execute_script("window.scrollTo(0, 0)")
    driver.save_screenshot(str(ROOT / "docs" / "serve.png"))


def test_hints_of_a_hint_aware_model_recolour_and_download_like_colorize_with_hints(browser, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains

    bins = Predictor.load("builtin:general", device="cpu").bins
    model = build_model("unet", out_channels=bins.n_bins, width=8, in_channels=4, seed=0).eval()
    predictor = Predictor.for_model(model, bins, size=64)
    server = _serve(predictor)
    try:
        photo = _photo_file(tmp_path)
        _session(browser, server, photo)
        before = _pixel_mean(browser, "colour", 0.3, 0.4, radius=20)
        _click_and_suggest(browser, 0.3, 0.4)
        browser.execute_script("document.getElementById('picker').value = '#20c040'")
        old = _src(browser)
        browser.find_element("id", "add-picked").click()
        _wait(browser, lambda d: _src(d) != old and _idle(d))
        assert browser.find_element("id", "note").text == ""
        after = _pixel_mean(browser, "colour", 0.3, 0.4, radius=20)
        # random weights: the colour near the hint changes (a little), not necessarily toward it
        assert after != before
        marker = browser.find_element("css selector", ".marker.hint")
        ActionChains(browser).drag_and_drop_by_offset(marker, 25, 15).perform()
        _wait(browser, lambda d: "x=96" not in d.find_element("id", "hint-list").text and _idle(d))
        hints_json = _download(browser, "download-hints", "/api/hints")
        hints = parse_hints(hints_json, width=320, height=240)
        assert len(hints) == 1 and (hints[0].x, hints[0].y) != (96, 96)
        image = _download(browser, "download-image", "/api/download")
        # `colorize --hints hints.json` with this model (not a run folder: given as predictor)
        written = colorize_paths([photo], tmp_path / "out", hints=hints, predictor=predictor)
        assert image == written[0].read_bytes()
        _drop(browser, photo, "dropped.jpg")
        _wait(browser, lambda d: "dropped.jpg" in d.find_element("id", "command-line").text and _idle(d))
        assert not browser.find_elements("css selector", "#hint-list li") and _error_line(browser) == ""
    finally:
        server.shutdown()
        server.server_close()
