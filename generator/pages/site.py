"""The site's pages: the page kinds in nav order, rendered into pages, the nav and the index pages of large folders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from markupsafe import escape

from generator.aggregate import Aggregate
from generator.charts import Chart
from generator.pages.base import Page, PageCache, PageKind, SiteContext, build_time
from generator.pages.data import data_page
from generator.pages.history import history_pages
from generator.pages.home import home_page
from generator.pages.leaderboard import leaderboard_page
from generator.pages.models import model_pages
from generator.pages.performance import performance_page
from generator.pages.rankings import ranking_pages
from generator.pages.regressions import regressions_page
from generator.pages.systems import system_pages
from generator.pages.templates import environment
from generator.plugins import with_extensions
from generator.settings import Settings, load_settings
from generator.systems import Systems
from runners.schema import Problem

# The page kinds in the order of the nav; those of other packages (entry points in "benchsite.pages") follow.
PAGE_KINDS: tuple[PageKind, ...] = (
    home_page,
    performance_page,
    model_pages,
    data_page,
    system_pages,
    leaderboard_page,
    ranking_pages,
    history_pages,
    regressions_page,
)
NAV_FOLDER_MAX = 30  # a folder with more pages is one index page in the nav (every page carries the nav)


def page_kinds() -> tuple[PageKind, ...]:
    """Every page kind in nav order: the built-in ones, then the extensions'."""
    return with_extensions(PAGE_KINDS, "benchsite.pages", "name")


def render_pages(
    agg: Aggregate,
    charts: dict[str, dict[str, Chart]],
    links: dict[str, str],
    problems: list[Problem],
    settings: Settings | None = None,
    history: Any = None,
    data_root: str = "data/",
    bytecode_dir: Path | None = None,
    results_roots: list[Path] | None = None,
    kept: PageCache | None = None,
) -> list[Page]:
    """Render the pages of every page kind; paths on pages are relative to ``results_roots``.

    ``kept`` keeps the Markdown of the pages that key what they show (history pages) between builds."""
    settings = settings or load_settings()
    env = environment(links, settings, data_root, bytecode_dir)
    systems = Systems(agg.runs)
    env.globals["systems_of"] = systems.of  # every setup label links to the system page of its runs
    site = SiteContext(env, agg, charts, problems, settings, build_time(), history, results_roots or [], kept, links, data_root, systems)
    pages = [page for kind in page_kinds() for page in kind(site)]
    if kept:
        kept.save()
    return pages + folder_indexes(pages)


def _folder_title(folder: str) -> str:
    return folder.replace("-", " ").capitalize()


def large_folders(pages: list[Page]) -> set[str]:
    """Folders with more than NAV_FOLDER_MAX pages: the nav lists their index page instead of every page."""
    counts: dict[str, int] = {}
    for page in pages:
        folder = page.path.rpartition("/")[0]
        counts[folder] = counts.get(folder, 0) + (page.path != f"{folder}/index.md")
    return {folder for folder, n in counts.items() if folder and n > NAV_FOLDER_MAX}


def folder_indexes(pages: list[Page]) -> list[Page]:
    """An index page for each large folder, linking to every page in it by title."""
    indexes, written = [], {p.path for p in pages}
    for folder in sorted(large_folders(pages)):
        if f"{folder}/index.md" in written:  # the page kind wrote its own
            continue
        mine = sorted((p for p in pages if p.path.rpartition("/")[0] == folder), key=lambda p: p.title)
        rows = "\n".join(f'<li><a href="{escape(p.path.rpartition("/")[2][:-3])}.html">{escape(p.title)}</a></li>' for p in mine)
        text = f"# {_folder_title(folder)}\n\n<p>{len(mine)} pages.</p>\n\n<ul>\n{rows}\n</ul>\n"
        indexes.append(Page(f"{folder}/index.md", _folder_title(folder), text))
    return indexes


def nav(pages: list[Page]) -> list[dict[str, Any]]:
    """Return the mkdocs nav: top-level pages in order, with the pages of each folder grouped under its name.

    A folder with more than NAV_FOLDER_MAX pages is one entry, its index page, so that no page carries
    hundreds of links in its navigation (mkdocs renders the whole nav into every page).
    """
    entries: list[dict[str, Any]] = []
    sections: dict[str, list[dict[str, str]]] = {}
    large = large_folders(pages)
    for page in pages:
        folder, _, _ = page.path.rpartition("/")
        if folder in large:
            if folder not in sections:
                sections[folder] = []
                entries.append({_folder_title(folder): f"{folder}/index.md"})
            continue
        if not folder:
            entries.append({page.title: page.path})
        elif folder not in sections:
            sections[folder] = [{page.title: page.path}]
            entries.append({folder.replace("-", " ").capitalize(): sections[folder]})
        else:
            sections[folder].append({page.title: page.path})
    return entries
