"""Rankings (generator/rankings/, generator/pages/rankings.py): numbers against hand-computed values on a real build."""

from pathlib import Path

import pytest
from sitepages import body_rows, page, section

from generator.derived import valid_flops, valid_flops_per_s, valid_images_per_s
from generator.errors import BuildError
from generator.settings import load_settings

DATA = Path(__file__).parent / "data"


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


def test_valid_flops_page_recomputes_by_hand(ranked_site):
    site, _ = ranked_site
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


def test_time_to_quality_ranks_reached_runs_fastest_first_and_lists_the_rest_apart(ranked_site):
    site, _ = ranked_site
    html = section(page(site, "rankings/time-to-quality.html"), "resnet-50")
    ranked = body_rows(html)
    assert [r[2] for r in ranked] == ["60.0 min 1 run", "8.3 h 1 run", "55.6 h 1 run"]  # 3600, 30000, 200000 s
    assert 'title="200000 s"' in html
    assert "8x NVIDIA A100" in ranked[0][1] and "Tesla T4" in ranked[2][1]
    apart = html[html.index("Did not reach the target") :]
    assert "H100" in apart and "75" in apart


def test_inference_ranking_orders_by_latency_at_the_stated_batch(ranked_site):
    site, _ = ranked_site
    html = page(site, "rankings/inference.html")
    assert "batch size <strong>1</strong>" in html
    rows = body_rows(section(html, "resnet-50"))
    assert [(r[1][:12], r[3], r[5]) for r in rows] == [
        ("1x NVIDIA H1", "2 1 run", "500"),
        ("1x NVIDIA A1", "2.5 1 run", "400"),
        ("1x Tesla T4 ", "4 1 run", "250"),
    ]


def test_device_ranking_vips_and_vops_by_hand(ranked_site):
    site, _ = ranked_site
    html = section(page(site, "rankings/devices.html"), "image-classification-imagenet-ilsvrc2012")
    rows = body_rows(html)
    # A100 amp: 0.771 x 600 + 0.762 x 400 = 767.4 VIPS; 462.6 x 0.8e9 + 304.8 x 8.18e9 = 2.863e12 VOPS
    assert rows[0][1:6] == ["1x NVIDIA A100-SXM4-80GB (driver 550.54.15, power limit not recorded)", "pytorch amp", "2", "767.4", "2.863 T"]
    assert rows[1][1:6] == ["1x NVIDIA H100 80GB HBM3 (driver 550.90.07, power limit not recorded)", "pytorch amp", "1", "381", "3.117 T"]
    assert "recorded no top1 of the timed model" in html  # the fp32 EfficientNet run without quality
