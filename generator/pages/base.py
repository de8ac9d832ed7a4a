"""The base of every page kind and ranking: Page, SiteContext, the page_kind and ranking decorators, the suites they describe."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from generator.aggregate import Aggregate, BenchmarkAggregate
from generator.cache import read_pickle, write_pickle
from generator.charts import Chart
from generator.pages import templates
from generator.settings import Settings, load_settings
from runners.schema import Problem
from runners.suites import Benchmark, find_named_suite


@dataclass(frozen=True)
class Page:
    """One generated Markdown page."""

    path: str  # relative to the docs folder
    title: str
    markdown: str


def build_time() -> datetime:
    """Return when this build ran: SOURCE_DATE_EPOCH if set (reproducible builds), else now, in UTC."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    return datetime.fromtimestamp(int(epoch), UTC) if epoch.isdigit() else datetime.now(UTC)


# --- suites --------------------------------------------------------------------


SUITES_ENV = "BENCHSITE_SUITES"  # extra folders of suite YAML, os.pathsep-separated, besides the shipped ones


@cache
def _suite_benchmarks(suite: str) -> dict[str, Benchmark]:
    folders = tuple(Path(p) for p in os.environ.get(SUITES_ENV, "").split(os.pathsep) if p)
    found = find_named_suite(suite, folders)
    return {b.name: b for b in found.benchmarks} if found else {}


def suite_benchmark(bench: BenchmarkAggregate) -> Benchmark | None:
    """Return the suite's definition of a benchmark, or None when its suite is not found."""
    return _suite_benchmarks(bench.suite).get(bench.name)


def model_title(bench: BenchmarkAggregate, spec: Benchmark | None) -> str:
    """Name a model page: the suite's title, else the model name(s) the runs report."""
    return spec.title if spec else ", ".join(bench.models)


# --- what page kinds and rankings draw on ----------------------------------------


@dataclass(frozen=True)
class SiteContext:
    """What every page kind may draw on."""

    env: jinja2.Environment
    agg: Aggregate
    charts: dict[str, dict[str, Chart]]
    problems: list[Problem]
    settings: Settings = field(default_factory=load_settings)
    generated_utc: datetime = field(default_factory=build_time)
    history: Any = None  # generator.history.History, when the build computed one
    results_roots: list[Path] = field(default_factory=list)  # the folders (or files) the results were read from
    kept: PageCache | None = None  # pages as the last build rendered them (history pages, by what they show)
    links: dict[str, str] = field(default_factory=dict)
    data_root: str = "data/"
    systems: Any = None  # generator.systems.Systems of the site's runs, when render_pages computed them
    overlays: dict[Path, jinja2.Environment] = field(default_factory=dict, repr=False, compare=False)  # see render()

    def run_line(self, loaded: Any) -> str | None:
        """A run as a page cache key sees it: file, name, size and mtime, link, NUL-separated (file names and links
        hold no NUL); None when its file was not stamped (then the page is not cached)."""
        if loaded.stamp is None:
            return None
        return f"{loaded.file}\0{loaded.source}\0{loaded.stamp}\0{self.links.get(loaded.file)}"

    @property
    def where(self) -> tuple[str, list[str]]:
        """Where the site links to, for a page cache key: the data folder and the results roots."""
        return self.data_root, [str(root) for root in self.results_roots]

    def title(self, bench: BenchmarkAggregate) -> str:
        """Return the title of a benchmark's page."""
        return model_title(bench, suite_benchmark(bench))

    def render(self, template: str, path: str, *, template_dir: Path | None = None, **context: Any) -> str:
        """Render one template for the page at ``path`` (relative to the docs folder).

        ``template_dir`` is an extension's own folder of templates, searched before site_templates/."""
        env = self.env
        if template_dir is not None:
            if template_dir not in self.overlays:  # the same filters, globals and settings
                loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader(template_dir), self.env.loader])
                self.overlays[template_dir] = self.env.overlay(loader=loader)
            env = self.overlays[template_dir]
        return templates.render(env, template, path, **context)


@dataclass(frozen=True)
class PageKind:
    """A named function that turns the aggregate into pages; the order of the kinds in the site's list sets the nav."""

    name: str
    render: Callable[[SiteContext], list[Page]]

    def __call__(self, site: SiteContext) -> list[Page]:
        return self.render(site)


def page_kind(name: str) -> Callable[[Callable[[SiteContext], list[Page]]], PageKind]:
    """Make a function a page kind named ``name``; it renders once it is listed (generator.pages.site.PAGE_KINDS or
    an entry point in the group ``benchsite.pages``): nothing registers itself on import."""
    return lambda func: PageKind(name, func)


@dataclass(frozen=True)
class Ranking:
    """One page under rankings/: its file name, title and template, and the function that computes what it shows."""

    slug: str  # rankings/<slug>.md
    title: str
    template: str
    context: Callable[[SiteContext], dict[str, Any]]  # the template's variables besides ``titles`` (benchmark slug -> title)
    template_dir: Path | None = None  # an extension's folder holding the template; None: site_templates/


def ranking(slug: str, title: str, template: str, template_dir: Path | None = None) -> Callable[[Callable[..., dict]], Ranking]:
    """Make a function of the site a ranking; it renders once it is listed (generator.pages.rankings.RANKINGS or an
    entry point in the group ``benchsite.rankings``)."""
    return lambda func: Ranking(slug, title, template, func, template_dir)


def tabs(rows: list[Any], key: Callable[[Any], str] | None = None) -> list[tuple[str, list[Any]]]:
    """Group rows (each with a .setup, or a (bench, row) pair) into content tabs, by default per accelerator and precision."""
    groups: dict[str, list[Any]] = {}
    for item in rows:
        row = item[1] if isinstance(item, tuple) else item
        groups.setdefault(key(row) if key else row.setup.tab, []).append(item)
    return sorted(groups.items())


class PageCache:
    """Rendered Markdown of pages by a key of everything they show, kept between builds under the build folder:
    a new run re-renders the history pages of its own series, not the hundreds of others.

    ``code`` identifies the code that renders them (generator.build's digest of the generator and templates).
    Kept as a pickle: at 100k results the pages are 35 MB of Markdown, which JSON read and wrote in 0.8 s of a
    rebuild, a pickle in 0.3 s."""

    def __init__(self, path: Path, code: str) -> None:
        self.path, self.code = path, code
        self.fresh: dict[str, list[str]] = {}
        saved = read_pickle(path)
        self.saved = saved if isinstance(saved, dict) else {}

    def page(self, path: str, inputs: Any, render: Callable[[], str]) -> str:
        """Return the page's Markdown: as kept, if it was rendered from the same inputs (their repr), else render()."""
        if inputs is None:
            return render()
        key = hashlib.sha256((self.code + "|" + repr(inputs)).encode()).hexdigest()
        entry = self.saved.get(path)
        text = entry[1] if isinstance(entry, list) and len(entry) == 2 and entry[0] == key else render()
        self.fresh[path] = [key, text]
        return text

    def save(self) -> None:
        if self.fresh != self.saved:
            write_pickle(self.path, self.fresh)
