"""The base of every page kind: Page, SiteContext, the page-kind and ranking decorators, the strict template environment."""

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
from generator.formats import MISSING, duration, exact_seconds, latency_marks, num, pct, si, summary_marks
from generator.formats import scaling as scaling_text
from generator.results import LoadedResult
from generator.settings import Settings, load_settings
from runners.schema import Problem, Result
from runners.suites import Benchmark, find_named_suite

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "site_templates"
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|>])")  # python-markdown's ESCAPED_CHARS
_UNSAFE_IN_TITLE = re.compile(r"[<>&\"'`]")


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
    overlays: dict[Path, jinja2.Environment] = field(default_factory=dict, repr=False, compare=False)  # see render()

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
        return _render(env, template, path, **context)


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

    ``code`` identifies the code that renders them (generator.build's digest of the generator and templates)."""

    def __init__(self, path: Path, code: str) -> None:
        self.path, self.code = path, code
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
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(self.fresh), encoding="utf-8")
            tmp.replace(self.path)
