"""The built documentation works in a real browser: its images load and its links resolve.

Headless Chromium (Debian's ``chromium`` and ``chromium-driver``, driven by selenium) loads
the home page, the API page of ``MaskedAutoencoder`` and a gallery example from a local
HTTP server over ``docs/_build/html``. On each page every image must have loaded (decoded,
with a size), every same-site link, stylesheet and script must be served, and every
``#fragment`` of a same-site link must name an element of its target page.

Build the site first (``make docs``). Without the built site or a browser the tests are
skipped with the reason, unless ``SKLEARN_MAE_REQUIRE_BROWSER=1`` (``make docs-test`` and
CI set it), which turns the skip into a failure.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urldefrag, urlsplit

import pytest

SITE = Path(__file__).resolve().parents[1] / "docs" / "_build" / "html"
PAGES = {
    "home": ("index.html", 1),
    "MaskedAutoencoder API": ("generated/sklearn_mae.MaskedAutoencoder.html", 0),
    "inpainting example": ("auto_examples/plot_inpainting.html", 3),
}  # page: (path, images it must show at least)
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1280,1000"]


def unavailable(reason: str):
    if os.environ.get("SKLEARN_MAE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (SKLEARN_MAE_REQUIRE_BROWSER=1)")
    pytest.skip(reason)


def find_browser() -> tuple[str, str]:
    browser = next((shutil.which(name) for name in ("chromium", "chromium-browser",
                                                     "google-chrome") if shutil.which(name)),
                   None)
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        unavailable("headless Chromium not found: install Debian's chromium and "
                    "chromium-driver (apt-get install -y chromium chromium-driver)")
    return browser, driver


@pytest.fixture(scope="module")
def site_url():
    if not (SITE / "index.html").is_file():
        unavailable(f"the documentation is not built ({SITE} is missing): run 'make docs'")
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed "
                                    "(pip install 'sklearn-mae[docs]')")
    binary, driver_path = find_browser()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = webdriver.ChromeService(executable_path=driver_path)
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def load(browser, url: str) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(url)
    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script("return document.readyState") == "complete")
    # every <img> finished loading (or failing), lazy ones included
    browser.execute_script("document.querySelectorAll('img').forEach(i => i.loading = 'eager')")
    WebDriverWait(browser, 30).until(lambda d: d.execute_script(
        "return Array.from(document.images).every(i => i.complete)"))


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            body = response.read()
            return response.status, body.decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, ""


@functools.cache
def ids_of(url: str) -> frozenset:
    status, body = fetch(url)
    return frozenset(re.findall(r'\bid="([^"]+)"', body)) if status == 200 else frozenset()


@pytest.mark.parametrize("page", list(PAGES))
def test_page_loads_with_its_images(browser, site_url, page):
    path, min_images = PAGES[page]
    load(browser, site_url + path)
    assert "sklearn-mae" in browser.title
    images = browser.execute_script(
        "return Array.from(document.images).map(i => [i.currentSrc || i.src, i.complete, "
        "i.naturalWidth, i.naturalHeight])")
    broken = [src for src, complete, width, height in images
              if not (complete and width > 0 and height > 0)]
    assert not broken, f"{path}: images that did not load: {broken}"
    shown = [src for src, *_ in images if src.startswith(site_url) and "logo" not in src]
    assert len(shown) >= min_images, f"{path}: expected {min_images}+ images, got {shown}"
    errors = [entry["message"] for entry in browser.get_log("browser")
              if entry["level"] == "SEVERE"]
    assert not errors, f"{path}: the browser's console reported errors: {errors}"


@pytest.mark.parametrize("page", list(PAGES))
def test_internal_links_resolve(browser, site_url, page):
    path = PAGES[page][0]
    load(browser, site_url + path)
    targets = browser.execute_script(
        "return [...Array.from(document.querySelectorAll('a[href]'), a => a.href),"
        " ...Array.from(document.querySelectorAll('link[href]'), l => l.href),"
        " ...Array.from(document.querySelectorAll('script[src]'), s => s.src)]")
    internal = sorted({t for t in targets if t.startswith(site_url)})
    assert len(internal) > 10, f"{path}: found only {internal}"
    missing, bad_anchors = [], []
    for target in internal:
        url, fragment = urldefrag(target)
        status, _ = fetch(url)
        if status != 200:
            missing.append(f"{urlsplit(url).path} ({status})")
        elif fragment and urlsplit(url).path.endswith(".html") and fragment not in ids_of(url):
            bad_anchors.append(target[len(site_url):])
    assert not missing, f"{path}: links to pages or files that do not exist: {missing}"
    assert not bad_anchors, f"{path}: links to anchors that do not exist: {bad_anchors}"
