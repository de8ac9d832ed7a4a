"""History and Regressions pages: one page per benchmark x configuration, a page and an Atom feed of regressions."""

from __future__ import annotations

from generator.history import FEED_PATH, REGRESSIONS_SHOWN, History
from generator.pages import Page, SiteContext, page_kind, safe_title


def _history(site: SiteContext) -> History:
    return site.history if site.history is not None else History([])


@page_kind("history")
def history_pages(site: SiteContext) -> list[Page]:
    """Render history/<benchmark>-<configuration>.md: a chart and a bounded table per metric."""
    pages = []
    charts = site.charts.get("history/", {})
    for page in _history(site).pages:
        title = f"{site.title(page.bench)} · {page.config}"
        context = {"page": page, "title": title, "charts": charts, "settings": site.settings.history}
        pages.append(Page(page.path, safe_title(title), site.render("history.md.j2", page.path, **context)))
    return pages


@page_kind("regressions")
def regressions_page(site: SiteContext) -> list[Page]:
    """Render regressions.md: every detected regression, newest first, with the run before and after."""
    found = _history(site)
    context = {
        "history": found,
        "regressions": found.regressions[:REGRESSIONS_SHOWN],
        "total": len(found.regressions),
        "settings": site.settings.history,
        "feed": FEED_PATH,
        "titles": {b.slug: site.title(b) for b in site.agg.benchmarks},
    }
    return [Page("regressions.md", "Regressions", site.render("regressions.md.j2", "regressions.md", **context))]
