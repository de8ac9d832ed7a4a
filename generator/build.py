"""Build the site: load -> validate -> aggregate -> charts -> pages -> write -> mkdocs build."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from urllib.parse import quote, unquote

import yaml

from generator.aggregate import aggregate
from generator.cache import Scan, load_scan, scan_results
from generator.charts import Chart, render_charts
from generator.errors import BuildError, InvalidResults
from generator.export import downloads
from generator.history import FEED_PATH, atom_feed, history
from generator.pages import TEMPLATES_DIR, Page, model_title, nav, render_pages, suite_benchmark
from generator.results import LoadedResult, LoadReport
from generator.settings import load_settings
from runners import __version__
from runners.schema import Problem, json_schema

ROOT = Path(__file__).resolve().parents[1]
BASE_CONFIG = ROOT / "mkdocs.yml"
DEFAULT_WORK_DIR = ROOT / "build"
PUBLISHED_RESULTS = "data/results"
ASSETS_DIR = TEMPLATES_DIR / "assets"  # copied into the site as assets/ (tablesort, benchsite.js, benchsite.css)


def log(message: str) -> None:
    """Print one progress line of the build to stderr."""
    print(f"benchsite build: {message}", file=sys.stderr)


def build(results: Iterable[str | os.PathLike[str]], site_dir: Path, strict: bool = False, work_dir: Path | None = None) -> Path:
    """Generate the docs folder from result files, build it with mkdocs and return site_dir/index.html."""
    site_dir = Path(site_dir).resolve()
    work_dir = Path(work_dir or DEFAULT_WORK_DIR).resolve()
    config = generate(results, site_dir, strict=strict, work_dir=work_dir)
    index = site_dir / "index.html"
    built = SiteStamp(work_dir / "cache" / "site.json", config, index)
    if built.current():
        log(f"site is up to date: {index}")
        return index
    mkdocs_build(config)
    built.record()
    log(f"site written to {index}")
    return index


class SiteStamp:
    """Which docs folder the site was last built from, so that an unchanged rebuild need not run mkdocs again."""

    def __init__(self, path: Path, config: Path, index: Path) -> None:
        self.path, self.index = path, index
        self.docs_stamp = config.parent / "cache" / "build.json"

    def _state(self) -> list:
        # build.json changes whenever the docs folder does; index.html changes (or goes) whenever anyone rebuilds the site
        docs, index = self.docs_stamp.stat(), self.index.stat()
        return [str(self.index), docs.st_mtime_ns, docs.st_size, index.st_mtime_ns, index.st_size]

    def current(self) -> bool:
        """Return True if the site was built by benchsite from the docs folder as it is now, and not touched since."""
        try:
            return json.loads(self.path.read_text(encoding="utf-8")) == self._state()
        except (OSError, ValueError):
            return False

    def record(self) -> None:
        with contextlib.suppress(OSError):
            write_if_changed(self.path, json.dumps(self._state()).encode())


def generate(
    results: Iterable[str | os.PathLike[str]],
    site_dir: Path,
    strict: bool = False,
    work_dir: Path | None = None,
    versioned: bool = False,
) -> Path:
    """Write the docs folder and its mkdocs.yml into work_dir (default: build/); return the config path.

    ``versioned`` turns on Material's mike version selector, which fetches ../versions.json: only a site
    deployed with mike has that file, so a plain build leaves the selector off.
    """
    work_dir = Path(work_dir or DEFAULT_WORK_DIR).resolve()
    results = [Path(r) for r in results]
    scan = scan_results(results)
    stamp = BuildStamp(work_dir / "cache" / "build.json", inputs_fingerprint(scan, site_dir, versioned))
    if (previous := stamp.unchanged(work_dir / "docs")) is not None:
        validate(previous, strict)
        log("nothing changed since the last build; docs folder kept")
        return work_dir / "mkdocs.yml"
    report = load_scan(scan, work_dir / "cache" / "results.pickle")
    validate(report, strict)
    settings = load_settings()
    agg = aggregate(report.results)
    nightly = history(agg, settings.history)
    charts = render_charts(agg, work_dir / "cache" / "charts", nightly)
    links = published_paths(report.results)
    pages = render_pages(agg, charts, links, report.problems, settings, nightly, results)
    files = docs_files(pages, charts, report.results, links)
    files[FEED_PATH] = atom_feed(nightly, lambda bench: model_title(bench, suite_benchmark(bench)), links, agg.latest_utc)
    sync_tree(files, work_dir / "docs")
    log(f"wrote {len(pages)} page(s) and {sum(map(len, charts.values()))} chart(s) to {work_dir / 'docs'}")
    config = write_config(work_dir, site_dir, nav(pages), versioned)
    stamp.record(report, work_dir / "docs", files)
    return config


def validate(report: LoadReport, strict: bool) -> None:
    """Report every problem as 'path: field: message' on stderr; in strict mode raise InvalidResults."""
    for problem in report.problems:
        print(problem, file=sys.stderr)
    bad = report.bad_files
    log(f"loaded {report.files} result file(s): {report.files - len(bad)} valid, {len(bad)} invalid")
    if bad and strict:
        raise InvalidResults(f"{len(report.problems)} problem(s) in {len(bad)} file(s): {', '.join(bad)}")
    if bad:
        log(f"skipped {len(bad)} invalid file(s); use --strict to fail instead")


def _code_digest() -> str:
    """Hash everything besides the results that shapes the docs folder: generator, schema, suites, templates, config."""
    digest = hashlib.sha256(__version__.encode())
    generator = [*sorted((ROOT / "generator").glob("*.py")), *sorted((ROOT / "generator").glob("*.yaml"))]
    sources = [BASE_CONFIG, *generator, *sorted((ROOT / "runners" / "suites").glob("*.yaml"))]
    sources += [ROOT / "runners" / "schema.py", *sorted(TEMPLATES_DIR.rglob("*"))]
    for path in sources:
        if path.is_file():
            digest.update(path.as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def inputs_fingerprint(scan: Scan, site_dir: Path, versioned: bool = False) -> str:
    """Hash the inputs of generate(): every result file's path, size and mtime, the code, the site dir and the versioning."""
    text = json.dumps([_code_digest(), str(site_dir), versioned, scan.fingerprint()])
    return hashlib.sha256(text.encode()).hexdigest()


class BuildStamp:
    """What the last generate() was made from and wrote, so an unchanged rebuild can skip straight to mkdocs."""

    def __init__(self, path: Path, fingerprint: str) -> None:
        self.path, self.fingerprint = path, fingerprint

    def unchanged(self, docs: Path) -> LoadReport | None:
        """Return the last build's report if the inputs are the same and the docs folder is as it was written."""
        try:
            saved = json.loads(self.path.read_text(encoding="utf-8"))
            if saved["fingerprint"] != self.fingerprint:
                return None
            for rel, size in saved["docs"].items():
                if (docs / rel).stat().st_size != size:
                    return None
            problems = [Problem(*p) for p in saved["problems"]]
            return LoadReport(problems=problems, files=saved["files"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def record(self, report: LoadReport, docs: Path, files: dict[str, bytes | Path]) -> None:
        """Save this build's fingerprint, report and the size of every file written to the docs folder."""
        sizes = {rel: (docs / rel).stat().st_size for rel in files}
        problems = [[p.path, p.field, p.message] for p in report.problems]
        data = {"fingerprint": self.fingerprint, "files": report.files, "problems": problems, "docs": sizes}
        write_if_changed(self.path, json.dumps(data).encode())


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
) -> dict[str, bytes | Path]:
    """Return every file of the docs folder as relative path -> content (or the file to copy it from)."""
    files: dict[str, bytes | Path] = {page.path: page.markdown.encode() for page in pages}
    files |= {chart.path: chart.svg.encode() for mine in charts.values() for chart in mine.values()}
    files |= {unquote(links[str(r.path)]): r.path for r in results}
    files |= downloads(results, links)
    files["data/result.schema.json"] = json.dumps(json_schema(), indent=2).encode()
    files |= {f"assets/{p.relative_to(ASSETS_DIR).as_posix()}": p for p in sorted(ASSETS_DIR.rglob("*")) if p.is_file()}
    return files


def write_if_changed(path: Path, content: bytes) -> None:
    """Write a file only when its content differs, so `mkdocs serve` sees real changes only."""
    if not path.is_file() or path.read_bytes() != content:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(content)
        tmp.replace(path)


def copy_if_changed(path: Path, source: Path) -> None:
    """Copy a file (with its mtime) unless the copy already has the source's size and mtime."""
    src = source.stat()
    try:
        dst = path.stat()
        if (dst.st_size, dst.st_mtime_ns) == (src.st_size, src.st_mtime_ns):
            return
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, path)


def sync_tree(files: dict[str, bytes | Path], dest: Path) -> None:
    """Make dest hold exactly these files (relative path -> content or source file), touching only changed ones."""
    for rel, content in files.items():
        if isinstance(content, Path):
            copy_if_changed(dest / rel, content)
        else:
            write_if_changed(dest / rel, content)
    for path in sorted(dest.rglob("*"), reverse=True):
        if path.is_file() and path.relative_to(dest).as_posix() not in files:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()


def write_config(work_dir: Path, site_dir: Path, nav_entries: list[dict], versioned: bool = False) -> Path:
    """Write work_dir/mkdocs.yml: inherit the project's mkdocs.yml, add docs_dir, site_dir, nav and (versioned) mike's selector."""
    config: dict = {
        "INHERIT": os.path.relpath(BASE_CONFIG, work_dir),
        "docs_dir": "docs",
        "site_dir": str(site_dir),
        "nav": nav_entries,
    }
    if versioned:
        config["extra"] = {"version": {"provider": "mike", "default": "latest"}}
    path = work_dir / "mkdocs.yml"
    text = "# Generated by benchsite build; edit ../mkdocs.yml or site_templates/ instead.\n"
    write_if_changed(path, (text + yaml.safe_dump(config, sort_keys=False, allow_unicode=True)).encode())
    return path


def mkdocs_env() -> dict[str, str]:
    """Return the environment for mkdocs subprocesses: material's MkDocs 2 banner off (benchsite pins mkdocs<2)."""
    return {**os.environ, "NO_MKDOCS_2_WARNING": "1"}


def mkdocs_build(config: Path) -> None:
    """Run mkdocs' build in this process, strict (any warning fails); raise BuildError with mkdocs' message if it fails."""
    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")  # material's MkDocs 2 banner; benchsite pins mkdocs<2
    from mkdocs.commands.build import build as mkdocs_build_site
    from mkdocs.config import load_config
    from mkdocs.exceptions import MkDocsException

    try:
        mkdocs_build_site(load_config(str(config), strict=True))
    except MkDocsException as exc:
        raise BuildError(f"mkdocs build failed: {exc.format_message()}") from None
