"""The strict, autoescaping template environment of the pages: site_templates/, its filters and globals."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from generator import energy
from generator.aggregate import LatencyRow, ThroughputRow
from generator.charts import group_label
from generator.errors import BuildError
from generator.facts import accelerator_name, setup_of
from generator.formats import MISSING, duration, exact_seconds, latency_marks, num, pct, si, summary_marks
from generator.formats import scaling as scaling_text
from generator.results import LoadedResult
from generator.settings import Settings, load_settings
from generator.systems import accelerator_groups
from runners.schema import Result

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "site_templates"
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|>])")  # python-markdown's ESCAPED_CHARS
_UNSAFE_IN_TITLE = re.compile(r"[<>&\"'`]")


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


def cell(value: Any) -> Markup:
    """Make any value safe inside a Markdown pipe-table cell: HTML-escaped, Markdown syntax (and pipes) escaped."""
    return mdtext(str(value))


def accelerator_label(result: Result) -> str:
    """Name a run's accelerators with their count, e.g. '8x NVIDIA A100-SXM4-80GB'."""
    return f"{result.environment.launch.world_size}x {accelerator_name(result)}"


def source_label(loaded: LoadedResult) -> str:
    """A short label for a result file link: its run's mode and the random suffix of its id."""
    return f"{loaded.facts.mode.value} {loaded.facts.id.rsplit('-', 1)[-1]}"


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
        href = links[loaded.file]
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
    env.globals["systems_of"] = lambda runs: []  # render_pages sets the site's generator.systems.Systems.of
    env.globals["accelerator_groups"] = accelerator_groups
    env.globals.update(
        average_power=energy.average_power,
        training_energy=energy.training_energy_per_sample,
        energy_to_train=energy.energy_to_train,
        inference_energy=energy.inference_energy_per_sample,
    )
    return env


def render(env: jinja2.Environment, template: str, path: str, **context: Any) -> str:
    """Render a template for the page at ``path``; ``root`` leads from it back to the site's root."""
    root = "../" * path.count("/")
    try:
        return env.get_template(template).render(root=root, **context)
    except jinja2.TemplateError as exc:
        where = f"{exc.filename}:{exc.lineno}" if isinstance(exc, jinja2.TemplateSyntaxError) else template
        raise BuildError(f"template {where}: {exc.message}") from None
