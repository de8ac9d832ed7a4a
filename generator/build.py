"""Build the site: load -> validate -> aggregate -> charts -> pages -> write -> mkdocs build."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from urllib.parse import quote, unquote

import yaml

from generator.aggregate import aggregate
from generator.charts import Chart, render_charts
from generator.errors import BuildError, InvalidResults
from generator.pages import Page, nav, render_pages
from generator.results import LoadedResult, LoadReport, load_results
from runners.schema import json_schema

ROOT = Path(__file__).resolve().parents[1]
BASE_CONFIG = ROOT / "mkdocs.yml"
DEFAULT_WORK_DIR = ROOT / "build"
PUBLISHED_RESULTS = "data/results"


def log(message: str) -> None:
    """Print one progress line of the build to stderr."""
    print(f"benchsite build: {message}", file=sys.stderr)


def build(results: Iterable[str | os.PathLike[str]], site_dir: Path, strict: bool = False, work_dir: Path | None = None) -> Path:
    """Generate the docs folder from result files, build it with mkdocs and return site_dir/index.html."""
    site_dir = Path(site_dir).resolve()
    config = generate(results, site_dir, strict=strict, work_dir=work_dir)
    mkdocs_build(config)
    index = site_dir / "index.html"
    log(f"site written to {index}")
    return index


def generate(results: Iterable[str | os.PathLike[str]], site_dir: Path, strict: bool = False, work_dir: Path | None = None) -> Path:
    """Write the docs folder and its mkdocs.yml into work_dir (default: build/); return the config path."""
    work_dir = Path(work_dir or DEFAULT_WORK_DIR).resolve()
    report = load_results(list(results))
    validate(report, strict)
    agg = aggregate(report.results)
    charts = render_charts(agg)
    links = published_paths(report.results)
    pages = render_pages(agg, charts, links, report.problems)
    files = docs_files(pages, charts, report.results, links)
    sync_tree(files, work_dir / "docs")
    log(f"wrote {len(pages)} page(s) and {sum(map(len, charts.values()))} chart(s) to {work_dir / 'docs'}")
    return write_config(work_dir, site_dir, nav(pages))


def validate(report: LoadReport, strict: bool) -> None:
    """Report every problem as 'path: field: message' on stderr; in strict mode raise InvalidResults."""
    for problem in report.problems:
        print(problem, file=sys.stderr)
    bad = report.bad_files
    log(f"loaded {report.files} result file(s): {len(report.results)} valid, {len(bad)} invalid")
    if bad and strict:
        raise InvalidResults(f"{len(report.problems)} problem(s) in {len(bad)} file(s): {', '.join(bad)}")
    if bad:
        log(f"skipped {len(bad)} invalid file(s); use --strict to fail instead")


def published_paths(results: list[LoadedResult]) -> dict[str, str]:
    """Map each result file to the URL-quoted path of its copy under data/results/, unique per file."""
    links: dict[str, str] = {}
    taken: set[str] = set()
    for loaded in results:
        parts = [p for p in PurePosixPath(loaded.source).parts if p not in ("/", "..", ".")]
        name = "/".join(parts) or "result.yaml"
        candidate, n = name, 1
        while candidate in taken:
            n += 1
            candidate = f"{n}/{name}"
        taken.add(candidate)
        links[str(loaded.path)] = quote(f"{PUBLISHED_RESULTS}/{candidate}")
    return links


def docs_files(
    pages: list[Page], charts: dict[str, dict[str, Chart]], results: list[LoadedResult], links: dict[str, str]
) -> dict[str, bytes]:
    """Return every file of the docs folder as relative path -> content."""
    files = {page.path: page.markdown.encode() for page in pages}
    files |= {chart.path: chart.svg.encode() for mine in charts.values() for chart in mine.values()}
    files |= {unquote(links[str(r.path)]): r.path.read_bytes() for r in results}
    files["data/result.schema.json"] = json.dumps(json_schema(), indent=2).encode()
    return files


def write_if_changed(path: Path, content: bytes) -> None:
    """Write a file only when its content differs, so `mkdocs serve` sees real changes only."""
    if not path.is_file() or path.read_bytes() != content:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


def sync_tree(files: dict[str, bytes], dest: Path) -> None:
    """Make dest hold exactly these files (relative path -> content), touching only changed ones."""
    for rel, content in files.items():
        write_if_changed(dest / rel, content)
    for path in sorted(dest.rglob("*"), reverse=True):
        if path.is_file() and path.relative_to(dest).as_posix() not in files:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()


def write_config(work_dir: Path, site_dir: Path, nav_entries: list[dict]) -> Path:
    """Write work_dir/mkdocs.yml: inherit the project's mkdocs.yml, add docs_dir, site_dir and nav."""
    config = {
        "INHERIT": os.path.relpath(BASE_CONFIG, work_dir),
        "docs_dir": "docs",
        "site_dir": str(site_dir),
        "nav": nav_entries,
    }
    path = work_dir / "mkdocs.yml"
    text = "# Generated by benchsite build; edit ../mkdocs.yml or site_templates/ instead.\n"
    write_if_changed(path, (text + yaml.safe_dump(config, sort_keys=False, allow_unicode=True)).encode())
    return path


def mkdocs_env() -> dict[str, str]:
    """Return the environment for mkdocs subprocesses: material's MkDocs 2 banner off (benchsite pins mkdocs<2)."""
    return {**os.environ, "NO_MKDOCS_2_WARNING": "1"}


def mkdocs_build(config: Path) -> None:
    """Run `mkdocs build --strict` on a generated config; raise BuildError with mkdocs' output if it fails."""
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-f", str(config)]
    proc = subprocess.run(command, capture_output=True, text=True, check=False, env=mkdocs_env())
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-20:])
        raise BuildError(f"mkdocs build failed (exit {proc.returncode}):\n{tail}")
