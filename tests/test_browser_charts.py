"""Interactive charts in headless Chromium: Vega-Embed from the site itself draws each chart's spec over its SVG."""

import pytest
from conftest import BROWSER_MARKS, CHROMIUM, CHROMIUM_ARGS, DATA, browser_page, build_site, serve

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def history_site(tmp_path_factory):
    """The history fixtures (a planted regression) beside the CPU results; yield (base URL, the planted series' page)."""
    site = build_site([DATA / "valid", DATA / "history"], tmp_path_factory.mktemp("charts"))
    planted = next(p for p in (site / "history").glob("*.html") if "1x NVIDIA A100" in p.read_text(encoding="utf-8"))
    with serve(site) as base:
        yield base, planted.relative_to(site).as_posix()


def axis_labels(figure) -> list[str]:
    return figure.locator(".benchsite-live svg .role-axis-label text").evaluate_all("els => els.map(e => e.textContent)")


def test_hover_shows_the_run_zoom_moves_the_time_axis_and_a_click_opens_the_runs_row(history_site):
    base, planted = history_site
    with browser_page(base) as (page, _, requests):
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(f"{base}/{planted}", wait_until="networkidle")
        figure = page.locator("figure.benchsite-chart").first
        figure.scroll_into_view_if_needed()
        page.wait_for_selector("figure.benchsite-live-ready")
        assert not figure.locator("img").is_visible()  # the live chart took the SVG's place
        points = figure.locator(".benchsite-live svg .mark-symbol path")
        assert points.count() == 40  # one per night of the series
        box = points.nth(39).bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        tooltip = page.locator("#vg-tooltip-element")
        tooltip.wait_for(state="visible")
        text = tooltip.inner_text()
        assert "hist-planted-39" in text and "2026-10-10 02:00 UTC" in text and "pytorch 2.15.0, driver 550.54.15" in text
        before = axis_labels(figure)
        page.mouse.wheel(0, -400)
        first_tick = "first => document.querySelector('.benchsite-live svg .role-axis-label text').textContent !== first"
        page.wait_for_function(first_tick, arg=before[0])
        assert axis_labels(figure) != before  # the time axis zoomed in
        box = points.nth(37).bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.wait_for_url("**#*hist-planted-37")
        assert page.locator("tr[id$='-hist-planted-37']").first.is_visible()
    assert any(u.endswith("/assets/vega/vega-embed.min.js") for u in requests)  # Vega-Embed served by the site itself
    assert any(u.endswith(".vl.js") for u in requests)


def test_without_javascript_the_prerendered_svg_shows(history_site):
    sync_api = pytest.importorskip("playwright.sync_api")
    base, planted = history_site
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(java_script_enabled=False).new_page()
            page.goto(f"{base}/{planted}", wait_until="networkidle")
            image = page.locator("figure.benchsite-chart img").first
            image.scroll_into_view_if_needed()
            page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
            assert image.is_visible() and page.locator(".benchsite-live").count() == 0
        finally:
            browser.close()
