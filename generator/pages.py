"""Pages: Jinja2 templates in site_templates/ turned into Markdown, every result string escaped."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from generator.aggregate import Aggregate, BenchmarkAggregate, LatencyRow, ThroughputRow, accelerator_name, setup_of
from generator.charts import Chart, group_label
from generator.errors import BuildError
from generator.export import download_name, months
from generator.features import feature_support
from generator.formats import MISSING, duration, exact_seconds, latency_marks, num, pct, si, summary_marks
from generator.formats import scaling as scaling_text
from generator.results import LoadedResult
from generator.settings import Settings, load_settings
from runners.schema import Problem, Result, write_atomic
from runners.suites import Benchmark, find_named_suite

TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "site_templates"
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|>])")  # python-markdown's ESCAPED_CHARS
_UNSAFE_IN_TITLE = re.compile(r"[<>&\"'`]")
DATA_PAGE_ROWS = 100  # newest runs listed on the data page; every run is in the downloads
NAV_FOLDER_MAX = 30  # a folder with more pages is one index page in the nav (every page carries the nav)


@dataclass(frozen=True)
class Page:
    """One generated Markdown page."""

    path: str  # relative to the docs folder
    title: str
    markdown: str


# --- filters -------------------------------------------------------------------


def utc(value: datetime | None) -> str:
    """Format a timestamp as 'YYYY-MM-DD HH:MM UTC'."""
    return MISSING if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def safe_title(text: str) -> str:
    """Drop characters that could turn a title into markup (nav, <title>, table of contents)."""
    return _UNSAFE_IN_TITLE.sub("", text).strip() or "untitled"


def heading(text: str) -> Markup:
    """Make text safe for a Markdown heading: no markup characters, Markdown syntax escaped."""
    return Markup(_MARKDOWN_SPECIAL.sub(r"\\\1", safe_title(text)))  # noqa: S704 - markup characters removed


def mdtext(text: str) -> Markup:
    """HTML-escape text and backslash-escape Markdown syntax, for text outside HTML blocks."""
    return Markup(_MARKDOWN_SPECIAL.sub(r"\\\1", str(escape(text))))  # noqa: S704 - HTML-escaped first


def first_line(text: str | None, limit: int = 200) -> str:
    """Return the first non-empty line of a text, shortened to ``limit`` characters."""
    line = next((ln.strip() for ln in (text or "").splitlines() if ln.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def build_time() -> datetime:
    """Return when this build ran: SOURCE_DATE_EPOCH if set (reproducible builds), else now, in UTC."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    return datetime.fromtimestamp(int(epoch), UTC) if epoch.isdigit() else datetime.now(UTC)


def cell(value: Any) -> Markup:
    """Make any value safe inside a Markdown pipe-table cell: HTML-escaped, Markdown syntax (and pipes) escaped."""
    return mdtext(str(value))


def accelerator_label(result: Result) -> str:
    """Name a run's accelerators with their count, e.g. '8x NVIDIA A100-SXM4-80GB'."""
    return f"{result.environment.launch.world_size}x {accelerator_name(result)}"


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


def source_label(loaded: LoadedResult) -> str:
    """A short label for a result file link: its run's mode and the random suffix of its id."""
    return f"{loaded.result.run.mode.value} {loaded.result.run.id.rsplit('-', 1)[-1]}"


# --- environment ---------------------------------------------------------------


MARK_TITLES = {
    "1 run": "from a single run: its spread over repeats is unknown",
    "noisy": "the spread is above the site's threshold (trust in generator/site_settings.yaml)",
    "few samples": "a percentile with fewer than 5 samples beyond it",
}


def environment(
    links: dict[str, str], settings: Settings | None = None, data_root: str = "data/", bytecode_dir: Path | None = None
) -> jinja2.Environment:
    """Return the strict, autoescaping template environment.

    ``links`` maps result paths to their source links: a full URL, or a path relative to the site's root;
    ``data_root`` is where the downloads are, relative to the site's root (``../data/`` beside mike's versions);
    ``bytecode_dir`` keeps the compiled templates between builds (compiling them is seconds of every rebuild).
    """
    trust = (settings or load_settings()).trust
    if bytecode_dir:
        bytecode_dir.mkdir(parents=True, exist_ok=True)
    env = jinja2.Environment(
        bytecode_cache=jinja2.FileSystemBytecodeCache(str(bytecode_dir)) if bytecode_dir else None,
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        undefined=jinja2.StrictUndefined,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        num=num,
        si=si,
        pct=pct,
        utc=utc,
        heading=heading,
        mdtext=mdtext,
        cell=cell,
        duration=duration,
        exact_seconds=exact_seconds,
        first_line=first_line,
        source_label=source_label,
        safe_title=safe_title,
        accelerator_label=accelerator_label,
    )

    @jinja2.pass_context
    def source_href(context: Any, loaded: LoadedResult) -> str:
        href = links[str(loaded.path)]
        return href if "://" in href else context["root"] + href

    @jinja2.pass_context
    def data_href(context: Any, name: str) -> str:
        return context["root"] + data_root + name

    def runs_marks(summary: Any) -> list[str]:
        return summary_marks(summary, trust.max_cv)

    def point_marks(row: LatencyRow, runs: int) -> list[str]:
        return latency_marks(runs, row.point.latency_ms, row.point.low_sample_percentiles, trust.max_latency_cv)

    def scaling_of(row: ThroughputRow) -> str:
        return scaling_text(row.scaling, row.scaling_kind, row.setup.devices, row.setup.unit)

    env.globals["source_href"] = source_href
    env.globals["data_href"] = data_href
    env.globals.update(runs_marks=runs_marks, point_marks=point_marks, scaling_of=scaling_of, mark_titles=MARK_TITLES, setup_of=setup_of)
    env.globals["group_label"] = group_label
    return env


def _render(env: jinja2.Environment, template: str, path: str, **context: Any) -> str:
    root = "../" * path.count("/")
    try:
        return env.get_template(template).render(root=root, **context)
    except jinja2.TemplateError as exc:
        where = f"{exc.filename}:{exc.lineno}" if isinstance(exc, jinja2.TemplateSyntaxError) else template
        raise BuildError(f"template {where}: {exc.message}") from None


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


# --- page kinds ----------------------------------------------------------------


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

    def title(self, bench: BenchmarkAggregate) -> str:
        """Return the title of a benchmark's page."""
        return model_title(bench, suite_benchmark(bench))

    def render(self, template: str, path: str, **context: Any) -> str:
        """Render one template for the page at ``path`` (relative to the docs folder)."""
        return _render(self.env, template, path, **context)


PageKind = Callable[[SiteContext], list[Page]]
PAGE_KINDS: dict[str, PageKind] = {}


def page_kind(name: str) -> Callable[[PageKind], PageKind]:
    """Register a function that turns the aggregate into pages; kinds render in registration order."""

    def register(func: PageKind) -> PageKind:
        PAGE_KINDS[name] = func
        return func

    return register


SHIPPED_RESULTS = Path(__file__).resolve().parents[1] / "results"  # the example runs committed with benchsite


def shipped_examples(runs: list[LoadedResult]) -> int:
    """How many of ``runs`` are the examples in benchsite's own results/ folder."""
    folders: dict[Path, bool] = {}  # a result file is never a link (see results.unsafe_entry_problem): resolve its folder once
    for r in runs:
        if r.path.parent not in folders:
            folders[r.path.parent] = r.path.parent.resolve().is_relative_to(SHIPPED_RESULTS)
    return sum(1 for r in runs if folders[r.path.parent])


@page_kind("home")
def home_page(site: SiteContext) -> list[Page]:
    """Render index.md: latest run, status counts, failed runs, hosts and links to the models."""
    titles = {b.slug: site.title(b) for b in site.agg.benchmarks}
    shipped = shipped_examples(site.agg.runs)
    return [Page("index.md", "Home", site.render("home.md.j2", "index.md", agg=site.agg, titles=titles, shipped=shipped))]


def tabs(rows: list[Any], key: Callable[[Any], str] | None = None) -> list[tuple[str, list[Any]]]:
    """Group rows (each with a .setup, or a (bench, row) pair) into content tabs, by default per accelerator and precision."""
    groups: dict[str, list[Any]] = {}
    for item in rows:
        row = item[1] if isinstance(item, tuple) else item
        groups.setdefault(key(row) if key else row.setup.tab, []).append(item)
    return sorted(groups.items())


@page_kind("performance")
def performance_page(site: SiteContext) -> list[Page]:
    """Render performance.md: training and inference tables of every model, one content tab per accelerator and precision."""
    benches = site.agg.benchmarks
    titles = {b.slug: site.title(b) for b in benches}
    context = {
        "titles": titles,
        "convergence": tabs([(b, row) for b in benches for row in b.convergence]),
        "throughput": tabs([(b, row) for b in benches for row in (b.throughput or b.convergence_throughput)]),
        "inference": tabs([(b, table) for b in benches for table in b.inference]),
    }
    return [Page("performance.md", "Performance", site.render("performance.md.j2", "performance.md", **context))]


def precisions_measured(bench: BenchmarkAggregate) -> dict[str, list[str]]:
    """The precisions a model's successful runs contain, per kind of run ('training', 'inference')."""
    found: dict[str, set[str]] = {}
    for row in [*bench.convergence, *bench.throughput]:
        found.setdefault("training", set()).add(row.setup.precision)
    for table in bench.inference:
        found.setdefault("inference", set()).add(table.setup.precision)
    return {kind: sorted(names) for kind, names in found.items()}


@page_kind("models")
def model_pages(site: SiteContext) -> list[Page]:
    """Render models/<benchmark>.md for every benchmark."""
    pages = []
    for bench in site.agg.benchmarks:
        path, title = f"models/{bench.slug}.md", site.title(bench)
        spec = suite_benchmark(bench)
        context = {
            "bench": bench,
            "spec": spec,
            "title": title,
            "charts": site.charts[bench.slug],
            "features": feature_support(bench.runs, [*spec.precisions, *(spec.inference_precisions or [])] if spec else []),
            "precisions": precisions_measured(bench),
            "training_tabs": tabs(bench.throughput or bench.convergence_throughput, key=lambda row: group_label(row.setup.comparable)),
        }
        pages.append(Page(path, safe_title(title), site.render("model.md.j2", path, **context)))
    return pages


@page_kind("data")
def data_page(site: SiteContext) -> list[Page]:
    """Render data.md: every result file, the skipped ones and the JSON Schema."""
    problems = [Problem(relative_to_results(p.path, site.results_roots), p.field, p.message) for p in site.problems]
    context = {"agg": site.agg, "problems": problems, "limit": DATA_PAGE_ROWS, "months": months(site.agg.runs)}
    context["download_name"] = download_name
    return [Page("data.md", "Data", site.render("data.md.j2", "data.md", **context))]


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
    cache_file: Path | None = None,
) -> list[Page]:
    """Render the pages of every registered page kind; paths on pages are relative to ``results_roots``.

    ``cache_file`` keeps the Markdown of the pages that key what they show (history pages) between builds."""
    settings = settings or load_settings()
    env = environment(links, settings, data_root, bytecode_dir)
    kept = PageCache(cache_file) if cache_file else None
    site = SiteContext(env, agg, charts, problems, settings, build_time(), history, results_roots or [], kept, links, data_root)
    pages = [page for kind in PAGE_KINDS.values() for page in kind(site)]
    if kept:
        kept.save()
    return pages + folder_indexes(pages)


class PageCache:
    """Rendered Markdown of pages by a key of everything they show, kept between builds under the build folder:
    a new run re-renders the history pages of its own series, not the hundreds of others."""

    def __init__(self, path: Path) -> None:
        from generator.build import _code_digest

        self.path, self.code = path, _code_digest()
        self.fresh: dict[str, list[str]] = {}
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
            self.saved = saved if isinstance(saved, dict) else {}
        except (OSError, ValueError):
            self.saved = {}

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
            write_atomic(self.path, json.dumps(self.fresh))


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
    indexes = []
    for folder in sorted(large_folders(pages)):
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


# Page kinds defined in their own modules register themselves on import, after the ones above.
from generator import leaderboard, rankings  # noqa: E402, F401

# isort: split
from generator import history_pages  # noqa: E402, F401
