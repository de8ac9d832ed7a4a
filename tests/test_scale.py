"""A year of nightlies: links instead of copies, split downloads, incremental rebuilds, separate build folders."""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from generator import theme_cache
from generator.blocks import read_page, set_aside
from generator.build import build, generate
from generator.export import INFERENCE_FIELDS, RUN_FIELDS, inference_records, run_record
from generator.ops.publish import publish
from generator.pages.base import Page
from generator.pages.site import NAV_FOLDER_MAX, folder_indexes, nav
from generator.results import load_results
from tests.conftest import benchsite

DATA = Path(__file__).parent / "data"
ROOTS = [DATA / "valid", DATA / "site", DATA / "history", DATA / "ranked"]


def quiet_build(*args, **kwargs) -> str:
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        build(*args, **kwargs)
    return stderr.getvalue()


def history_with_newest_held(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A copy of the history fixture with its newest file moved aside: (results, where it belongs, where it is)."""
    results = tmp_path / "results"
    shutil.copytree(DATA / "history", results)
    newest = sorted(results.rglob("*.yaml"))[-1]
    held = tmp_path / newest.name
    newest.rename(held)
    return results, newest, held


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("scale")
    with pytest.MonkeyPatch.context() as patch:  # the fixtures have a dozen history pages, a year of nightlies hundreds
        patch.setattr("generator.pages.site.NAV_FOLDER_MAX", 1)
        quiet_build(ROOTS, tmp / "site", work_dir=tmp / "build")
    return tmp / "site"


def hrefs(html: str) -> set[str]:
    return set(re.findall(r'href="([^"#]+)"', html))


def test_every_source_link_and_download_link_resolves(site):
    pages = list(site.rglob("*.html"))
    checked = 0
    for path in pages:
        for href in hrefs(path.read_text(encoding="utf-8")):
            if "data/" in href and "://" not in href:
                assert (path.parent / href).resolve().is_file(), (path.relative_to(site), href)
                checked += 1
    assert checked > 100


def test_html_blocks_set_aside_from_markdown_are_back_in_every_page(site):
    docs = site.parent / "build" / "docs"
    markdown = (docs / "performance.md").read_text(encoding="utf-8")
    assert "<!--benchsite-block:" in markdown and "<table" not in markdown.split("## ", 1)[0]
    blocks = json.loads((site.parent / "build" / "blocks" / "performance.md.json").read_text(encoding="utf-8"))
    html = (site / "performance.html").read_text(encoding="utf-8")
    assert all(block in html for block in blocks.values())
    for path in site.rglob("*.html"):
        assert "benchsite-block" not in path.read_text(encoding="utf-8"), path


def test_set_aside_keeps_markdown_and_fenced_html_in_place():
    page = "# T\n\n<table>\n<tr><td>1</td></tr>\n</table>\n\n*text* <b>x</b>\n\n```\n<table></table>\n\n<p>shown</p>\n```\n\n<p>end</p>\n"
    markdown, blocks = set_aside(page)
    assert sorted(blocks.values()) == ["<p>end</p>", "<table>\n<tr><td>1</td></tr>\n</table>"]
    assert "*text* <b>x</b>" in markdown and "<table></table>" in markdown and "<p>shown</p>" in markdown
    assert markdown.endswith("-->\n")


def _gz_rows(site: Path, pattern: str) -> list[dict[str, str]]:
    rows = []
    for path in sorted((site / "data").glob(pattern)):
        rows += list(csv.DictReader(io.StringIO(gzip.decompress(path.read_bytes()).decode())))
    return rows


def test_monthly_downloads_round_trip_to_every_valid_result(site):
    report = load_results(ROOTS)
    runs = _gz_rows(site, "runs-*.csv.gz")
    points = _gz_rows(site, "inference-*.csv.gz")
    months = {p.name[5:12] for p in (site / "data").glob("runs-*.csv.gz")}
    assert len(months) >= 2  # the fixtures span September and November 2026
    as_text = lambda record: {k: "" if v is None else str(v) for k, v in record.items()}  # noqa: E731
    expected = {r.result.run.id: as_text(run_record(r, "")) for r in report.results}
    assert sorted(r["id"] for r in runs) == sorted(expected)
    for row in runs:
        assert {k: v for k, v in row.items() if k != "file"} == {k: v for k, v in expected[row["id"]].items() if k != "file"}
        assert (site / row["file"]).is_file()  # the source link of each row is a copy of its file
    assert len(points) == sum(len(inference_records(r, "")) for r in report.results)
    assert set(runs[0]) == set(RUN_FIELDS) and set(points[0]) == set(INFERENCE_FIELDS)
    documents = [json.loads(gzip.decompress(p.read_bytes())) for p in (site / "data").glob("results-*.json.gz")]
    assert sorted(r["id"] for d in documents for r in d["runs"]) == sorted(expected)


def test_the_pages_of_a_large_folder_are_listed_on_its_index_page(site):
    home = (site / "index.html").read_text(encoding="utf-8")
    for folder in ("history", "models"):
        index = (site / folder / "index.html").read_text(encoding="utf-8")
        pages = {p.name for p in (site / folder).glob("*.html")} - {"index.html"}
        assert len(pages) > 1 and pages <= {h for h in hrefs(index) if "/" not in h}
        assert f'href="{folder}/index.html"' in home  # its nav entry (the nav's shape: the test above)


def test_a_folder_with_many_pages_is_one_nav_entry_with_an_index_page():
    pages = [Page("index.md", "Home", "")] + [Page(f"history/h{i}.md", f"H {i}", "") for i in range(NAV_FOLDER_MAX + 1)]
    pages += [Page("models/a.md", "A", "")]
    pages += folder_indexes(pages)
    assert nav(pages) == [{"Home": "index.md"}, {"History": "history/index.md"}, {"Models": [{"A": "models/a.md"}]}]
    index = next(p for p in pages if p.path == "history/index.md").markdown
    assert index.count("<li>") == NAV_FOLDER_MAX + 1 and 'href="h0.html"' in index


def test_source_url_template_links_to_the_repository_and_copies_no_result_file(tmp_path):
    template = "https://example.org/org/repo/blob/main/results/{path}"
    quiet_build([DATA / "valid"], tmp_path / "site", work_dir=tmp_path / "build", source_url=template)
    model = (tmp_path / "site" / "models" / "digits-resnet10t.html").read_text(encoding="utf-8")
    assert 'href="https://example.org/org/repo/blob/main/results/convergence.yaml"' in model
    assert not (tmp_path / "site" / "data" / "results").exists()
    runs = _gz_rows(tmp_path / "site", "runs-*.csv.gz")
    assert {r["file"] for r in runs} == {template.format(path=n) for n in ("convergence.yaml", "inference.yaml")}


def test_adding_a_result_rebuilds_only_changed_pages_and_gives_the_cold_build_site(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1790000000")
    results, newest, held = history_with_newest_held(tmp_path)
    quiet_build([results], tmp_path / "a", work_dir=tmp_path / "build-a")
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "a").rglob("*.html")}
    compiled = list((tmp_path / "build-a" / theme_cache.FOLDER).rglob("__jinja2_*.cache"))
    assert len(compiled) >= 5, "the theme's compiled templates are kept for the next build, which renders with them"
    held.rename(newest)
    log = quiet_build([results], tmp_path / "a", work_dir=tmp_path / "build-a")
    assert "mkdocs (changed pages)" in log
    untouched = [p for p, mtime in before.items() if p.stat().st_mtime_ns == mtime]
    assert untouched, "a dirty build leaves pages the new result does not touch as they were"
    quiet_build([results], tmp_path / "b", work_dir=tmp_path / "build-b")
    a, b = tmp_path / "a", tmp_path / "b"
    files_a = sorted(p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file())
    assert files_a == files_b
    for rel in files_a:
        if rel.endswith((".html", ".svg", ".js", ".gz", ".csv", ".yaml", ".xml")) and "sitemap" not in rel:
            assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    search_a = json.loads((a / "search" / "search_index.json").read_text(encoding="utf-8"))["docs"]
    search_b = json.loads((b / "search" / "search_index.json").read_text(encoding="utf-8"))["docs"]
    key = lambda doc: doc["location"]  # noqa: E731
    assert sorted(search_a, key=key) == sorted(search_b, key=key)


def test_the_charts_are_linked_into_the_site_from_outside_mkdocs_and_put_back_by_a_build_with_nothing_to_do(tmp_path):
    quiet_build([DATA / "valid"], tmp_path / "site", work_dir=tmp_path / "build")
    assert not (tmp_path / "build" / "docs" / "charts").exists(), "mkdocs does not copy the charts"
    svgs = sorted((tmp_path / "site" / "charts").glob("*.svg"))
    assert svgs and all(p.read_text(encoding="utf-8").startswith("<svg") for p in svgs)
    kept = {p.stat().st_ino for p in (tmp_path / "build" / "cache" / "charts").glob("*.svg")}
    assert all(p.stat().st_ino in kept for p in svgs), "each is a hard link to the SVG cache, not a copy"
    gone = svgs[0].read_bytes()
    svgs[0].unlink()
    log = quiet_build([DATA / "valid"], tmp_path / "site", work_dir=tmp_path / "build")
    assert "site is up to date" in log and svgs[0].read_bytes() == gone


def test_a_rebuild_draws_again_the_charts_whose_svgs_went_missing_from_the_cache(tmp_path):
    results, newest, held = history_with_newest_held(tmp_path)
    quiet_build([results], tmp_path / "site", work_dir=tmp_path / "build")
    cached = sorted((tmp_path / "build" / "cache" / "charts").glob("*.svg"))
    for path in cached:
        path.unlink()
    held.rename(newest)  # one benchmark's runs change; the others' charts would be reused
    quiet_build([results], tmp_path / "site", work_dir=tmp_path / "build")
    svgs = sorted((tmp_path / "site" / "charts").glob("*.svg"))
    assert svgs and all(p.read_text(encoding="utf-8").startswith("<svg") for p in svgs)


def test_two_concurrent_builds_of_different_results_use_their_own_build_folders(tmp_path):
    procs = [
        subprocess.Popen(
            benchsite("build", "--results", str(DATA / source), "--site-dir", str(tmp_path / name)),
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for source, name in (("valid", "one"), ("ranked", "two"))
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-2000:]
    assert (tmp_path / "build" / "one" / "docs").is_dir() and (tmp_path / "build" / "two" / "docs").is_dir()
    one = {p.name for p in (tmp_path / "one" / "models").glob("*.html")}
    two = {p.name for p in (tmp_path / "two" / "models").glob("*.html")}
    assert one == {"digits-resnet10t.html"} and two and not one & two  # each site from its own results only
    assert not (tmp_path / "one" / "data" / "results" / "r50-a100-amp-inf.yaml").exists()


def test_publishing_two_versions_leaves_one_copy_of_the_data_on_gh_pages(tmp_path):
    origin, repo = tmp_path / "origin.git", tmp_path / "repo"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    subprocess.run(["git", "clone", "-q", str(origin), str(repo)], check=True, capture_output=True)
    git = ["git", "-C", str(repo)]
    for key, value in (("user.name", "t"), ("user.email", "t@example.org")):
        subprocess.run([*git, "config", key, value], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "init"], check=True)
    subprocess.run([*git, "push", "-q", "origin", "HEAD"], check=True, capture_output=True)
    with contextlib.redirect_stderr(io.StringIO()):
        publish([DATA / "valid"], "1.0", ["latest"], repo, push=True)
        publish([DATA / "valid", DATA / "site"], "2.0", ["latest"], repo, push=True)
    tree = subprocess.run(
        ["git", "-C", str(origin), "ls-tree", "-r", "--name-only", "gh-pages"], capture_output=True, text=True, check=True
    ).stdout.split()
    copies = [p for p in tree if p.endswith("convergence.yaml")]
    assert copies == ["data/results/convergence.yaml"]
    assert not [p for p in tree if re.match(r"(1\.0|2\.0|latest)/data/", p)]
    assert "1.0/index.html" in tree and "2.0/index.html" in tree and "data/runs-2026-11.csv.gz" in tree
    page = subprocess.run(
        ["git", "-C", str(origin), "show", "gh-pages:2.0/models/digits-resnet10t.html"], capture_output=True, text=True, check=True
    ).stdout
    assert 'href="../../data/results/convergence.yaml"' in page  # from /2.0/models/ to /data/ at the root


def test_serve_gets_the_data_inside_its_docs_folder(tmp_path):
    """`benchsite serve` runs `mkdocs serve`, which serves the docs folder alone: the data must be in it."""
    with contextlib.redirect_stderr(io.StringIO()):
        generate([DATA / "valid"], tmp_path / "site", work_dir=tmp_path / "work")
    docs = tmp_path / "work" / "docs"
    assert (docs / "data" / "results" / "convergence.yaml").read_bytes() == (DATA / "valid" / "convergence.yaml").read_bytes()
    assert (docs / "data" / "runs-2026-11.csv.gz").is_file() and (docs / "data" / "result.schema.json").is_file()
    assert 'href="../data/results/convergence.yaml"' in read_page(tmp_path / "work", "models/digits-resnet10t.md")


def test_the_data_folder_written_by_the_forked_downloads_process_is_the_serve_data_and_its_failure_stops_the_build(tmp_path):
    """build() writes data/ in a process forked beside the pages; what it writes is what serve's in-process path writes."""
    with contextlib.redirect_stderr(io.StringIO()):
        generate([DATA / "valid"], tmp_path / "site", work_dir=tmp_path / "work", data_dir=tmp_path / "data")
        generate([DATA / "valid"], tmp_path / "site2", work_dir=tmp_path / "work2")
    forked = {p.relative_to(tmp_path / "data").as_posix(): p.read_bytes() for p in (tmp_path / "data").rglob("*") if p.is_file()}
    served = tmp_path / "work2" / "docs" / "data"
    assert forked == {p.relative_to(served).as_posix(): p.read_bytes() for p in served.rglob("*") if p.is_file()}
    assert "results/convergence.yaml" in forked
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the data folder should be\n", encoding="utf-8")
    with contextlib.redirect_stderr(io.StringIO()), pytest.raises(OSError):
        generate([DATA / "valid"], tmp_path / "site3", work_dir=tmp_path / "work3", data_dir=blocked)


def test_the_benchmark_tree_is_formatted_from_skeletons_as_yaml_dump_writes_it_and_every_file_is_valid(tmp_path):
    import random
    import sys

    import yaml

    from runners.schema import read_result

    sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
    try:
        import build_speed
    finally:
        sys.path.pop(0)
    skeletons = build_speed.Skeletons()
    picks = [0, 1, 335, 336, 5000, 33999, 99999, *[n for n in range(2000) if random.Random(n).random() < 0.02][:5]]
    for n in picks:  # the failed runs of the tree among them
        data = build_speed.synthetic(skeletons.templates, n, random.Random(n))
        relative, text = skeletons.render(n)
        assert text == yaml.dump(data, Dumper=yaml.CSafeDumper, sort_keys=False, allow_unicode=True, width=120)
        assert relative.endswith(f"/{data['run']['id']}.yaml")
    build_speed.write_results(tmp_path, 0, 700, jobs=2)
    files = sorted(tmp_path.rglob("*.yaml"))
    assert len(files) == 700
    results = [read_result(path) for path in files]
    assert len({r.run.benchmark for r in results}) == len(build_speed.BENCHMARKS)
    assert len({r.environment.host.hostname for r in results}) == len(build_speed.MACHINES)
    assert {r.run.status for r in results} == {"success", "failed"}
    assert len({r.run.started_utc.date() for r in results}) == 3


def test_a_new_run_re_renders_the_history_and_system_pages_it_enters_only(tmp_path, monkeypatch):
    from generator.pages.base import SiteContext

    results = tmp_path / "results"
    shutil.copytree(DATA / "history", results)
    shutil.copytree(DATA / "site", results / "site")  # a second benchmark: history pages the new run does not enter
    newest = sorted((results / "2026").rglob("*.yaml"))[-1]
    held = tmp_path / newest.name
    newest.rename(held)
    quiet_build([results], tmp_path / "site", work_dir=tmp_path / "build")
    pages = len(list((tmp_path / "site" / "history").glob("*.html")))
    systems = len(list((tmp_path / "site" / "systems").glob("*.html"))) - 1  # and the index
    before = {p: p.read_bytes() for p in (tmp_path / "site" / "systems").glob("*.html")}
    rendered: dict[str, list[str]] = {"history.md.j2": [], "system.md.j2": []}
    render = SiteContext.render

    def counted(self, template, path, **context):
        rendered[template].append(path) if template in rendered else None
        return render(self, template, path, **context)

    monkeypatch.setattr(SiteContext, "render", counted)
    held.rename(newest)
    quiet_build([results], tmp_path / "site", work_dir=tmp_path / "build")
    assert 1 <= len(rendered["history.md.j2"]) < pages
    assert rendered["system.md.j2"] == [f"systems/{p.stem}.md" for p in before if p.read_bytes() != before[p] and p.stem != "index"]
    assert 1 == len(rendered["system.md.j2"]) < systems, "the new run's own system page, and no other"


def test_a_build_walks_every_run_by_its_facts_and_reads_only_the_full_results_its_pages_show(tmp_path):
    """Issue #12 item 4: memory holds each run's facts, not 100k parsed documents. Every walk over all runs
    (grouping, hosts, history, systems, features, leaderboard, downloads by day) reads the facts the parse cache
    kept; a full result is read back only for the latest repeat group of a setup, and equals the file's."""
    import sys

    from generator.aggregate import aggregate
    from generator.cache import load_scan
    from generator.export import by_day, months
    from generator.facts import RunFacts, facts_of
    from generator.features import feature_support
    from generator.history import Detections, history
    from generator.leaderboard import leaderboards
    from generator.results import scan_results
    from generator.settings import load_settings
    from generator.systems import Systems
    from runners.schema import read_result

    sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
    try:
        import build_speed
    finally:
        sys.path.pop(0)
    build_speed.write_results(tmp_path / "results", 0, 700, jobs=2)
    cache = tmp_path / "cache.sqlite"
    load_scan(scan_results([tmp_path / "results"]), cache)  # a cold load parses; a rebuild reads the facts kept
    report = load_scan(scan_results([tmp_path / "results"]), cache)
    store = report.store
    agg = aggregate(report.results)
    settings = load_settings()
    found = history(agg, settings.history, Detections())
    systems = Systems(agg.runs)
    for bench in agg.benchmarks:
        feature_support(bench.runs, ["amp", "tf32", "int8"])
    leaderboards(agg, settings)
    months(agg.runs), by_day(agg.runs), agg.latest_session, agg.hosts
    shown = {r._key for bench in agg.benchmarks for r in bench.latest_runs}
    assert len(found.series) > 20 and len(systems.systems) >= len(build_speed.MACHINES)
    assert set(store.kept) <= shown and len(shown) < len(report.results) / 2, "a walk over all runs read full results"
    shared = report.results[0].facts.environment
    assert sum(r.facts.environment is shared for r in report.results) > 1  # one object per machine's environment
    for loaded in report.results[::7]:  # the facts kept equal those of the full result, field by field
        full = facts_of(read_result(loaded.path))
        assert [getattr(loaded.facts, n) for n in RunFacts.__slots__] == [getattr(full, n) for n in RunFacts.__slots__]
        assert loaded.result == read_result(loaded.path)


def test_sync_tree_links_each_file_once_follows_a_replaced_source_and_removes_what_is_gone(tmp_path):
    from generator.build import sync_tree, tree_files

    src, dest = tmp_path / "results", tmp_path / "data"
    for name in ("2026/11/25/a.yaml", "2026/11/26/b.yaml"):
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text(name, encoding="utf-8")
    files = {name: str(src / name) for name in ("2026/11/25/a.yaml", "2026/11/26/b.yaml")} | {"schema.json": b"{}"}
    sync_tree(files, dest)
    assert (dest / "2026/11/25/a.yaml").stat().st_ino == (src / "2026/11/25/a.yaml").stat().st_ino  # a hard link, no copy
    assert (dest / "schema.json").read_bytes() == b"{}"
    (src / "2026/11/26/b.yaml").unlink()  # replaced as write_atomic does it: a new file, a new inode
    (src / "2026/11/26/b.yaml").write_text("b, edited", encoding="utf-8")
    del files["2026/11/25/a.yaml"]
    sync_tree(files, dest)
    assert (dest / "2026/11/26/b.yaml").read_text(encoding="utf-8") == "b, edited"
    assert not (dest / "2026/11/25").exists(), "a file gone from the build goes from the site, and so does its empty folder"
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()) == ["2026/11/26/b.yaml", "schema.json"]
    site = tmp_path / "site"  # from a listing (the site's data/ from the build's): a link is known by the entries' inodes
    for text in ("b, linked", "b, replaced"):
        (src / "2026/11/26/b.yaml").unlink()
        (src / "2026/11/26/b.yaml").write_text(text, encoding="utf-8")
        sync_tree(tree_files(src), site, os.stat(src).st_dev)
        assert (site / "2026/11/26/b.yaml").read_text(encoding="utf-8") == text
        assert (site / "2026/11/26/b.yaml").stat().st_ino == (src / "2026/11/26/b.yaml").stat().st_ino


def test_a_rebuild_takes_unchanged_files_facts_from_the_snapshot_and_only_those(tmp_path):
    """Issue #12 item 3: a rebuild unpickles every unchanged file's facts at once (cache.FactsSnapshot); each entry is
    used only at the file's own size and mtime, so an edited, a new, a broken and a removed file come out exactly as a
    load without any snapshot gives them, and a snapshot that cannot be read is ignored."""
    from generator.cache import FactsSnapshot, load_scan
    from generator.facts import RunFacts
    from generator.results import scan_results

    results = tmp_path / "results"
    shutil.copytree(DATA / "valid", results)
    (results / "broken.yaml").write_text("schema_version: 1\nrun: [\n", encoding="utf-8")
    cache = tmp_path / "cache" / "results.sqlite"
    snapshot = FactsSnapshot(cache.with_name("facts.pickle"))

    def facts(report):
        rows = [(r.source, tuple(repr(getattr(r.facts, n)) for n in RunFacts.__slots__)) for r in report.results]
        return rows, sorted(map(str, report.problems))

    def without_snapshot():
        return facts(load_scan(scan_results([results]), tmp_path / "fresh" / "results.sqlite"))

    load_scan(scan_results([results]), cache)
    assert set(snapshot.read()) == {str(p) for p in results.glob("*.yaml")}
    edited = yaml.safe_load((results / "inference.yaml").read_text(encoding="utf-8"))
    edited["run"]["id"] = "edited-in-place"
    (results / "inference.yaml").write_text(yaml.safe_dump(edited, sort_keys=False), encoding="utf-8")
    shutil.copyfile(DATA / "valid" / "convergence.yaml", results / "new.yaml")
    (results / "convergence.yaml").unlink()
    again = load_scan(scan_results([results]), cache)
    assert facts(again) == without_snapshot()
    assert "edited-in-place" in {r.facts.id for r in again.results}
    assert set(snapshot.read()) == {str(p) for p in results.glob("*.yaml")}  # written again: the removed file is gone

    snapshot.path.write_bytes(b"not a pickle")
    assert snapshot.read() == {} and facts(load_scan(scan_results([results]), cache)) == without_snapshot()
