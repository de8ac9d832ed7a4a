"""The system pages: an index of every machine fingerprint and a page each under systems/, like MLPerf's system descriptions."""

from __future__ import annotations

import functools
import hashlib

from generator.pages.base import Page, SiteContext, page_kind
from generator.pages.templates import safe_title
from generator.systems import System, Systems


@page_kind("systems")
def system_pages(site: SiteContext) -> list[Page]:
    """Render systems/index.md (every system) and systems/<slug>.md (its facts and latest results) for every system."""
    systems = site.systems or Systems(site.agg.runs)
    slugs = {b.name: b.slug for b in site.agg.benchmarks}
    titles = {b.slug: site.title(b) for b in site.agg.benchmarks}
    pages = [Page("systems/index.md", "All systems", site.render("systems.md.j2", "systems/index.md", systems=systems.systems))]
    for system in systems.systems:
        path = f"systems/{system.slug}.md"
        text = functools.partial(site.render, "system.md.j2", path, system=system, slugs=slugs, titles=titles)
        if site.kept:  # a new run changes its own system's page only
            text = functools.partial(site.kept.page, path, _page_inputs(site, system, path, slugs, titles), text)
        pages.append(Page(path, safe_title(system.title), text()))
    return pages


def _page_inputs(site: SiteContext, system: System, path: str, slugs: dict[str, str], titles: dict[str, str]) -> tuple | None:
    """Everything a system page shows comes from: the system's fingerprint and names, its runs (file, name, size and
    mtime, link), the models' slugs and titles, the settings and where the site links to; None (no caching) when a
    run's file was not stamped."""
    lines = [site.run_line(r) for r in system.runs]
    if None in lines:
        return None
    runs = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    named = (system.slug, system.title, system.short, repr(system.fingerprint))
    return (path, named, runs, sorted(slugs.items()), sorted(titles.items()), repr(site.settings), site.where)
