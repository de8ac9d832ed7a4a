"""The home page: latest run, status counts, failed runs, hosts and links to the models."""

from __future__ import annotations

import os
from pathlib import Path

from generator.pages.base import Page, SiteContext, page_kind
from generator.results import LoadedResult

SHIPPED_RESULTS = Path(__file__).resolve().parents[2] / "results"  # the example runs committed with benchsite


def shipped_examples(runs: list[LoadedResult]) -> int:
    """How many of ``runs`` are the examples in benchsite's own results/ folder."""
    folders: dict[str, bool] = {}  # a result file is never a link (see results.unsafe_entry_problem): resolve its folder once
    shipped = 0
    for r in runs:
        folder = r.file[: r.file.rfind(os.sep) + 1]  # as os.path.dirname(), ending in its separator, at C speed
        if (mine := folders.get(folder)) is None:
            mine = folders[folder] = Path(folder).resolve().is_relative_to(SHIPPED_RESULTS)
        shipped += mine
    return shipped


@page_kind("home")
def home_page(site: SiteContext) -> list[Page]:
    """Render index.md: latest run, status counts, failed runs, hosts and links to the models."""
    titles = {b.slug: site.title(b) for b in site.agg.benchmarks}
    shipped = shipped_examples(site.agg.runs)
    return [Page("index.md", "Home", site.render("home.md.j2", "index.md", agg=site.agg, titles=titles, shipped=shipped))]
