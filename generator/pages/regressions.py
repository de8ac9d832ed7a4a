"""The Regressions page: every detected regression, newest first (its Atom feed is written by the build)."""

from __future__ import annotations

from generator.history import FEED_PATH, REGRESSIONS_SHOWN
from generator.pages.base import Page, SiteContext, page_kind
from generator.pages.history import history_of


@page_kind("regressions")
def regressions_page(site: SiteContext) -> list[Page]:
    """Render regressions.md: every detected regression, newest first, with the run before and after."""
    found = history_of(site)
    context = {
        "history": found,
        "regressions": found.regressions[:REGRESSIONS_SHOWN],
        "total": len(found.regressions),
        "settings": site.settings.history,
        "feed": FEED_PATH,
        "titles": {b.slug: site.title(b) for b in site.agg.benchmarks},
    }
    return [Page("regressions.md", "Regressions", site.render("regressions.md.j2", "regressions.md", **context))]
