"""Headless Chromium on a site published twice with mike: the version selector lists both."""

import contextlib
import io
import subprocess
import tarfile
from pathlib import Path

from conftest import BROWSER_MARKS, DATA, browser_page, serve

from generator.ops.publish import publish

pytestmark = BROWSER_MARKS


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
