"""Every page of a built site loads in headless Chromium with no console errors and no request outside the site."""

import contextlib
import functools
import http.server
import io
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from generator.build import build

CHROMIUM = Path("/usr/bin/chromium")
DATA = Path(__file__).parent / "data"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed at /usr/bin/chromium"),
]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="module")
def served_site(tmp_path_factory):
    """Build the fixture site and serve it on 127.0.0.1 at a random port; yield (base URL, site dir)."""
    tmp = tmp_path_factory.mktemp("browser")
    with contextlib.redirect_stderr(io.StringIO()):
        build([DATA / "valid", DATA / "site"], tmp / "site", work_dir=tmp / "build")
    handler = functools.partial(QuietHandler, directory=str(tmp / "site"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", tmp / "site"
    server.shutdown()
    server.server_close()


def test_every_page_loads_without_errors_or_outside_requests(served_site):
    sync_api = pytest.importorskip("playwright.sync_api")
    base, site = served_site
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html"))
    assert {"index.html", "performance.html", "data.html", "models/digits-resnet10t.html"} <= set(pages)
    requests: list[str] = []
    problems: list[str] = []
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=args)
        try:
            page = browser.new_page()
            page.on("request", lambda request: requests.append(request.url))
            page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
            page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            for name in pages:
                response = page.goto(f"{base}/{name}", wait_until="networkidle")
                assert response is not None and response.ok, name
                assert page.title(), name
            # The charts are lazy-loaded SVGs from the site itself: scroll each into view and check it decoded.
            page.goto(f"{base}/models/digits-resnet10t.html", wait_until="networkidle")
            charts = page.locator("figure.benchsite-chart img")
            assert charts.count() >= 4
            for i in range(charts.count()):
                charts.nth(i).scroll_into_view_if_needed()
                page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=charts.nth(i).element_handle())
            # The content tabs work without any script of ours: clicking a label shows its table.
            page.goto(f"{base}/performance.html", wait_until="networkidle")
            labels = page.locator(".tabbed-labels label")
            assert labels.count() >= 2
            labels.nth(1).click()
            assert page.locator(".tabbed-block table").nth(1).is_visible()
        finally:
            browser.close()
    assert not problems, problems
    outside = sorted({u for u in requests if urlsplit(u).scheme not in ("data", "blob") and not u.startswith(base + "/")})
    assert not outside, outside
    assert any(u.endswith(".svg") for u in requests)  # the charts were fetched from the site itself
