"""Headless Chromium on the leaderboard (sorting, subjects toggle) and on a site published twice with mike."""

import contextlib
import functools
import http.server
import io
import subprocess
import tarfile
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from generator.build import build
from generator.publish import publish

CHROMIUM = Path("/usr/bin/chromium")
DATA = Path(__file__).parent / "data"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed at /usr/bin/chromium"),
]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@contextlib.contextmanager
def serve(folder: Path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def browser_page(base: str):
    """Yield (page, problems, requests): a Chromium page recording console errors and every request."""
    sync_api = pytest.importorskip("playwright.sync_api")
    problems: list[str] = []
    requests: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page()
            page.on("request", lambda request: requests.append(request.url))
            page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
            page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            yield page, problems, requests
        finally:
            browser.close()
    assert not problems, problems
    outside = sorted({u for u in requests if urlsplit(u).scheme not in ("data", "blob") and not u.startswith(base + "/")})
    assert not outside, outside


@pytest.fixture(scope="module")
def leaderboard_site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("leaderboard")
    with contextlib.redirect_stderr(io.StringIO()):
        build([DATA / "valid", DATA / "ranked"], tmp / "site", work_dir=tmp / "build")
    with serve(tmp / "site") as base:
        yield base


def column(table, index: int) -> list[float]:
    return [float(v or 0) for v in table.locator("tbody tr").evaluate_all(f"rows => rows.map(r => r.cells[{index}].dataset.sort)")]


def test_clicking_a_leaderboard_header_sorts_both_ways(leaderboard_site):
    base = leaderboard_site
    with browser_page(base) as (page, _, requests):
        page.goto(f"{base}/leaderboard.html", wait_until="networkidle")
        table = page.locator(".benchsite-leaderboard table").nth(1)  # the ImageNet mixed-precision board
        header = table.locator("th", has_text="GPU FPS")
        before = column(table, 6)
        assert len(before) == 5 and before != sorted(before) and before != sorted(before, reverse=True)
        header.click()
        first = column(table, 6)
        header.click()
        second = column(table, 6)
        assert {tuple(first), tuple(second)} == {tuple(sorted(before)), tuple(sorted(before, reverse=True))}
        assert any(u.endswith("/assets/tablesort/tablesort.min.js") for u in requests)  # served by the site itself


def test_show_subjects_toggles_the_per_class_rows(leaderboard_site):
    base = leaderboard_site
    with browser_page(base) as (page, _, _):
        page.goto(f"{base}/leaderboard.html", wait_until="networkidle")
        rows = page.locator(".benchsite-subjects tr.benchsite-subject-row", has_text="great white shark")
        button = page.locator("button.benchsite-subjects-toggle").nth(1)
        assert rows.count() >= 1 and not rows.first.is_visible()
        button.click()
        assert rows.first.is_visible() and button.inner_text() == "Hide subjects"
        button.click()
        assert not rows.first.is_visible() and button.inner_text() == "Show subjects"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def test_the_version_selector_lists_two_published_versions(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.name", "benchsite test")
    git(repo, "config", "user.email", "test@example.org")
    git(repo, "commit", "-q", "--allow-empty", "-m", "init")
    with contextlib.redirect_stderr(io.StringIO()):
        publish([DATA / "valid"], "1.0", ["latest"], repo)
        publish([DATA / "valid", DATA / "ranked"], "2.0", ["latest"], repo)
    pages = tmp_path / "gh-pages"
    pages.mkdir()
    archive = subprocess.run(["git", "-C", str(repo), "archive", "gh-pages"], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        # our own git archive; the "data" filter exists only from Python 3.11.4 (Debian 12 ships 3.11.2)
        tar.extractall(pages, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    assert (pages / "versions.json").is_file() and (pages / "1.0" / "index.html").is_file()
    assert not (pages / "1.0" / "leaderboard.html").read_text(encoding="utf-8").count("ResNet-50")  # 1.0 stays frozen
    with serve(pages) as base, browser_page(base) as (page, _, _):
        page.goto(f"{base}/2.0/index.html", wait_until="networkidle")
        page.locator(".md-version__current").wait_for()
        versions = page.locator(".md-version__list .md-version__link").all_text_contents()
        assert any("1.0" in v for v in versions) and any("2.0" in v for v in versions)
        page.goto(f"{base}/", wait_until="networkidle")
        assert "/latest/" in page.url or "/2.0/" in page.url
