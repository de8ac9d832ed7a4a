"""History and regressions (generator/history.py, generator/changes.py, the history and regressions pages) on a real build."""

import contextlib
import functools
import io
import math
import operator
import random
import re
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sitepages import body_rows, page, section

from generator.blocks import read_page
from generator.build import generate
from generator.history import Point, downsample, shifts
from generator.settings import HistorySettings

DATA = Path(__file__).parent / "data"


# --- history and regressions ---------------------------------------------------------------


def noisy(n: int, seed: int, drop_at: int | None = None, drop: float = 0.1) -> list[float]:
    rng = random.Random(seed)
    return [1000 * rng.gauss(1, 0.02) * (1 - drop if drop_at is not None and i >= drop_at else 1) for i in range(n)]


def test_a_regression_planted_in_noise_is_found_where_it_was_planted():
    for seed in range(20):
        found = shifts(noisy(40, seed, drop_at=30), HistorySettings())
        assert [k for k, before, after, _ in found if after < before] == [30], seed


def test_noise_alone_raises_no_regression():
    found = [shifts(noisy(60, seed), HistorySettings()) for seed in range(1000)]
    assert sum(map(len, found)) == 0


def test_a_single_bad_night_is_not_a_regression():
    values = noisy(40, 3)
    values[20] *= 0.7
    assert shifts(values, HistorySettings()) == []


def test_history_stays_bounded_as_years_accumulate():
    settings = HistorySettings(recent_points=60, max_points=100)
    start = datetime(2020, 1, 1, tzinfo=UTC)
    points = [Point(start + timedelta(days=i), [float(i)], []) for i in range(3650)]
    shown = downsample(points, settings)
    assert len(shown) <= 100 and shown[-60:] == points[-60:]
    assert math.isclose(sum(len(b.points) for b in shown[:-60]), 3650 - 60)


def test_regressions_page_and_feed_name_the_runs_before_and_after(ranked_site):
    site, _ = ranked_site
    html = page(site, "regressions.html")
    rows = body_rows(html)
    assert {r[3] for r in rows} == {"inference throughput, batch 32 (samples/s)", "p99 latency, batch 32 (ms)"}
    assert all("A100" in r[2] for r in rows)  # the noise-only H100 series raised nothing
    assert all(r[0] == "2026-09-29 02:00 UTC" and "hist-planted-27.yaml" not in r[7] for r in rows)
    assert "2026/09/28/hist-planted-27.yaml" in html and "2026/09/29/hist-planted-28.yaml" in html
    feed = ET.fromstring((site / "feeds" / "regressions.xml").read_bytes())
    ns = {"a": "http://www.w3.org/2005/Atom"}
    entries = feed.findall("a:entry", ns)
    assert len(entries) == 2 and "hist-planted-27" in entries[0].find("a:summary", ns).text
    assert all((site / "feeds" / link.get("href")).resolve().is_file() for e in entries for link in e.findall("a:link", ns))


def test_a_regression_says_what_changed_between_its_runs_on_the_page_and_in_the_feed(ranked_site):
    site, _ = ranked_site
    rows = body_rows(page(site, "regressions.html"))
    assert len(rows) == 2 and {r[9] for r in rows} == {"torch 2.14.1 → 2.15.0"}  # the planted change point's only difference
    history_page = next(p for p in (site / "history").glob("*.html") if "1x NVIDIA A100" in p.read_text(encoding="utf-8"))
    assert "what changed: torch 2.14.1 → 2.15.0" in history_page.read_text(encoding="utf-8")
    feed = ET.fromstring((site / "feeds" / "regressions.xml").read_bytes())
    ns = {"a": "http://www.w3.org/2005/Atom"}
    summaries = [entry.find("a:summary", ns).text for entry in feed.findall("a:entry", ns)]
    assert len(summaries) == 2 and all(text.endswith(" What changed: torch 2.14.1 → 2.15.0.") for text in summaries)


def test_a_regression_names_the_results_commits_between_its_runs(tmp_path):
    """With the results in git, the commits that added the run before and the run after, as the operations look them up."""
    from generator.ops.gitops import added_in

    repo = tmp_path / "results"
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    commits = []
    for wanted in (lambda n: n <= 27, lambda n: n > 27):  # the nights before the change point, then the rest
        for path in sorted((DATA / "history").rglob("hist-*.yaml")):
            if wanted(int(path.stem.rsplit("-", 1)[1])):
                target = repo / path.relative_to(DATA / "history")
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
        subprocess.run([*git, "add", "."], check=True)
        subprocess.run([*git, "commit", "-qm", "nights"], check=True)
        commits.append(subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip())
    with contextlib.redirect_stderr(io.StringIO()):
        config = generate([repo], tmp_path / "site", work_dir=tmp_path / "build", added_in=added_in)
    text = read_page(config.parent, "regressions.md")
    assert text.count(f"results commits {commits[0][:12]}..{commits[1][:12]}") == 2
    with contextlib.redirect_stderr(io.StringIO()):  # runs added together: one commit, not an empty range
        config = generate([repo], tmp_path / "site2", work_dir=tmp_path / "build2", added_in=lambda loaded: commits[1])
    text = read_page(config.parent, "regressions.md")
    assert text.count(f"both runs added in results commit {commits[1][:12]}") == 2


def test_history_page_has_a_chart_and_a_table_per_metric(ranked_site):
    site, _ = ranked_site
    pages = sorted((site / "history").glob("*.html"))
    planted = next(p.read_text(encoding="utf-8") for p in pages if "1x NVIDIA A100" in p.read_text(encoding="utf-8"))
    assert planted.count('<figure class="benchsite-chart"') == 2 and "1 regression(s)" in planted
    assert len(body_rows(planted[planted.index("<table") :])) == 40  # every night of the series


def test_regressions_page_counts_checked_series_apart_from_those_without_enough_history(ranked_site):
    site, _ = ranked_site
    html = page(site, "regressions.html")
    summary = re.sub(r"<[^>]+>", "", re.search(r'id="regressions-summary">(.*?)</p>', html, re.S).group(1))
    statuses = [row[-1] for row in body_rows(section(html, "every-series"))]
    unchecked = [s for s in statuses if re.fullmatch(r"not enough history \([1-9] of 10 runs\)", s)]
    assert statuses.count("checked, no change") == 2 and statuses.count("1 regression(s)") == 2  # the 40-run fixtures
    assert unchecked and len(unchecked) + 4 == len(statuses)  # every single-run series says so, none says "no change"
    assert summary == (
        f"{len(statuses)} series: 4 checked (2 with a regression, 2 with no change); "
        f"{len(unchecked)} not checked, with not enough history (fewer than 10 runs)."
    )
    assert "No regression detected in" not in html


def test_a_rebuild_runs_the_detector_only_on_series_whose_values_changed(tmp_path, monkeypatch):
    from generator.aggregate import aggregate
    from generator.history import Detections, history
    from generator.results import load_results

    runs = load_results([DATA / "history"]).results
    settings = HistorySettings()
    first = history(aggregate(runs), settings, Detections(tmp_path / "detections.json"))
    assert first.regressions

    def detector_must_not_run(*_args, **_kwargs):
        raise AssertionError("the detector ran on values it had already seen")

    monkeypatch.setattr("generator.history.shifts", detector_must_not_run)
    again = history(aggregate(runs), settings, Detections(tmp_path / "detections.json"))
    assert [(r.series.key, r.after.started_utc, r.p_value) for r in again.regressions] == [
        (r.series.key, r.after.started_utc, r.p_value) for r in first.regressions
    ]
    with pytest.raises(AssertionError, match="already seen"):  # one run fewer: new values, the detector runs
        history(aggregate(runs[:-1]), settings, Detections(tmp_path / "detections.json"))


def test_the_detector_helper_process_finds_what_this_process_finds_and_passes_its_errors_back():
    from generator.aggregate import aggregate
    from generator.errors import BuildError
    from generator.helpers import Helper, Helpers
    from generator.history import Detections, history
    from generator.results import load_results

    runs = load_results([DATA / "history"]).results
    settings = HistorySettings()
    here = history(aggregate(runs), settings, Detections())
    with Helpers(renderer=False) as helpers:
        assert helpers.detector is not None and helpers.renderer is None
        there = history(aggregate(runs), settings, Detections(), helpers.detector)
    assert here.regressions
    found = [[(r.series.key, r.after.started_utc, r.mean_before, r.mean_after, r.p_value) for r in h.regressions] for h in (here, there)]
    assert found[0] == found[1]
    helper = Helper(lambda: None)
    try:
        assert helper.map(functools.partial(operator.truediv, 1.0), [2.0, 4.0]) == [0.5, 0.25]
        with pytest.raises(ZeroDivisionError):  # raised in the helper, raised again here
            helper.map(functools.partial(operator.truediv, 1.0), [2.0, 0.0])
        with pytest.raises(BuildError, match=r"helper process \(benchsite <lambda>\) did not answer in 0.2 s"):
            helper.map(time.sleep, [30], timeout_s=0.2)  # a helper that stopped answering stops the build
        helper._process.kill()
        helper._process.join()
        with pytest.raises(BuildError, match=r"helper process \(benchsite <lambda>\) stopped"):
            helper.map(abs, [1])
    finally:
        helper.close()
