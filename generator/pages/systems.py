"""The system pages: an index of every machine fingerprint and a page each under systems/, like MLPerf's system descriptions."""

from __future__ import annotations

from generator.pages.base import Page, SiteContext, page_kind
from generator.pages.templates import safe_title
from generator.systems import Systems


@page_kind("systems")
def system_pages(site: SiteContext) -> list[Page]:
    """Render systems/index.md (every system) and systems/<slug>.md (its facts and latest results) for every system."""
    systems = site.systems or Systems(site.agg.runs)
    slugs = {b.name: b.slug for b in site.agg.benchmarks}
    titles = {b.slug: site.title(b) for b in site.agg.benchmarks}
    pages = [Page("systems/index.md", "All systems", site.render("systems.md.j2", "systems/index.md", systems=systems.systems))]
    for system in systems.systems:
        path = f"systems/{system.slug}.md"
        text = site.render("system.md.j2", path, system=system, slugs=slugs, titles=titles)
        pages.append(Page(path, safe_title(system.title), text))
    return pages
