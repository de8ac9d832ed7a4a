"""A real mkdocs build from fixture results: numbers, traceability, escaping, charts, bad files."""

import contextlib
import io
import json
import re
from pathlib import Path

import altair as alt
import pytest
import yaml

from generator.build import build
from generator.charts import to_svg
from generator.errors import InvalidResults
from generator.serve import snapshot
from runners.schema import json_schema

DATA = Path(__file__).parent / "data"
ROOTS = [DATA / "valid", DATA / "site"]
BAD = DATA / "site" / "bad" / "p99-below-p95.yaml"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Build the fixture site once; return (site dir, work dir, build report on stderr)."""
    tmp = tmp_path_factory.mktemp("built")
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        index = build(ROOTS, tmp / "site", work_dir=tmp / "build")
    assert index == tmp / "site" / "index.html"
    return tmp / "site", tmp / "build", stderr.getvalue()


def page(site: Path, name: str) -> str:
    return (site / name).read_text(encoding="utf-8")


def cells(html: str) -> list[str]:
    return re.findall(r"<td>(.*?)</td>", html)


def test_home_shows_latest_run_counts_failed_runs_and_models(built):
    site, _, _ = built
    home = page(site, "index.html")
    assert "2026-11-26 09:01 UTC" in home  # the latest finished run
    assert "<td>success</td><td>10</td>" in home and "<td>oom</td><td>1</td>" in home
    assert "CUDA out of memory" in home and "2026/11/26/digits-a100-oom.yaml" in home
    assert "dgx-a100" in home and "NVIDIA A100-SXM4-80GB" in home and "550.54.15" in home
    assert 'href="models/digits-resnet10t.html"' in home and 'href="models/imagenet-efficientnet-b0.html"' in home
    digits = cells(next(r for r in home.split("<tr>") if r.startswith('<td><a href="models/digits-resnet10t.html"')))
    assert digits[3].startswith("6.2<br>")  # fastest time to target: olympic mean of 9.4, 5.1, 6.2 on one A100
    assert digits[4].startswith("2909.09<br>")  # peak inference throughput, batch 32
    assert "digits-a100-convergence-0.yaml" in digits[5] and "inference.yaml" in digits[5]


def test_model_page_shows_the_fixture_numbers(built):
    site, _, _ = built
    digits = page(site, "models/digits-resnet10t.html")
    row = next(r for r in digits.split("<tr>") if "convergence.yaml" in r and "CPU: Intel" in r)
    assert ">16.8<" in row and ">97.5<" in row  # time_to_target_s and final top1 (%)
    a100 = next(r for r in digits.split("<tr>") if "digits-a100-convergence-0.yaml" in r)
    assert "<td>6.2</td>" in a100 and "<td>3 / 3 (top1 ≥ 97 %)</td>" in a100  # olympic mean, 3 repeats
    b32 = next(r for r in digits.split("<tr>") if r.startswith("<td>32</td>") and "inference.yaml" in r)
    assert cells(b32)[:8] == ["32", "2909.09", "11", "10.78", "12.1", "12.65", "14.3", "200"]
    b1 = next(r for r in digits.split("<tr>") if r.startswith("<td>1</td>") and "inference.yaml" in r)
    assert cells(b1)[6] == "1.625"  # p99 at batch 1


def test_model_page_derives_scaling_and_speedup_from_the_seed_numbers(built):
    site, _, _ = built
    effnet = page(site, "models/imagenet-efficientnet-b0.html")
    tf32_8 = next(r for r in effnet.split("<tr>") if "effnet-throughput-tf32-8gpu.yaml" in r)
    assert "<td>9119</td>" in tf32_8 and "7.54x (weak)" in tf32_8
    amp_8 = next(r for r in effnet.split("<tr>") if "effnet-throughput-amp-8gpu.yaml" in r)
    assert "5.98x (weak)" in amp_8 and "2.26x vs tf32" in amp_8


def test_suite_description_and_defaults_shown_and_a_missing_suite_tolerated(built):
    site, _, _ = built
    digits = page(site, "models/digits-resnet10t.html")
    assert "timm&#39;s smallest ResNet" in digits and "0.8 per 256 images" in digits and "1, 8, 32" in digits
    assert "Suite not found" in page(site, "models/imagenet-efficientnet-b0.html")


def test_every_number_links_to_its_published_yaml(built):
    site, _, _ = built
    digits = page(site, "models/digits-resnet10t.html")
    for line in (r for r in digits.split("<tr>") if r.startswith("<td>")):
        assert 'href="../data/results/' in line
    for href in set(re.findall(r'href="\.\./(data/results/[^"]+)"', digits)):
        published = site / href
        original = next(root / href.removeprefix("data/results/") for root in ROOTS if (root / href.removeprefix("data/results/")).exists())
        assert published.read_bytes() == original.read_bytes()


def test_json_schema_is_published(built):
    site, _, _ = built
    assert json.loads(page(site, "data/result.schema.json")) == json_schema()
    assert 'href="data/result.schema.json"' in page(site, "data.html")


def test_bad_file_is_reported_and_skipped(built):
    site, _, report = built
    assert f"{BAD}: inference.results[2].latency_ms: p99 (12.0) must be >= p95" in report
    assert "12 result file(s): 11 valid, 1 invalid" in report
    assert not (site / "data/results/bad").exists()
    assert "p99-below-p95.yaml" in page(site, "data.html")  # listed under skipped files


def test_strict_build_raises_on_a_bad_file(tmp_path):
    with contextlib.redirect_stderr(io.StringIO()), pytest.raises(InvalidResults, match=r"p99-below-p95\.yaml"):
        build(ROOTS, tmp_path / "site", strict=True, work_dir=tmp_path / "build")
    assert not (tmp_path / "site").exists()


def test_hostile_strings_come_out_inert(built):
    site, _, _ = built
    for path in [*site.rglob("*.html"), *site.rglob("*.svg")]:
        text = path.read_text(encoding="utf-8")
        assert "<script>alert" not in text, path
        assert "<img src=x" not in text, path
    evil = page(site, "models/evil-script-alert-1-script.html")
    assert "&lt;script&gt;alert(&#39;model&#39;)&lt;/script&gt;" in evil
    assert "&lt;script&gt;alert(&#39;host&#39;)&lt;/script&gt;" in page(site, "index.html")


def test_chart_svg_escapes_labels():
    chart = (
        alt.Chart(alt.Data(values=[{"x": 1, "y": 2, "s": "<script>alert(1)</script>"}])).mark_point().encode(x="x:Q", y="y:Q", color="s:N")
    )
    svg = to_svg(chart)
    assert svg.startswith("<svg") and "<script" not in svg and "&lt;script&gt;" in svg


def test_charts_exist_and_are_embedded_with_alt_text_and_caption(built):
    site, _, _ = built
    digits = page(site, "models/digits-resnet10t.html")
    for name in ("digits-resnet10t-accuracy.svg", "digits-resnet10t-latency-0.svg"):
        assert (site / "charts" / name).read_text(encoding="utf-8").startswith("<svg")
        figure = re.search(
            rf'<figure class="benchsite-chart">\s*<img src="\.\./charts/{name}" alt="([^"]+)".*?<figcaption>(.+?)</figcaption>',
            digits,
            re.S,
        )
        assert figure and figure.group(1).startswith("Line chart") and figure.group(2)


def test_nav_is_generated_from_the_results(built):
    _, work, _ = built
    config = yaml.safe_load((work / "mkdocs.yml").read_text(encoding="utf-8"))
    assert config["INHERIT"].endswith("mkdocs.yml") and config["docs_dir"] == "docs"
    models = dict(item for entry in config["nav"][1]["Models"] for item in entry.items())
    assert models["ResNet-10-T on digits"] == "models/digits-resnet10t.md"
    assert models["EfficientNet-B0"] == "models/imagenet-efficientnet-b0.md"
    assert all("<" not in title for title in models)


def test_site_requests_nothing_outside_itself(built):
    site, _, _ = built
    for path in site.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r'<(script|img|link|iframe)[^>]+(src|href)="(https?:)?//', text), path
        assert "fonts.googleapis" not in text and "fonts.gstatic" not in text, path


def test_serve_snapshot_sees_new_and_changed_files(tmp_path):
    result = tmp_path / "a.yaml"
    result.write_text("one", encoding="utf-8")
    before = snapshot([tmp_path, tmp_path / "missing"])
    result.write_text("one more", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.yaml").write_text("two", encoding="utf-8")
    after = snapshot([tmp_path])
    assert after != before and set(after) == {str(result), str(tmp_path / "sub" / "b.yaml")}
