"""A real mkdocs build from fixture results: numbers, traceability, escaping, charts, bad files."""

import contextlib
import csv
import gzip
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import altair as alt
import pytest
import yaml

import generator.cache
import runners.schema
from generator.build import build, generate
from generator.cache import load_results_cached
from generator.errors import BuildError, InvalidResults
from generator.formats import MISSING
from generator.ops.publish import mike_env
from generator.ops.serve import snapshot
from generator.svg import to_svg
from runners.schema import json_schema, read_result, upgrade_command

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
    """The text of each table cell, tags stripped."""
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", html, re.S)]


def rows(html: str) -> list[str]:
    return html.split("<tr>")


def row_with(html: str, *needles: str) -> str:
    return next(r for r in rows(html) if all(n in r for n in needles))


def test_home_shows_latest_run_counts_failed_runs_and_models(built):
    site, _, _ = built
    home = page(site, "index.html")
    assert "2026-11-26 09:01 UTC" in home  # the latest finished run
    assert "<td>success</td><td>10</td>" in home and "<td>oom</td><td>1</td>" in home
    assert "CUDA out of memory" in home and "2026/11/26/digits-a100-oom.yaml" in home
    assert "dgx-a100" in home and "NVIDIA A100-SXM4-80GB" in home and "550.54.15" in home
    assert 'href="models/digits-resnet10t.html"' in home and 'href="models/imagenet-efficientnet-b0.html"' in home
    digits = re.findall(
        r"<td>(.*?)</td>", next(r for r in home.split("<tr>") if r.startswith('<td><a href="models/digits-resnet10t.html"'))
    )
    # fastest time to target: olympic mean of 9.4, 5.1, 6.2 s on one A100, in the site's one duration format, marked noisy
    assert digits[3].startswith('<span title="6.2 s">6.2 s</span> <small class="benchsite-mark"')
    assert digits[4].startswith("2909.09<br>")  # peak inference throughput, batch 32
    assert "digits-a100-convergence-0.yaml" in digits[5] and "inference.yaml" in digits[5]


def test_model_page_shows_the_fixture_numbers(built):
    site, _, _ = built
    digits = page(site, "models/digits-resnet10t.html")
    cpu = cells(row_with(digits, "convergence.yaml", "CPU: Intel"))
    assert cpu[3] == "97.5 1 run" and cpu[5] == "16.8 s 1 run"  # final top1 (%) and time to target of the single run, marked
    a100 = cells(row_with(digits, "digits-a100-convergence-0.yaml", "NVIDIA A100"))
    assert a100[1:3] == ["3", "3 / 3 (top1 ≥ 97 %)"]
    assert a100[3] == "97.5 ± 0" and a100[4] == "99"  # accuracy mean ± std over the seeds, top-5
    assert a100[5] == "6.2 s olympic noisy"  # olympic mean of 9.4, 5.1, 6.2: a spread far above 5 %
    b32 = cells(row_with(digits, "<td>32</td>", "inference.yaml"))
    assert b32[:8] == ["32", "32x32", "2909.09 1 run", "11", "10.78", "12.1", "12.65", "14.3"]
    assert b32[9].startswith("more200 samples")  # sample count and source folded into the row's details
    b1 = cells(row_with(digits, "<td>1</td>", "inference.yaml"))
    assert b1[7] == "1.625"  # p99 at batch 1


def test_model_page_follows_the_deeplearningexamples_order(built):
    site, _, _ = built
    digits = page(site, "models/digits-resnet10t.html")
    headings = re.findall(r"<h[234] id=\"([^\"]+)\"", digits)
    order = [
        "model-overview",
        "default-configuration",
        "feature-support-matrix",
        "quick-start-guide",
        "results",
        "training-accuracy-results",
        "training-accuracy-plots",
        "training-performance-results",
        "inference-performance-results",
    ]
    assert [h for h in headings if h in order] == order
    assert "<pre><code>benchsite run --suite quick</code></pre>" in digits  # provenance.command of the runs shown


def test_feature_matrix_is_derived_from_the_results(built):
    site, _, _ = built
    effnet = page(site, "models/imagenet-efficientnet-b0.html")
    amp = cells(row_with(effnet, "<td>Automatic mixed precision (AMP)</td>"))
    assert amp[1] == "Yes" and "effnet-throughput-amp" in row_with(effnet, "<td>Automatic mixed precision (AMP)</td>")
    assert cells(row_with(effnet, "<td>Multi-GPU training</td>"))[1] == "Yes"
    assert cells(row_with(effnet, "<td>XLA</td>"))[1] == "Not measured"
    digits = page(site, "models/digits-resnet10t.html")
    assert cells(row_with(digits, "<td>Multi-GPU training</td>"))[1] == "Not measured"
    assert cells(row_with(digits, "<td>Inference latency sweep</td>"))[1] == "Yes"


def test_model_page_derives_scaling_speedup_and_epoch_time_from_the_seed_numbers(built):
    site, _, _ = built
    effnet = page(site, "models/imagenet-efficientnet-b0.html")
    tf32_8 = cells(row_with(effnet, "effnet-throughput-tf32-8gpu.yaml", "<td>8</td>"))
    assert tf32_8[:6] == ["8", "tf32", "256", "9119 1 run", MISSING, "7.54 (weak scaling, 8 GPUs)"]
    assert tf32_8[6] == "70.2 min (30 epochs)"  # 1,281,167 x 30 / 9119 = 4214.8 s
    amp_8 = cells(row_with(effnet, "effnet-throughput-amp-8gpu.yaml", "<td>8</td>"))
    assert amp_8[4:6] == ["2.26x vs tf32", "5.98 (weak scaling, 8 GPUs)"]
    assert 'class="tabbed-set tabbed-alternate"' in effnet
    assert "charts/imagenet-efficientnet-b0-scaling-0.svg" in effnet


def test_suite_description_and_defaults_shown_and_a_missing_suite_tolerated(built):
    site, _, _ = built
    digits = page(site, "models/digits-resnet10t.html")
    assert "timm&#39;s smallest ResNet" in digits and "0.8 per 256 images" in digits and "1, 8, 32" in digits
    assert "Suite not found" in page(site, "models/imagenet-efficientnet-b0.html")


def test_every_number_links_to_its_published_yaml(built):
    site, _, _ = built
    for name in ("models/digits-resnet10t.html", "models/imagenet-efficientnet-b0.html", "performance.html"):
        html = page(site, name)
        body = html[html.index("<article") : html.index("</article>")]
        for line in (r for r in rows(body) if r.startswith("<td>") and re.search(r"<td>[0-9.]+(x|%| s)?</td>", r) is None):
            if "Not measured" in line or "Declared" in line:
                continue
            assert 'href="../data/results/' in line or 'href="data/results/' in line, (name, line[:200])
        for href in set(re.findall(r'href="(?:\.\./)?(data/results/[^"]+)"', body)):
            published = site / href
            rel = href.removeprefix("data/results/")
            original = next(root / rel for root in ROOTS if (root / rel).exists())
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


@pytest.mark.parametrize("url", ["https://example.invalid/rows.csv", "/etc/hostname", "data/rows.csv"])
def test_a_chart_reads_no_data_from_a_url_or_a_file(url):
    spec = {"mark": "point", "data": {"url": url}, "encoding": {"x": {"field": "a", "type": "quantitative"}}}
    with pytest.raises(BuildError, match=r"not allowed|access denied"):  # vl-convert 1.9 | 2.0
        to_svg(spec)


# Run apart: the pool forks only from a process that has not started vl-convert, as earlier tests here have.
STALLED_POOL = """
import multiprocessing, sys
from pathlib import Path
from generator.charts import SvgCache
from generator.errors import BuildError
svg = SvgCache(Path(sys.argv[1]), workers=2)
svg.timeout_s = 0.001  # no batch of charts is drawn that fast: every one looks stalled
points = [{"x": i, "y": i % 7} for i in range(3000)]
for n in range(8):
    encoding = {"x": {"field": "x", "type": "quantitative"}, "y": {"field": "y", "type": "quantitative"}}
    svg.render({"mark": "line", "data": {"values": points}, "encoding": encoding, "title": str(n)})
assert svg.pool is not None, "eight charts queued start the pool"
try:
    svg.finish()
except BuildError as exc:
    print(exc)
print("children left:", len(multiprocessing.active_children()))
"""


def test_a_chart_pool_that_stops_answering_is_stopped_and_retried_once_then_the_build_fails(tmp_path):
    proc = subprocess.run([sys.executable, "-c", STALLED_POOL, str(tmp_path)], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "did not finish a batch of charts in 0.001 s, twice (8 chart(s) not drawn)" in proc.stdout
    assert "children left: 0" in proc.stdout
    assert not list(tmp_path.glob("*.svg"))


def test_charts_exist_and_are_embedded_with_alt_text_and_caption(built):
    site, _, _ = built
    digits = page(site, "models/digits-resnet10t.html")
    for name in (
        "digits-resnet10t-accuracy-0.svg",
        "digits-resnet10t-loss-0.svg",
        "digits-resnet10t-latency-0.svg",
        "digits-resnet10t-throughput-batch-0.svg",
    ):
        assert (site / "charts" / name).read_text(encoding="utf-8").startswith("<svg")
        figure = re.search(
            rf'<figure class="benchsite-chart"[^>]*>\s*<img src="\.\./charts/{name}" alt="([^"]+)".*?<figcaption>(.+?)</figcaption>',
            digits,
            re.S,
        )
        assert figure and figure.group(1).startswith("Line chart") and figure.group(2)


def test_nav_is_generated_from_the_results(built):
    _, work, _ = built
    config = yaml.safe_load((work / "mkdocs.yml").read_text(encoding="utf-8"))
    assert config["INHERIT"].endswith("mkdocs.yml") and config["docs_dir"] == "docs"
    nav = ["Home", "Performance", "Models", "Data", "Systems", "Leaderboard", "Rankings", "Regressions"]
    assert [next(iter(e)) for e in config["nav"]] == nav
    models = dict(item for entry in config["nav"][2]["Models"] for item in entry.items())
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


def test_performance_page_groups_tables_per_accelerator_and_precision(built):
    site, _, _ = built
    perf = page(site, "performance.html")
    labels = re.findall(r'<label for="__tabbed_\d+_\d+">(.*?)</label>', perf)
    assert "NVIDIA A100-SXM4-80GB · tf32" in labels and "NVIDIA A100-SXM4-80GB · amp" in labels
    assert any(label.startswith("CPU: Intel") and label.endswith("· fp32") for label in labels)
    training = cells(row_with(perf, "digits-a100-convergence-2.yaml", "1x NVIDIA A100"))
    # model, framework, accelerator and count, precision, accuracy, time to train, throughput, driver, runs; then the details
    assert training[:9] == [
        "ResNet-10-T on digits",
        "pytorch",
        "1x NVIDIA A100-SXM4-80GB",
        "fp32",
        "97.5 ± 0 top1",
        "6.2 s noisy",
        "812.4",
        "driver 550.54.15, power limit not recorded",
        "3",
    ]
    assert training[9] == "morepytorch 2.14.1digits sklearn-digits-v1"  # framework version and dataset
    tf32_8 = cells(row_with(perf, "effnet-throughput-tf32-8gpu.yaml"))
    assert tf32_8[2:8] == ["8x NVIDIA A100-SXM4-80GB", "tf32", "256", "9119 1 run", MISSING, "7.54 (weak scaling, 8 GPUs)"]
    b8 = cells(row_with(perf, "<td>8</td>", "inference.yaml"))
    assert b8 == ["8", "32x32", "2285.71 1 run", "3.5", "3.85", "4.025", "4.55"]  # batch, resolution, throughput, avg, p90, p95, p99


def test_data_page_offers_csv_and_json_downloads_of_every_result(built):
    site, _, _ = built
    data = page(site, "data.html")
    for name in ("runs-2026-11.csv.gz", "inference-2026-11.csv.gz", "results-2026-11.json.gz", "result.schema.json"):
        assert f'href="data/{name}"' in data and (site / "data" / name).is_file()
    assert len(list((site / "data").glob("*.gz"))) == 3  # every fixture started in November 2026

    def gz(name: str) -> str:
        return gzip.decompress((site / "data" / name).read_bytes()).decode()

    runs = list(csv.DictReader(io.StringIO(gz("runs-2026-11.csv.gz"))))
    assert len(runs) == 11 and {r["status"] for r in runs} == {"success", "oom"}
    tf32_8 = next(r for r in runs if r["file"].endswith("effnet-throughput-tf32-8gpu.yaml"))
    assert (tf32_8["devices"], tf32_8["train_samples_per_s"], tf32_8["driver"]) == ("8", "9119.0", "550.54.15")
    assert (site / tf32_8["file"]).is_file()
    points = list(csv.DictReader(io.StringIO(gz("inference-2026-11.csv.gz"))))
    assert {(p["batch_size"], p["latency_p99_ms"]) for p in points} >= {("1", "1.625"), ("32", "14.3")}
    document = json.loads(gz("results-2026-11.json.gz"))
    assert len(document["runs"]) == 11 and len(document["inference"]) == len(points)


def test_home_page_summarises_the_latest_run(built):
    site, _, _ = built
    home = page(site, "index.html")
    latest = home[home.index('id="latest-run"') :]
    assert "9 run(s) started on 2026-11-26" in latest and "<strong>8 success</strong>" in latest and "<strong>1 oom</strong>" in latest
    assert cells(row_with(latest, "<td>dgx-a100</td>"))[1] == "1x NVIDIA A100-SXM4-80GB, 8x NVIDIA A100-SXM4-80GB"


def test_unchanged_rebuild_uses_the_caches_and_a_change_invalidates_them(tmp_path):
    results = tmp_path / "results"
    shutil.copytree(DATA / "valid", results)
    work, site = tmp_path / "build", tmp_path / "site"
    with contextlib.redirect_stderr(io.StringIO()):
        build([results], site, work_dir=work)
    assert (work / "cache" / "results.sqlite").is_file() and list((work / "cache" / "charts").glob("*.svg"))
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        build([results], site, work_dir=work)
    assert "nothing changed since the last build" in stderr.getvalue() and "site is up to date" in stderr.getvalue()
    text = (results / "convergence.yaml").read_text(encoding="utf-8").replace("time_to_target_s: 16.8", "time_to_target_s: 15.9")
    (results / "convergence.yaml").write_text(text, encoding="utf-8")
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        build([results], site, work_dir=work)
    assert "nothing changed" not in stderr.getvalue()
    assert ">15.9 s<" in page(site, "models/digits-resnet10t.html")


def test_parse_cache_reparses_only_changed_files_and_survives_a_corrupt_cache(tmp_path):
    results = tmp_path / "results"
    shutil.copytree(DATA / "valid", results)
    cache = tmp_path / "cache.pickle"
    first = load_results_cached([results], cache)
    assert len(first.results) == 2 and cache.is_file()
    (results / "inference.yaml").write_text("schema_version: 1\n", encoding="utf-8")
    second = load_results_cached([results], cache)
    assert len(second.results) == 1 and second.bad_files == [str(results / "inference.yaml")]
    cache.write_bytes(b"not a pickle")
    third = load_results_cached([results], cache)
    assert [p.field for p in third.problems] == [p.field for p in second.problems]


def test_results_from_the_parse_cache_share_their_field_name_sets_and_copies_do_not_change_them(tmp_path):
    """Issue #12 item 4: a third of an unpickled Result's memory was its models' sets of field names, one per model."""
    results = tmp_path / "results"
    results.mkdir()
    for name in ("a", "b"):
        shutil.copyfile(DATA / "valid" / "convergence.yaml", results / f"{name}.yaml")
    cache = tmp_path / "cache.sqlite"
    load_results_cached([results], cache)
    a, b = (r.result for r in load_results_cached([results], cache).results)
    assert a.run.model_fields_set is b.run.model_fields_set and a.training.model_fields_set is b.training.model_fields_set
    names = set(a.run.model_fields_set)
    copied = a.run.model_copy(update={"log": "run.log"})
    assert copied.log == "run.log" and "log" in copied.model_fields_set and "log" not in names
    assert a.run.model_fields_set == b.run.model_fields_set == names and a.run == read_result(results / "a.yaml").run


def test_a_cached_parse_of_a_v1_file_does_not_survive_a_schema_change(tmp_path, monkeypatch):
    """Issue #15 item 6: the cache holds a v1 file as its migrated Result, so another schema version or another set
    of migrations parses it again; a file newer than this benchsite is a problem there too, the rest still load."""
    results = tmp_path / "results"
    results.mkdir()
    shutil.copyfile(DATA / "v1" / "inference.yaml", results / "old.yaml")
    shutil.copyfile(DATA / "malformed" / "newer_schema_version.yaml", results / "newer.yaml")
    cache = tmp_path / "cache.sqlite"
    parsed: list[str] = []
    monkeypatch.setattr(generator.cache, "read_result", lambda path: parsed.append(Path(path).name) or read_result(path))

    def load() -> list[str]:
        parsed.clear()
        report = load_results_cached([results], cache)
        assert [(r.path.name, r.result.schema_version) for r in report.results] == [("old.yaml", 3)]
        message = f"schema_version: 4 is newer than this benchsite reads (3); upgrade with: {upgrade_command()}"
        assert [str(p) for p in report.problems] == [f"{results / 'newer.yaml'}: {message}"]
        return sorted(parsed)

    assert load() == ["newer.yaml", "old.yaml"]
    assert load() == []  # nothing changed: both answers come from the cache
    monkeypatch.setattr(runners.schema, "SCHEMA_VERSION", 4)  # (the newer file now fails on its fields instead)
    parsed.clear()
    load_results_cached([results], cache)
    assert sorted(parsed) == ["newer.yaml", "old.yaml"]
    monkeypatch.undo()
    monkeypatch.setattr(generator.cache, "read_result", lambda path: parsed.append(Path(path).name) or read_result(path))
    assert load() == ["newer.yaml", "old.yaml"]  # back to version 3: parsed again, not served from version 4's cache
    monkeypatch.setattr(runners.schema, "MIGRATIONS", (*runners.schema.MIGRATIONS, lambda data: data))
    assert load() == ["newer.yaml", "old.yaml"]


def test_mike_deploys_the_generated_tree(built, tmp_path):
    _, work, _ = built
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "init"], check=True)
    env = {**mike_env(), "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    mike = [
        sys.executable,
        "-c",
        "import sys; from mike.driver import main; sys.exit(main())",
        "deploy",
        "-F",
        str(work / "mkdocs.yml"),
        "--branch",
        "gh-pages",
        "nightly",
    ]
    proc = subprocess.run(mike, cwd=repo, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    tree = subprocess.run([*git, "ls-tree", "-r", "--name-only", "gh-pages"], capture_output=True, text=True, check=True).stdout
    assert "nightly/index.html" in tree and "nightly/performance.html" in tree
    assert "nightly/data/" not in tree  # the data is published once, beside the versions (tests/test_scale.py)


def test_only_a_versioned_build_turns_on_the_mike_version_selector(tmp_path):
    with contextlib.redirect_stderr(io.StringIO()):
        plain = generate([DATA / "valid"], tmp_path / "site", work_dir=tmp_path / "plain")
        versioned = generate([DATA / "valid"], tmp_path / "site", work_dir=tmp_path / "versioned", versioned=True)
    assert "extra" not in yaml.safe_load(plain.read_text(encoding="utf-8"))
    assert yaml.safe_load(versioned.read_text(encoding="utf-8"))["extra"]["version"]["provider"] == "mike"
