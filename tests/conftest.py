"""Shared fixtures: paths of the committed test data, the real CLI, and a served site in headless Chromium."""

from __future__ import annotations

import contextlib
import functools
import http.server
import io
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from runners.schema import Mode, Result, iter_result_files, read_result

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed at /usr/bin/chromium"),
]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def dataset_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One prepared-datasets folder shared by every runner test in the session."""
    return tmp_path_factory.mktemp("benchsite-cache")


def benchsite(*args: str) -> list[str]:
    """The command line of the real CLI in this interpreter."""
    return [sys.executable, "-m", "generator.ops.cli", *args]


def run_cli(args: list[str], cache: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the real CLI with datasets prepared under ``cache``."""
    env = {**os.environ, "BENCHSITE_CACHE": str(cache)}
    return subprocess.run(benchsite(*args), capture_output=True, text=True, env=env, timeout=timeout)


@dataclass(frozen=True)
class TinyRun:
    proc: subprocess.CompletedProcess[str]
    results_dir: Path
    files: list[Path]
    by_mode: dict[Mode, Result]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, dataset_cache: Path) -> TinyRun:
    """One real run of the tiny suite (seconds on a CPU), shared by the runner and end-to-end tests."""
    results = tmp_path_factory.mktemp("results")
    proc = run_cli(["run", "--suite", str(data_dir / "suites" / "tiny.yaml"), "--results", str(results)], dataset_cache)
    files = list(iter_result_files(results))
    return TinyRun(proc, results, files, {read_result(p).run.mode: read_result(p) for p in files})


def build_site(sources: list[Path], tmp: Path) -> Path:
    """Build a site from ``sources`` into ``tmp``/site, its build log kept off stderr; return the site folder."""
    from generator.build import build  # here, not at the top: most tests never build a site and mkdocs is slow to import

    with contextlib.redirect_stderr(io.StringIO()):
        build(sources, tmp / "site", work_dir=tmp / "build")
    return tmp / "site"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve ``folder`` on 127.0.0.1 at a free port; yield its base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def browser_page(base: str) -> Iterator[tuple[Any, list[str], list[str]]]:
    """Yield (page, problems, requests) of a Chromium page; on leaving, assert no errors and no request outside ``base``."""
    sync_api = pytest.importorskip("playwright.sync_api")
    problems: list[str] = []
    requests: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
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


def assert_stored_latencies(point: Any) -> None:
    """An inference point keeps the latencies behind its statistics: all of them, or STORED_LATENCY_SAMPLES evenly spaced."""
    from runners.stats import STORED_LATENCY_SAMPLES

    samples, lat = point.latency_samples(), point.latency_ms
    assert samples is not None and len(samples) == min(point.sample_count, STORED_LATENCY_SAMPLES)
    assert lat.min * (1 - 1e-3) <= min(samples) and max(samples) <= lat.max * (1 + 1e-3)  # 4 significant digits
    if len(samples) == point.sample_count:  # all of them: the same extremes and mean, to their rounding
        assert (min(samples), max(samples)) == (pytest.approx(lat.min, rel=1e-3), pytest.approx(lat.max, rel=1e-3))
        assert sum(samples) / len(samples) == pytest.approx(lat.mean, rel=1e-3)


@pytest.fixture(scope="session")
def ranked_site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The fixture site with the rankings and history fixtures, built once: (site dir, work dir)."""
    from sitepages import ROOTS

    from generator.build import build

    tmp = tmp_path_factory.mktemp("ranked")
    with contextlib.redirect_stderr(io.StringIO()):
        build(ROOTS, tmp / "site", work_dir=tmp / "build")
    return tmp / "site", tmp / "build"
