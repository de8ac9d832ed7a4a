"""Build the site: load -> validate -> aggregate -> charts -> pages -> write -> mkdocs build."""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import logging
import os
import re
import resource
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

import yaml

from generator import blocks
from generator.cache import load_scan
from generator.errors import BuildError, InvalidResults
from generator.helpers import Helper, Helpers, fork_available
from generator.plugins import fingerprint
from generator.results import LoadedResult, LoadReport, Scan, scan_results
from runners import __version__
from runners.schema import Problem, write_atomic

if TYPE_CHECKING:
    from generator.charts import Chart, SvgCache
    from generator.pages.base import Page

# The modules that aggregate, chart and render (altair, ruptures and scipy, jinja2: seconds of imports) are
# imported only when something changed, so that a rebuild with nothing to do stays quick.

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES_DIR = ROOT / "site_templates"  # generator.pages.templates.TEMPLATES_DIR
BASE_CONFIG = ROOT / "mkdocs.yml"
COPIES = "results"  # the copies of the result files, under the site's data/ folder
BLOCKS_HOOK = Path(blocks.__file__).resolve()  # the mkdocs hook that puts the pages' HTML blocks back
THEME_CACHE_HOOK = Path(__file__).resolve().with_name("theme_cache.py")  # the mkdocs hook that keeps compiled theme templates
ASSETS_DIR = TEMPLATES_DIR / "assets"  # copied into the site as assets/ (tablesort, benchsite.js, benchsite.css)


def log(message: str) -> None:
    """Print one progress line of the build to stderr."""
    print(f"benchsite build: {message}", file=sys.stderr)


class Phases:
    """Seconds spent in each step of one build, printed as one 'timings:' line (benchmarks/build_speed.py reads it),
    and the process's peak memory at the end of each step, as a 'peak RSS:' line."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.peak_mib: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0
            self.peak_mib[name] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux

    def report(self) -> None:
        log("timings: " + ", ".join(f"{name} {s:.2f} s" for name, s in self.seconds.items()))
        log("peak RSS after: " + ", ".join(f"{name} {mib:.0f} MiB" for name, mib in self.peak_mib.items()))


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the build with Python's cyclic garbage collector started 50,000 allocations apart, not 700, and its full
    collections rarer. A build allocates millions of objects that live to its end (facts, points, pages); with the
    default thresholds each full collection walks them all again (1.5 million objects at 100,000 results, ~0.5 s a
    time: 1.4 of the 3.2 s of the history's series). Garbage without cycles is freed at once either way."""
    before = gc.get_threshold()
    gc.set_threshold(50_000, 20, 10)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def default_work_dir(site_dir: Path) -> Path:
    """The build folder of a site: build/<site folder's name> beside the site folder, so two sites never share one."""
    site_dir = Path(site_dir).resolve()
    return site_dir.parent / "build" / site_dir.name


@fewer_collections()
def build(
    results: Iterable[str | os.PathLike[str]],
    site_dir: Path,
    strict: bool = False,
    work_dir: Path | None = None,
    source_url: str | None = None,
    added_in: Callable[[LoadedResult], str | None] | None = None,
) -> Path:
    """Generate the docs folder from result files, build it with mkdocs and return site_dir/index.html."""
    site_dir = Path(site_dir).resolve()
    work_dir = Path(work_dir or default_work_dir(site_dir)).resolve()
    phases = Phases()
    data_dir, charts_dir = work_dir / "data", work_dir / "charts"
    config = generate(
        results,
        site_dir,
        strict=strict,
        work_dir=work_dir,
        phases=phases,
        source_url=source_url,
        data_dir=data_dir,
        added_in=added_in,
        charts_dir=charts_dir,
    )
    index = site_dir / "index.html"
    built = SiteStamp(work_dir / "cache" / "site.json", config, index)
    if built.current():
        publish_folders(site_dir, [charts_dir])  # a chart can change where no page does
        log(f"site is up to date: {index}")
        return index
    stale = built.stale_files()
    with phases("mkdocs" if stale is None else "mkdocs (changed pages)"):
        for rel in stale or ():
            (site_dir / rel).unlink(missing_ok=True)
        mkdocs_build(config, dirty=stale is not None)
    with phases("data"):
        publish_folders(site_dir, [data_dir, charts_dir])
    built.record()
    phases.report()
    log(f"site written to {index}")
    return index


def publish_folders(site_dir: Path, folders: list[Path]) -> None:
    """Make each folder made outside mkdocs (data, charts) the site's folder of that name: hard links, not copies."""
    for folder in folders:
        published = tree_files(folder) if folder.is_dir() else {}
        sync_tree(published, site_dir / folder.name, os.stat(folder).st_dev if published else -1)


class SiteStamp:
    """Which docs folder the site was last built from, so that a rebuild runs mkdocs only on what changed.

    Nothing changed: no mkdocs at all. Only page contents (and charts) changed, with the same config, nav
    and set of pages: mkdocs' dirty build, which renders only the pages whose Markdown is newer than their
    HTML (every page carries the nav, so a new or removed page needs a full build).
    """

    def __init__(self, path: Path, config: Path, index: Path) -> None:
        self.path, self.index, self.config = path, index, config
        self.docs = config.parent / "docs"
        self.docs_stamp = config.parent / "cache" / "build.json"

    def _state(self) -> list:
        # build.json changes whenever the docs folder does; index.html changes (or goes) whenever anyone rebuilds the site
        docs, index = self.docs_stamp.stat(), self.index.stat()
        return [str(self.index), docs.st_mtime_ns, docs.st_size, index.st_mtime_ns, index.st_size]

    def _files(self) -> list[str]:
        return sorted(tree_files(self.docs))

    def _structure(self, files: list[str]) -> str:
        # the code (theme settings in ../mkdocs.yml, templates) too: a page that did not change may render differently
        pages = [f for f in files if f.endswith(".md")]
        return hashlib.sha256(self.config.read_bytes() + json.dumps([_code_digest(), pages]).encode()).hexdigest()

    def _saved(self) -> dict:
        try:
            saved = json.loads(self.path.read_text(encoding="utf-8"))
            return saved if isinstance(saved, dict) else {}
        except (OSError, ValueError):
            return {}

    def current(self) -> bool:
        """Return True if the site was built by benchsite from the docs folder as it is now, and not touched since."""
        try:
            return self._saved().get("state") == self._state()
        except OSError:
            return False

    def stale_files(self) -> list[str] | None:
        """Return the site files to delete before a dirty build (static files gone from the docs folder),
        or None if the site needs a full build: never built here, touched since, or another config or set of pages."""
        saved = self._saved()
        try:
            index = self.index.stat()
        except OSError:
            return None
        files = self._files()
        if saved.get("index") != [index.st_mtime_ns, index.st_size] or saved.get("structure") != self._structure(files):
            return None
        return sorted(set(saved.get("files", [])) - set(files))

    def record(self) -> None:
        files = self._files()
        index = self.index.stat()
        data = {"state": self._state(), "index": [index.st_mtime_ns, index.st_size], "structure": self._structure(files)}
        with contextlib.suppress(OSError):
            write_if_changed(self.path, json.dumps(data | {"files": files}).encode())


@fewer_collections()
def generate(
    results: Iterable[str | os.PathLike[str]],
    site_dir: Path,
    strict: bool = False,
    work_dir: Path | None = None,
    versioned: bool = False,
    phases: Phases | None = None,
    source_url: str | None = None,
    data_dir: Path | None = None,
    added_in: Callable[[LoadedResult], str | None] | None = None,
    charts_dir: Path | None = None,
) -> Path:
    """Write the docs folder and its mkdocs.yml into work_dir (default: build/); return the config path.

    ``versioned`` turns on Material's mike version selector, which fetches ../versions.json: only a site
    deployed with mike has that file, so a plain build leaves the selector off; the pages then link to the
    data at the root beside the versions (``../data/``), published once for all of them.

    The data (downloads, schema and, without ``source_url``, a copy of every result file) goes to
    ``data_dir``, outside mkdocs: to be put at the site's data/ after mkdocs ran. Without a ``data_dir``
    it goes into the docs folder's data/, for `mkdocs serve`. ``source_url`` is a template of each
    result's source link, e.g. ``https://github.com/ORG/REPO/blob/{commit}/results/{path}``. ``added_in``
    names the commit of the results repository that added a result file (the operations pass a git lookup),
    so each regression also shows the commit range between its run before and after.

    The charts' files (SVGs and their specs' scripts) go to ``charts_dir``, outside mkdocs too, to be put at
    the site's charts/ after mkdocs ran: mkdocs would copy a thousand of them on each full build. Without it
    they go into the docs folder's charts/, for `mike deploy` and `mkdocs serve`, which build the docs folder.
    """
    work_dir = Path(work_dir or default_work_dir(site_dir)).resolve()
    results = [Path(r) for r in results]
    phase = phases or Phases()
    # the helpers import ruptures and start vl-convert while this process scans, imports the rest and reads the
    # results (a cold build, with no charts drawn before, renders its charts in a pool of its own); a build with
    # nothing to do stops them unused
    with Helpers(renderer=(work_dir / "cache" / "charts").is_dir()) as helpers:
        with phase("scan"):
            scan = scan_results(results)
            where = [str(site_dir), versioned, source_url, str(data_dir), added_in is not None]
            stamp = BuildStamp(work_dir / "cache" / "build.json", inputs_fingerprint(scan, where))
        if (previous := stamp.unchanged(work_dir / "docs")) is not None:
            validate(previous, strict)
            log("nothing changed since the last build; docs folder kept")
            return work_dir / "mkdocs.yml"
        from generator.aggregate import aggregate
        from generator.charts import render_charts
        from generator.history import FEED_PATH, Detections, atom_feed, history, locate_commits
        from generator.pages.base import PageCache, model_title, suite_benchmark
        from generator.pages.site import large_folders, nav, render_pages
        from generator.settings import load_settings

        with phase("load"):
            report = load_scan(scan, work_dir / "cache" / "results.sqlite")
        validate(report, strict)
        settings = load_settings()
        with phase("aggregate"):
            agg = aggregate(report.results)
        with phase("history"):
            nightly = history(agg, settings.history, Detections(work_dir / "cache" / "detections.json"), helpers.detector)
            if added_in is not None:
                locate_commits(nightly, added_in)
        with phase("charts"):
            charts, drawing = render_charts(agg, work_dir / "cache" / "charts", nightly, helpers.renderer)
        # the pool draws the SVGs on while this process renders and writes the pages, which only name them
        with contextlib.closing(drawing):
            data_root = "../data/" if versioned else "data/"
            links = source_links(report.results, data_root, source_url)
            with _Downloads(report, links, source_url is None, data_dir) as downloads:
                with phase("pages"):
                    (work_dir / "cache" / "pages.json").unlink(missing_ok=True)  # the page cache before it was a pickle
                    templates = work_dir / "cache" / "templates"
                    kept = PageCache(work_dir / "cache" / "pages.pickle", _code_digest())
                    pages = render_pages(agg, charts, links, report.problems, settings, nightly, data_root, templates, results, kept)
                    files = docs_files(pages)
                    feed = atom_feed(nightly, lambda bench: model_title(bench, suite_benchmark(bench)), links, agg.latest_utc)
                    files[FEED_PATH] = feed
                with phase("downloads"):
                    files |= downloads.finish()
            with phase("write docs"):
                files, aside = set_aside_blocks(files, pages)
                if charts_dir is None:  # `mike deploy` and `mkdocs serve` build the docs folder: the charts go there
                    drawing.finish()
                    files |= chart_files(charts, drawing.svg)
                sync_tree(files, work_dir / "docs")
                sync_tree(aside, work_dir / blocks.FOLDER)
            if charts_dir is not None:
                with phase("charts drawn"):
                    drawing.finish()
                    sync_tree(chart_files(charts, drawing.svg, "charts/"), charts_dir)
    where = charts_dir or work_dir / "docs" / "charts"
    log(f"wrote {len(pages)} page(s) to {work_dir / 'docs'} and {sum(map(len, charts.values()))} chart(s) to {where}")
    if report.store is not None:
        log(f"read {report.store.reads} of {len(report.results)} full results back from the parse cache; every run's facts")
    config = write_config(work_dir, site_dir, nav(pages), versioned, large_folders(pages))
    stamp.record(report, work_dir / "docs", files)
    return config


def set_aside_blocks(files: dict[str, bytes | Path], pages: list[Page]) -> tuple[dict[str, bytes | Path], dict[str, bytes]]:
    """Replace the pages' raw HTML blocks by placeholders (generator.blocks); return the docs files and the blocks files."""
    aside: dict[str, bytes] = {}
    files = dict(files)
    for page in pages:
        markdown, mine = blocks.set_aside(page.markdown)
        files[page.path] = markdown.encode()
        if mine:
            aside[blocks.blocks_name(page.path)] = blocks.encode(mine)
    return files, aside


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
    """Hash everything besides the results that shapes the docs folder: generator, schema, suites, templates, config,
    and the extensions installed (generator.plugins)."""
    digest = hashlib.sha256(__version__.encode() + fingerprint())
    generator = [*sorted((ROOT / "generator").rglob("*.py")), *sorted((ROOT / "generator").glob("*.yaml"))]
    sources = [BASE_CONFIG, *generator, *sorted((ROOT / "runners" / "suites").glob("*.yaml"))]
    sources += [ROOT / "runners" / "schema.py", *sorted(TEMPLATES_DIR.rglob("*"))]
    for path in sources:
        if path.is_file():
            digest.update(path.as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def inputs_fingerprint(scan: Scan, where: list) -> str:
    """Hash the inputs of generate(): every result file's path, size and mtime, the code, and where and how it publishes.

    The files go in as NUL-separated lines (no path holds a NUL), not JSON: 0.2 s at 100k results, not 0.6 s."""
    digest = hashlib.sha256(json.dumps([_code_digest(), where, [str(p) for p in scan.problems]]).encode())
    lines = (f"{path}\0{key[0]}\0{key[1]}\0{key[2]}\0\0" if key else f"{path}\0\0" for _, path, key in scan.files)
    digest.update("".join(lines).encode())
    return digest.hexdigest()


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


def source_links(results: list[LoadedResult], data_root: str = "data/", source_url: str | None = None) -> dict[str, str]:
    """Map each result file to its source link: ``source_url`` filled in, else its copy under data/results/.

    A copy's link is relative to the site's root and unique per file. The template's fields are ``{path}``
    (the file's path under its results folder) and ``{commit}`` (the commit of the results repository).
    """
    links: dict[str, str] = {}
    taken: set[str] = set()
    fields = {"commit": _commit_of(results[0].path.parent) if source_url and "{commit}" in source_url and results else ""}
    copies = quote(f"{data_root}{COPIES}/")
    for loaded in results:
        name = loaded.source
        if not _PLAIN_NAME.fullmatch(name):  # an empty, '.' or '..' part, or a character a link must quote
            name = quote("/".join(p for p in name.split("/") if p not in ("", "..", ".")) or "result.yaml")
        if source_url:
            links[loaded.file] = source_url.format(path=name, **fields)
            continue
        candidate, n = name, 1
        while candidate in taken:
            n += 1
            candidate = f"{n}/{name}"
        taken.add(candidate)
        links[loaded.file] = copies + candidate
    return links


# a results file's name as it is in a link: parts of unreserved characters that are not '.' or '..' (quote() of
# each of 100,000 names costs seconds)
_PART = r"(?!\.\.?(?:/|$))[A-Za-z0-9_.~-]+"
_PLAIN_NAME = re.compile(rf"{_PART}(?:/{_PART})*")


def _commit_of(folder: Path) -> str:
    """The commit checked out in the git repository holding folder; BuildError if there is none."""
    import subprocess

    proc = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BuildError(f"--source-url has {{commit}}, but {folder} is not in a git repository with a commit")
    return proc.stdout.strip()


def docs_files(pages: list[Page]) -> dict[str, bytes | Path]:
    """Return every file of the docs folder (the data and charts aside) as relative path -> content (or the file to copy it from)."""
    files: dict[str, bytes | Path] = {page.path: page.markdown.encode() for page in pages}
    files |= {f"assets/{p.relative_to(ASSETS_DIR).as_posix()}": p for p in sorted(ASSETS_DIR.rglob("*")) if p.is_file()}
    return files


def chart_files(charts: dict[str, dict[str, Chart]], svgs: SvgCache, folder: str = "") -> dict[str, bytes | Path]:
    """Each chart's SVG (linked from the build's SVG cache) and its spec's script, by their path in the site, or
    in its ``folder`` ("charts/": every chart's path starts with it)."""
    files: dict[str, bytes | Path] = {}
    for mine in charts.values():
        for chart in mine.values():
            files[chart.path.removeprefix(folder)] = svgs.file(chart.drawn)
            if chart.spec:
                files[chart.live_path.removeprefix(folder)] = chart.live_script().encode()
    return files


def data_files(results: list[LoadedResult], links: dict[str, str], copies: bool = True, kept: Path | None = None) -> dict[str, bytes | str]:
    """Return the files of the site's data/ folder: the monthly downloads, the schema and (``copies``) every result file.

    ``kept`` is the data folder of the build: each day's compressed parts of its month's downloads are kept
    beside it (``../cache/downloads/DAY/DIGEST/``, the digest of the files, links and code they were made
    from), so a new result flattens and compresses its own day only; a month's files are its days' parts put
    together, as a cold build writes them.
    """
    from generator.export import PART_KINDS, by_day, day_parts, month_files
    from runners.schema import json_schema

    parts_dir = kept.parent / "cache" / "downloads" if kept else None
    files: dict[str, bytes | str] = {}
    days_seen: set[str] = set()
    code = _code_digest().encode()
    for when, days in by_day(results).items():
        shares = []
        for day, mine in days.items():
            days_seen.add(day)
            digest = hashlib.sha256(code)
            for r in mine:
                digest.update(f"{r.file}|{r.stamp}|{links[r.file]}\n".encode())
            folder = parts_dir / day / digest.hexdigest() if parts_dir and all(r.stamp for r in mine) else None
            share = _kept_parts(folder, PART_KINDS)
            if share is None:
                share = day_parts(mine, links)
                if folder:
                    shutil.rmtree(folder.parent, ignore_errors=True)
                    for kind, content in share.items():
                        write_if_changed(folder / f"{kind}.gz", content)
            shares.append(share)
        files |= month_files(when, shares)
    if parts_dir and parts_dir.is_dir():
        for gone in {p.name for p in parts_dir.iterdir()} - days_seen:
            shutil.rmtree(parts_dir / gone, ignore_errors=True)
    files["result.schema.json"] = json.dumps(json_schema(), indent=2).encode()
    if copies:
        for r in results:
            files[unquote(links[r.file]).split("data/", 1)[1]] = r.file
    return files


class _Downloads:
    """The data folder's files (data_files()), written into data_dir by a process forked as the pages start, so that
    a rebuild flattens and compresses its new day on the second core while this one renders; without a data_dir
    (or fork) they are made in this process when asked for, and go into the docs folder's data/."""

    def __init__(self, report: LoadReport, links: dict[str, str], copies: bool, data_dir: Path | None) -> None:
        self.report, self.links, self.copies, self.data_dir = report, links, copies, data_dir
        self.helper: Helper | None = None

    def _files(self) -> dict[str, bytes | str]:
        return data_files(self.report.results, self.links, self.copies, kept=self.data_dir)

    def write_downloads(self) -> None:
        """The forked process's work: write the data folder, reading through a connection of its own."""
        if self.report.store is not None:
            self.report.store.reopen()
        sync_tree(self._files(), self.data_dir)

    def __enter__(self) -> _Downloads:
        if self.data_dir is not None and fork_available():
            self.helper = Helper(self.write_downloads)
        return self

    def finish(self) -> dict[str, bytes | str]:
        """Wait for the data folder to be written; return the files that go into the docs folder instead (its data/)."""
        if self.helper is not None:
            self.helper.wait()
        elif self.data_dir is None:
            return {f"data/{rel}": content for rel, content in self._files().items()}
        else:
            sync_tree(self._files(), self.data_dir)
        return {}

    def __exit__(self, *_: object) -> None:
        if self.helper is not None:
            self.helper.close()


def _kept_parts(folder: Path | None, kinds: Iterable[str]) -> dict[str, bytes] | None:
    """A day's download parts as a build wrote them into folder (named by what they were made from), if all are there."""
    if folder is None:
        return None
    try:
        return {kind: (folder / f"{kind}.gz").read_bytes() for kind in kinds}
    except OSError:
        return None


def write_if_changed(path: Path, content: bytes) -> None:
    """Write a file only when its content differs, so `mkdocs serve` sees real changes only."""
    if not path.is_file() or path.read_bytes() != content:
        write_atomic(path, content)


def copy_if_changed(
    path: str, source: str | os.PathLike[str], there: os.DirEntry[str] | None = None, dev: int = -1, source_dev: int = -1
) -> None:
    """Hard-link (else copy, with its mtime) a file unless the copy already is that file (``there``, on device
    ``dev``: the same inode) or has the source's size and mtime. A source given as a directory entry on device
    ``source_dev`` is known to be linked from the two entries' inodes, with no stat."""
    if there is not None and dev >= 0 and dev == source_dev and isinstance(source, os.DirEntry) and there.inode() == source.inode():
        return
    src = source.stat() if isinstance(source, os.DirEntry) else os.stat(source)
    if there is not None:
        if there.inode() == src.st_ino and src.st_dev == dev:  # the hard link made last time: nothing to read
            return
        dst = there.stat()
        if (dst.st_size, dst.st_mtime_ns) == (src.st_size, src.st_mtime_ns):
            return
        os.unlink(path)
    else:
        os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        os.link(source, path)  # no second copy of 100,000 result files; the results are never edited in place
    except OSError:
        shutil.copy2(source, path)


def tree_files(folder: Path) -> dict[str, os.DirEntry[str]]:
    """Every file under folder by its relative path, but those whose name starts with a dot, as directory
    entries (os.scandir: the inode and kind come without a stat; the data folder holds a copy of every result)."""
    files: dict[str, os.DirEntry[str]] = {}

    def walk(where: str, prefix: str) -> None:
        with os.scandir(where) as entries:
            for entry in entries:
                if entry.is_dir():
                    walk(entry.path, prefix + entry.name + "/")
                elif entry.name[0] != "." and entry.is_file():
                    files[prefix + entry.name] = entry

    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        walk(str(folder), "")
    return files


def sync_tree(files: Mapping[str, bytes | str | os.PathLike[str]], dest: Path, source_dev: int = -1) -> None:
    """Make dest hold exactly these files (relative path -> content, or the file to link or copy there),
    touching only changed ones. ``source_dev`` is the device of the sources given as directory entries
    (copy_if_changed)."""
    there = tree_files(dest)
    top = str(dest)
    prefix = os.path.join(top, "")
    dev = os.stat(top).st_dev if there else -1
    for rel, content in files.items():
        if isinstance(content, bytes):
            write_if_changed(dest / rel, content)
        else:
            copy_if_changed(prefix + rel, content, there.get(rel), dev, source_dev)
    for rel, entry in there.items():
        if rel not in files:
            os.unlink(entry.path)
            folder = os.path.dirname(entry.path)
            while folder != top and not os.listdir(folder):  # and the folders it leaves empty
                os.rmdir(folder)
                folder = os.path.dirname(folder)


def write_config(work_dir: Path, site_dir: Path, nav_entries: list[dict], versioned: bool = False, not_in_nav: Iterable[str] = ()) -> Path:
    """Write work_dir/mkdocs.yml: inherit the project's mkdocs.yml, add docs_dir, site_dir, nav and (versioned) mike's selector."""
    config: dict = {
        "INHERIT": os.path.relpath(BASE_CONFIG, work_dir),
        "docs_dir": "docs",
        "site_dir": str(site_dir),
        "nav": nav_entries,
        # put the HTML blocks set aside back into each page; keep the theme's compiled templates
        "hooks": [os.path.relpath(hook, work_dir) for hook in (BLOCKS_HOOK, THEME_CACHE_HOOK)],
    }
    if not_in_nav:  # listed by their folder's index page instead
        config["not_in_nav"] = "\n".join(f"/{folder}/*.md" for folder in sorted(not_in_nav))
    if versioned:
        config["extra"] = {"version": {"provider": "mike", "default": "latest"}}
    path = work_dir / "mkdocs.yml"
    text = "# Generated by benchsite build; edit ../mkdocs.yml or site_templates/ instead.\n"
    write_if_changed(path, (text + yaml.safe_dump(config, sort_keys=False, allow_unicode=True)).encode())
    return path


def mkdocs_env() -> dict[str, str]:
    """Return the environment for mkdocs subprocesses: material's MkDocs 2 banner off (benchsite pins mkdocs<2)."""
    return {**os.environ, "NO_MKDOCS_2_WARNING": "1"}


class _DirtyBuildNotice(logging.Filter):
    """Drop mkdocs' warning that a dirty build may leave navigation inaccurate: benchsite runs one only when
    the config, the nav and the set of pages are those of the last full build (see SiteStamp)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "A 'dirty' build is being performed" not in record.getMessage()


def mkdocs_build(config: Path, dirty: bool = False) -> None:
    """Run mkdocs' build in this process, strict (any warning fails); raise BuildError with mkdocs' message if it fails.

    ``dirty`` renders only the pages whose Markdown is newer than their HTML; the search index, which such a
    build writes for those pages alone, is merged into the previous one.
    """
    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")  # material's MkDocs 2 banner; benchsite pins mkdocs<2
    from mkdocs.commands.build import build as mkdocs_build_site
    from mkdocs.config import load_config
    from mkdocs.exceptions import MkDocsException

    loaded = load_config(str(config), strict=True)
    search = Path(loaded.site_dir) / "search" / "search_index.json"
    previous = _read_json(search) if dirty else None
    notice = _DirtyBuildNotice()
    logger = logging.getLogger("mkdocs.commands.build")
    logger.addFilter(notice)
    try:
        mkdocs_build_site(loaded, dirty=dirty)
    except MkDocsException as exc:
        raise BuildError(f"mkdocs build failed: {exc.format_message()}") from None
    finally:
        logger.removeFilter(notice)
    if previous is not None and (fresh := _read_json(search)) is not None:
        built = {doc["location"].split("#")[0] for doc in fresh.get("docs", [])}
        kept = [doc for doc in previous.get("docs", []) if doc["location"].split("#")[0] not in built]
        write_if_changed(search, json.dumps(fresh | {"docs": kept + fresh.get("docs", [])}).encode())


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
