"""History pages: one page per benchmark x configuration, a chart and a bounded table per metric."""

from __future__ import annotations

import functools
import hashlib

from generator.charts import Chart
from generator.history import History, HistoryPage
from generator.pages.base import Page, SiteContext, page_kind
from generator.pages.templates import safe_title
from generator.results import LoadedResult


def history_of(site: SiteContext) -> History:
    """The history the build computed, else an empty one."""
    return site.history if site.history is not None else History([])


@page_kind("history")
def history_pages(site: SiteContext) -> list[Page]:
    """Render history/<benchmark>-<configuration>.md: a chart and a bounded table per metric."""
    pages = []
    charts = site.charts.get("history/", {})
    for page in history_of(site).pages:
        title = f"{site.title(page.bench)} · {page.config}"
        context = {"page": page, "title": title, "charts": charts, "settings": site.settings.history}
        text = functools.partial(site.render, "history.md.j2", page.path, **context)
        if site.kept:
            text = functools.partial(site.kept.page, page.path, _page_inputs(site, page, title, charts), text)
        pages.append(Page(page.path, safe_title(title), text()))
    return pages


def _page_inputs(site: SiteContext, page: HistoryPage, title: str, charts: dict[str, Chart]) -> tuple | None:
    """Everything a history page shows comes from: its series' runs (file, name, size and mtime, link, system),
    their charts, the settings and where the site links to; the series themselves are computed from these by the
    code, which the page cache keys too. None (no caching) when a run's file was not stamped."""
    series = []
    systems, named = site.systems, {}
    lines: dict[LoadedResult, str] = {}  # each run of the page once: its series are mostly the metrics of the same runs
    for mine in page.series:
        for point in mine.points:
            for r in point.runs:
                if r in lines:
                    continue
                if (line := site.run_line(r)) is None:
                    return None
                system = systems.system_of(r) if systems else None
                if (name := named.get(system)) is None:  # a title may hold anything
                    name = named[system] = repr((system.slug, system.title) if system else None)
                lines[r] = f"{line}\0{name}\n"  # 100,000 at 100,000 results
        chart = charts.get(mine.key)
        drawn = (chart.path, chart.alt, chart.caption, chart.drawn) if chart else None
        metric = (mine.metric.name, mine.metric.unit, mine.metric.higher_is_better)  # its reader is code
        series.append((mine.key, mine.config, metric, len(mine.points), drawn))
    runs = hashlib.sha256("".join(lines.values()).encode()).hexdigest()
    return (page.path, page.bench.name, page.config, title, repr(site.settings), site.where, runs, series)
