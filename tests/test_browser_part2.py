"""Headless Chromium on the leaderboard (sorting, subjects toggle) and on a site published twice with mike."""

import contextlib
import io
import subprocess
import tarfile
from pathlib import Path

import pytest
from conftest import BROWSER_MARKS, DATA, browser_page, build_site, serve

from generator.ops.publish import publish

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def leaderboard_site(tmp_path_factory):
    site = build_site([DATA / "valid", DATA / "ranked"], tmp_path_factory.mktemp("leaderboard"))
    with serve(site) as base:
        yield base


def column(table, index: int) -> list[float]:
    return [float(v or 0) for v in table.locator("tbody tr").evaluate_all(f"rows => rows.map(r => r.cells[{index}].dataset.sort)")]


def test_clicking_a_leaderboard_header_sorts_both_ways(leaderboard_site):
    base = leaderboard_site
    with browser_page(base) as (page, _, requests):
        page.goto(f"{base}/leaderboard.html", wait_until="networkidle")
        table = page.locator(".benchsite-leaderboard table").nth(1)  # the ImageNet mixed-precision board
        header = table.locator("th", has_text="FPS (batch")
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
        # per-class results of the digits CPU training run: the very setup of the digits CPU inference row
        rows = page.locator(".benchsite-subjects tr.benchsite-subject-row", has_text="ResNet-10-T on digits")
        button = page.locator("button.benchsite-subjects-toggle").nth(0)
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
