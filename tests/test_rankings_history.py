"""Rankings, leaderboard, history and regressions: numbers against hand-computed values on a real build."""

import contextlib
import io
import math
import random
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from generator.aggregate import aggregate
from generator.build import build, generate
from generator.derived import valid_flops, valid_flops_per_s, valid_images_per_s
from generator.energy import NO_POWER
from generator.errors import BuildError
from generator.formats import MISSING
from generator.history import Point, downsample, shifts
from generator.leaderboard import leaderboards
from generator.results import load_results
from generator.settings import HistorySettings, LeaderboardSettings, Settings, load_settings

DATA = Path(__file__).parent / "data"
ROOTS = [DATA / "valid", DATA / "site", DATA / "ranked", DATA / "history"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Build the fixture site with the rankings and history fixtures once; return (site dir, work dir)."""
    tmp = tmp_path_factory.mktemp("part2")
    with contextlib.redirect_stderr(io.StringIO()):
        build(ROOTS, tmp / "site", work_dir=tmp / "build")
    return tmp / "site", tmp / "build"


def page(site: Path, name: str) -> str:
    return (site / name).read_text(encoding="utf-8")


def section(html: str, heading_id: str) -> str:
    start = html.index(f'id="{heading_id}"')
    end = html.find("<h2", start)
    return html[start : end if end > 0 else None]


def body_rows(html: str) -> list[list[str]]:
    """Cells (tags stripped) of every body row of the first table in html."""
    table = html[html.index("<tbody>") : html.index("</tbody>")]
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)] for row in table.split("<tr")[1:]]


# --- formulas ------------------------------------------------------------------------


def test_valid_flops_formula_by_hand():
    assert valid_flops(1e15, 0.763, 0.763, 5) == 1e15
    assert valid_flops(7.362e14, 0.75, 0.763, 5) == pytest.approx(7.362e14 * 0.9176638574520776)
    assert valid_flops(100.0, 0.5, 1.0, 1) == 50.0
    with pytest.raises(ValueError):
        valid_flops(1.0, 0.5, 0.0, 5)


def test_vips_and_vops_formulas_by_hand():
    terms = [(0.771, 600.0, 0.8e9), (0.762, 400.0, 8.18e9)]
    assert valid_images_per_s([(a, r) for a, r, _ in terms]) == pytest.approx(462.6 + 304.8)
    assert valid_flops_per_s(terms) == pytest.approx(462.6 * 0.8e9 + 304.8 * 8.18e9)


def test_quality_targets_are_data():
    settings = load_settings()
    target = settings.quality_target("image-classification", "imagenet")
    assert (target.metric, target.target, target.n) == ("top1", 0.763, 5)
    assert settings.quality_target("object-detection", "coco") is None


def test_a_bad_settings_file_names_the_bad_value(tmp_path):
    bad = tmp_path / "settings.yaml"
    bad.write_text("leaderboard: {top_n: 0}\n", encoding="utf-8")
    with pytest.raises(BuildError, match=r"leaderboard\.top_n"):
        load_settings(bad)


# --- rankings pages ------------------------------------------------------------------


def test_valid_flops_page_recomputes_by_hand(built):
    site, _ = built
    html = section(page(site, "rankings/valid-flops.html"), "resnet-50")
    rows = body_rows(html)
    # H100: 30000 samples/s x 3 x 8.18 GFLOPs = 736.2 TFLOPS; (0.75 / 0.763)^5 = 0.9177; VFLOPS = 675.6 T
    assert rows[0][0] == "1" and "H100" in rows[0][1]
    # the ranked VFLOPS first, then FLOPS, achieved, the quality factor, throughput, training FLOPs; forward FLOPs in the details
    assert rows[0][2:8] == ["675.6 T", "736.2 T", "75 % (n=1) 1 run", "0.9177", "30000 1 run", "24.54 G"]
    assert rows[1][2:8] == ["490.8 T", "490.8 T", "76.3 % (n=1) 1 run", "1", "20000 1 run", "24.54 G"]
    assert all(r[8].startswith("moreForward FLOPs/sample 8.18 G") for r in rows)
    assert rows[2][2] == "64.64 T"  # 2600 x 24.54e9 x (0.765 / 0.763)^5
    assert "VFLOPS = FLOPS \u00d7 (achieved_quality / target_quality)" in page(site, "rankings/valid-flops.html")
    assert "no model_flops_per_sample" in html and "r50-t4x1-fp32-conv-noflops.yaml" in html


def test_time_to_quality_ranks_reached_runs_fastest_first_and_lists_the_rest_apart(built):
    site, _ = built
    html = section(page(site, "rankings/time-to-quality.html"), "resnet-50")
    ranked = body_rows(html)
    assert [r[2] for r in ranked] == ["60.0 min 1 run", "8.3 h 1 run", "55.6 h 1 run"]  # 3600, 30000, 200000 s
    assert 'title="200000 s"' in html
    assert "8x NVIDIA A100" in ranked[0][1] and "Tesla T4" in ranked[2][1]
    apart = html[html.index("Did not reach the target") :]
    assert "H100" in apart and "75" in apart


def test_inference_ranking_orders_by_latency_at_the_stated_batch(built):
    site, _ = built
    html = page(site, "rankings/inference.html")
    assert "batch size <strong>1</strong>" in html
    rows = body_rows(section(html, "resnet-50"))
    assert [(r[1][:12], r[3], r[5]) for r in rows] == [
        ("1x NVIDIA H1", "2 1 run", "500"),
        ("1x NVIDIA A1", "2.5 1 run", "400"),
        ("1x Tesla T4 ", "4 1 run", "250"),
    ]


def test_device_ranking_vips_and_vops_by_hand(built):
    site, _ = built
    html = section(page(site, "rankings/devices.html"), "image-classification-imagenet-ilsvrc2012")
    rows = body_rows(html)
    # A100 amp: 0.771 x 600 + 0.762 x 400 = 767.4 VIPS; 462.6 x 0.8e9 + 304.8 x 8.18e9 = 2.863e12 VOPS
    assert rows[0][1:6] == ["1x NVIDIA A100-SXM4-80GB (driver 550.54.15, power limit not recorded)", "pytorch amp", "2", "767.4", "2.863 T"]
    assert rows[1][1:6] == ["1x NVIDIA H100 80GB HBM3 (driver 550.90.07, power limit not recorded)", "pytorch amp", "1", "381", "3.117 T"]
    assert "recorded no top1 of the timed model" in html  # the fp32 EfficientNet run without quality


# --- leaderboard -------------------------------------------------------------------------


def test_leaderboard_boards_show_release_generation_time_and_mismatch(built):
    site, _ = built
    html = section(page(site, "leaderboard.html"), "image-classification-imagenet")
    assert "Dataset release mismatch" in html and "Mixed precision: ilsvrc2012, INT8: ilsvrc2012-relabel-2026" in html
    mixed = html[html.index("Mixed precision board") : html.index("INT8 board")]
    assert "released 2012-04-01 00:00 UTC" in mixed and "generated 20" in mixed
    assert "1 row(s) in red were evaluated on another dataset version" in mixed
    red = [r for r in mixed.split("<tr") if r.startswith(' class="benchsite-mismatch"')]
    assert len(red) == 1 and "Tesla T4" in red[0] and "int8" in red[0]
    int8 = html[html.index("INT8 board") :]
    assert "released 2026-10-01 00:00 UTC" in int8 and "top 1 of 1" in int8
    rows = body_rows(mixed)
    # rank, model, framework, accelerator, precision, top1, FPS (batch 1), throughput, energy, memory
    assert rows[0][1:10] == [
        "EfficientNet-B0",
        "pytorch",
        "1x NVIDIA A100-SXM4-80GB (driver 550.54.15, power limit not recorded)",
        "amp",
        "77.1 (n=1) 1 run",
        "600 1 run",
        "15000 (batch 64)",
        f"{MISSING} {NO_POWER}",  # its NVML telemetry has no power_mean_w
        "3072",
    ]


def test_leaderboard_subjects_are_hidden_behind_a_toggle(built):
    site, _ = built
    html = page(site, "leaderboard.html")
    assert 'class="md-button benchsite-subjects-toggle"' in html
    subjects = re.findall(r'<div class="benchsite-subjects" id="[^"]+" hidden>(.*?)</div>', html, re.S)
    # digits: the CPU training run is the very setup of the CPU inference row; ImageNet: the per-class results belong to
    # an 8x A100 training run, another setup than any 1-GPU inference row, so no row borrows them
    assert len(subjects) == 1 and "great white shark" not in html


def test_leaderboard_top_n_is_a_setting_and_boards_follow_the_data():
    results = load_results([DATA / "ranked"]).results
    agg = aggregate(results)
    board = lambda settings: next(t for t in leaderboards(agg, settings) if t.dataset == "imagenet").boards[0]  # noqa: E731
    two = board(Settings(leaderboard=LeaderboardSettings(top_n=2)))
    assert [e.table.setup.accelerator for e in two.entries] == ["NVIDIA A100-SXM4-80GB", "NVIDIA H100 80GB HBM3"]
    assert two.candidates == 5
    # a new model that enters the top N shows up: drop EfficientNet and ResNet-50 on the T4 moves up
    without = aggregate([r for r in results if "eff-" not in r.path.name])
    three = next(t for t in leaderboards(without, Settings(leaderboard=LeaderboardSettings(top_n=3))) if t.dataset == "imagenet")
    assert [e.table.setup.accelerator for e in three.boards[0].entries][-1] == "Tesla T4"


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


def test_regressions_page_and_feed_name_the_runs_before_and_after(built):
    site, _ = built
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


def test_a_regression_says_what_changed_between_its_runs_on_the_page_and_in_the_feed(built):
    site, _ = built
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
    text = (config.parent / "docs" / "regressions.md").read_text(encoding="utf-8")
    assert text.count(f"results commits {commits[0][:12]}..{commits[1][:12]}") == 2


def test_history_page_has_a_chart_and_a_table_per_metric(built):
    site, _ = built
    pages = sorted((site / "history").glob("*.html"))
    planted = next(p.read_text(encoding="utf-8") for p in pages if "1x NVIDIA A100" in p.read_text(encoding="utf-8"))
    assert planted.count('<figure class="benchsite-chart"') == 2 and "1 regression(s)" in planted
    assert len(body_rows(planted[planted.index("<table") :])) == 40  # every night of the series


def test_regressions_page_counts_checked_series_apart_from_those_without_enough_history(built):
    site, _ = built
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


# --- versions ------------------------------------------------------------------------------


def test_only_a_versioned_build_turns_on_the_mike_version_selector(tmp_path):
    with contextlib.redirect_stderr(io.StringIO()):
        plain = generate([DATA / "valid"], tmp_path / "site", work_dir=tmp_path / "plain")
        versioned = generate([DATA / "valid"], tmp_path / "site", work_dir=tmp_path / "versioned", versioned=True)
    assert "extra" not in yaml.safe_load(plain.read_text(encoding="utf-8"))
    assert yaml.safe_load(versioned.read_text(encoding="utf-8"))["extra"]["version"]["provider"] == "mike"
