"""Every page of a built site loads in headless Chromium with no console errors and no request outside the site."""

import pytest
from conftest import BROWSER_MARKS, DATA, browser_page, build_site, serve

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def served_site(tmp_path_factory):
    """Build the fixture site and serve it on 127.0.0.1 at a random port; yield (base URL, site dir)."""
    site = build_site([DATA / "valid", DATA / "site"], tmp_path_factory.mktemp("browser"))
    with serve(site) as base:
        yield base, site


def test_every_page_loads_without_errors_or_outside_requests(served_site):
    base, site = served_site
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html"))
    assert {"index.html", "performance.html", "data.html", "models/digits-resnet10t.html"} <= set(pages)
    with browser_page(base) as (page, _, requests):
        for name in pages:
            response = page.goto(f"{base}/{name}", wait_until="networkidle")
            assert response is not None and response.ok, name
            assert page.title(), name
        # Each chart becomes interactive as it scrolls into view (its SVG stays without JavaScript: test_browser_charts.py).
        page.goto(f"{base}/models/digits-resnet10t.html", wait_until="networkidle")
        charts = page.locator("figure.benchsite-chart")
        assert charts.count() >= 4
        for i in range(charts.count()):
            charts.nth(i).scroll_into_view_if_needed()
            page.wait_for_function("figure => figure.classList.contains('benchsite-live-ready')", arg=charts.nth(i).element_handle())
        # The content tabs work without any script of ours: clicking a label shows its table.
        page.goto(f"{base}/performance.html", wait_until="networkidle")
        labels = page.locator(".tabbed-labels label")
        assert labels.count() >= 2
        labels.nth(1).click()
        assert page.locator(".tabbed-block table").nth(1).is_visible()
    assert any(u.endswith(".vl.js") for u in requests)  # the charts' specs came from the site itself
