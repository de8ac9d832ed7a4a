"""End to end: a real tiny run, its files validate, the site builds with real mkdocs and shows their numbers."""

from __future__ import annotations

import html
import subprocess
from pathlib import Path

import pytest
from conftest import benchsite

from runners.schema import Mode

pytestmark = pytest.mark.slow


def _fmt_in(text: str, value: float) -> bool:
    """Whether a number appears in the page at any of the precisions the tables use."""
    return any(f"{value:.{digits}f}".rstrip("0").rstrip(".") in text for digits in (1, 2, 3))


@pytest.fixture(scope="module")
def built_site(tiny_run, tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        benchsite("build", "--strict", "--results", str(tiny_run.results_dir), "--site-dir", str(site)),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == str(site / "index.html")
    return site


def test_fresh_run_validates(tiny_run):
    proc = subprocess.run(benchsite("validate", str(tiny_run.results_dir)), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "2 valid, 0 invalid" in proc.stdout


def test_model_page_shows_the_measured_time_to_target_and_latencies(tiny_run, built_site: Path):
    page = html.unescape((built_site / "models" / "digits-test-resnet.html").read_text())
    ttt = tiny_run.by_mode[Mode.convergence].training.time_to_target.time_to_target_s
    assert _fmt_in(page, ttt), f"time to target {ttt} not on the page"
    for point in tiny_run.by_mode[Mode.inference].inference.results:
        for value in (point.latency_ms.mean, point.latency_ms.p50, point.latency_ms.p99):
            assert _fmt_in(page, value), f"latency {value} (batch {point.batch_size}) not on the page"
    for path in tiny_run.files:
        assert path.name in page  # every row links to its YAML file


def test_home_page_lists_the_runs(tiny_run, built_site: Path):
    page = html.unescape((built_site / "index.html").read_text())
    assert "digits-test-resnet" in page or "TestResNet" in page
    assert "success" in page
