"""The data page: every result file, the skipped ones, the downloads and the JSON Schema."""

from __future__ import annotations

import os
from pathlib import Path

from generator.export import download_name, months
from generator.pages.base import Page, SiteContext, page_kind
from runners.schema import Problem

DATA_PAGE_ROWS = 100  # newest runs listed on the data page; every run is in the downloads


def relative_to_results(path: str | os.PathLike[str], roots: list[Path]) -> str:
    """Show a file's path relative to the results folder it was found in; never an absolute local path."""
    path = Path(os.path.abspath(path))
    for root in roots:
        root = Path(os.path.abspath(root))
        if path == root:
            return path.name
        if path.is_relative_to(root):
            return path.relative_to(root).as_posix()
    return path.name


@page_kind("data")
def data_page(site: SiteContext) -> list[Page]:
    """Render data.md: every result file, the skipped ones and the JSON Schema."""
    problems = [Problem(relative_to_results(p.path, site.results_roots), p.field, p.message) for p in site.problems]
    context = {"agg": site.agg, "problems": problems, "limit": DATA_PAGE_ROWS, "months": months(site.agg.runs)}
    context["download_name"] = download_name
    return [Page("data.md", "Data", site.render("data.md.j2", "data.md", **context))]
