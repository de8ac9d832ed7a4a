"""Headless Chromium on the leaderboard: sorting by a column, the subjects toggle."""

import pytest
from conftest import BROWSER_MARKS, DATA, browser_page, build_site, serve

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
