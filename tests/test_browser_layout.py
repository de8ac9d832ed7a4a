"""At 1280x900 every table of every page kind shows its columns, the ranking/primary one included, without a horizontal scroll."""

import pytest
from conftest import BROWSER_MARKS, DATA, browser_page, build_site, serve

pytestmark = BROWSER_MARKS

VIEWPORT = {"width": 1280, "height": 900}
# The ranking or headline column of each kind of table; every table must show every header, these among them.
RANKING_COLUMNS = {
    "leaderboard.html": "Primary result",
    "rankings/valid-flops.html": "VFLOPS",
    "rankings/time-to-quality.html": "Time to quality",
    "rankings/inference.html": "Latency mean",
    "rankings/devices.html": "VIPS",
    "performance.html": "p99 (ms)",
    "models/imagenet-resnet50.html": "p99 (ms)",
    "regressions.html": "Status",
}

# For each visible table in the article: the headers that lie outside the viewport or the visible part of the table's
# scroll wrapper, and whether that wrapper would scroll sideways.
OVERFLOW = """(limit) => [...document.querySelectorAll("article table")].filter(t => t.offsetWidth > 0).map(t => {
  const wrap = t.closest(".md-typeset__scrollwrap") || t.parentElement;
  const box = wrap.getBoundingClientRect();
  const right = Math.min(box.right, limit) + 1, left = box.left - 1;
  const headers = [...t.querySelectorAll("th")].map(th => [th.textContent.trim(), th.getBoundingClientRect()]);
  return {
    headers: headers.map(([text]) => text),
    hidden: headers.filter(([, r]) => r.right > right || r.left < left).map(([text]) => text),
    scrolls: wrap.scrollWidth > wrap.clientWidth + 1,
  };
})"""


@pytest.fixture(scope="module")
def layout_site(tmp_path_factory):
    """Every page kind: models, performance, leaderboard, rankings, history and regressions, data and home."""
    site = build_site([DATA / "valid", DATA / "site", DATA / "ranked", DATA / "history"], tmp_path_factory.mktemp("layout"))
    with serve(site) as base:
        yield base, site


def tables_in_every_state(page) -> list[dict]:
    """Measure the tables as the page opens, then with each content tab chosen and each subjects toggle open."""
    measured = page.evaluate(OVERFLOW, VIEWPORT["width"])
    labels = page.locator(".tabbed-labels > label")
    for i in range(labels.count()):
        labels.nth(i).click()
        measured += page.evaluate(OVERFLOW, VIEWPORT["width"])
    toggles = page.locator("button.benchsite-subjects-toggle")
    for i in range(toggles.count()):
        toggles.nth(i).click()
    if toggles.count():
        measured += page.evaluate(OVERFLOW, VIEWPORT["width"])
    return measured


def test_every_table_shows_its_ranking_column_at_1280_without_scrolling_sideways(layout_site):
    base, site = layout_site
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html") if p.name != "404.html")
    kinds = {name.split("/")[0] if "/" in name else name for name in pages}
    assert {"index.html", "performance.html", "leaderboard.html", "data.html", "regressions.html", "models", "rankings", "history"} <= kinds
    seen: dict[str, list[str]] = {}
    with browser_page(base) as (page, _, _):
        page.set_viewport_size(VIEWPORT)
        for name in pages:
            page.goto(f"{base}/{name}", wait_until="networkidle")
            for table in tables_in_every_state(page):
                assert not table["hidden"] and not table["scrolls"], (name, table)
                seen.setdefault(name, []).extend(table["headers"])
    for name, column in RANKING_COLUMNS.items():
        assert any(h.startswith(column) for h in seen[name]), (name, column)  # the ranking columns were among those measured
