"""The leaderboard (generator/leaderboard.py, generator/pages/leaderboard.py) on a real build."""

import re
from pathlib import Path

from sitepages import body_rows, page, section

from generator.aggregate import aggregate
from generator.energy import NO_POWER
from generator.formats import MISSING
from generator.leaderboard import leaderboards
from generator.results import load_results
from generator.settings import LeaderboardSettings, Settings

DATA = Path(__file__).parent / "data"


# --- leaderboard -------------------------------------------------------------------------


def test_leaderboard_boards_show_release_generation_time_and_mismatch(ranked_site):
    site, _ = ranked_site
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


def test_leaderboard_subjects_are_hidden_behind_a_toggle(ranked_site):
    site, _ = ranked_site
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
