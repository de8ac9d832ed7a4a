"""Issue #11: numbers a reader can trust: one setup key and label, no borrowed values, honest labels and marks.

Unit tests for the setup key and the formats; a real build from fixtures for the pages, with the nightly-gpu results
of tests/data/nightly/ (written by tests/data/make_nightly.py exactly as that suite writes them).
"""

from __future__ import annotations

import contextlib
import io
import re
import shutil
from pathlib import Path

import pytest
import yaml

from generator.aggregate import aggregate
from generator.build import build
from generator.charts import figure_key, group_label
from generator.derived import Summary
from generator.facts import configuration, setup_label, setup_of
from generator.formats import MISSING, duration, exact_seconds, latency_marks, scaling, summary_marks
from generator.leaderboard import leaderboards
from generator.pages.data import relative_to_results
from generator.pages.templates import environment
from generator.rankings.devices import device_rankings
from generator.rankings.inference import inference_rankings
from generator.rankings.time_to_quality import training_rankings
from generator.rankings.valid_flops import vflops_rankings
from generator.results import load_results
from generator.settings import load_settings
from runners.datasets import DatasetInfo
from runners.record import RunSpec
from runners.schema import LatencyStats, Mode, Repeat, read_result
from runners.suites import load_suite
from runners.worker import _dataset_record

DATA = Path(__file__).parent / "data"
NIGHTLY = DATA / "nightly"
CONVERGENCE = DATA / "valid" / "convergence.yaml"
BAD = DATA / "site" / "bad" / "p99-below-p95.yaml"


def tagged(row_text: str) -> str:
    return re.sub(r"<[^>]+>", "", row_text).strip()


def cells(row_html: str) -> list[str]:
    return [tagged(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row_html, re.S)]


def section(html: str, heading_id: str) -> str:
    start = html.index(f'id="{heading_id}"')
    end = html.find("<h2", start)
    return html[start : end if end > 0 else None]


def body_rows(html: str) -> list[str]:
    """The HTML of every body row of the first table in html."""
    return html[html.index("<tbody>") : html.index("</tbody>")].split("<tr")[1:]


def page(site: Path, name: str) -> str:
    return (site / name).read_text(encoding="utf-8")


# --- the setup key and the one label -------------------------------------------------


def _variant(tmp_path: Path, name: str, change) -> Path:
    data = yaml.safe_load(CONVERGENCE.read_text(encoding="utf-8"))
    data["environment"]["device"] = "cuda"
    data["environment"]["accelerators"] = {
        "kind": "nvidia",
        "probe": "nvml",
        "devices": [
            {"index": 0, "name": "NVIDIA A100-SXM4-80GB", "uuid": "GPU-0", "memory_total_mib": 81920.0, "driver_version": "550.54.15"}
        ],
    }
    data["environment"]["accelerators"]["devices"][0]["power_limit_w"] = 400.0
    change(data)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_setup_key_separates_every_axis_the_site_never_mixes(tmp_path):
    def devices(n):
        def change(d):
            d["environment"]["accelerators"]["devices"] *= n
            d["environment"]["launch"].update(engine="torchrun", procs_per_node=n, world_size=n)

        return change

    changes = {
        "power": lambda d: d["environment"]["accelerators"]["devices"][0].update(power_limit_w=250.0),
        "driver": lambda d: d["environment"]["accelerators"]["devices"][0].update(driver_version="560.28.03"),
        "gpu": lambda d: d["environment"]["accelerators"]["devices"][0].update(name="NVIDIA H100 80GB HBM3"),
        "devices": devices(8),
        "precision": lambda d: d["run"].update(precision="amp-fp16"),
        "release": lambda d: d["dataset"].update(version="sklearn-digits-v2"),
        "framework": lambda d: d["run"].update(framework="tensorflow"),
        "shortened windows": lambda d: d["provenance"].update(window_scale=0.1),
    }
    base = setup_of(read_result(_variant(tmp_path, "base", lambda d: None)))
    same = setup_of(read_result(_variant(tmp_path, "same", lambda d: d["run"].update(id=d["run"]["id"][:-8] + "ffffffff"))))
    assert same == base
    for name, change in changes.items():
        other = setup_of(read_result(_variant(tmp_path, name, change)))
        assert other != base, name
        assert setup_label(other) != setup_label(base), name  # the label tells them apart too
        if name not in ("devices", "precision"):  # rows of one table; everything else is its own table and figure
            assert group_label(other.comparable) != group_label(base.comparable), name
            assert name == "framework" or figure_key(other) != figure_key(base), name
    quick = setup_of(read_result(_variant(tmp_path, "quick", changes["shortened windows"])))
    assert group_label(quick.comparable).endswith(", pytorch, windows x0.1 (quick check)")


def test_setup_label_names_driver_and_power_limit_and_a_cpu_as_a_cpu(tmp_path):
    gpu = setup_of(read_result(_variant(tmp_path, "gpu", lambda d: None)))
    assert gpu.label == "1x NVIDIA A100-SXM4-80GB (driver 550.54.15, 400 W limit), pytorch, fp32, digits sklearn-digits-v1"
    assert gpu.label == setup_label(gpu) and gpu.unit == "GPU"
    cpu = setup_of(read_result(CONVERGENCE))
    assert cpu.label == "1x CPU: Intel(R) Xeon(R) CPU @ 2.20GHz, pytorch, fp32, digits sklearn-digits-v1"
    assert cpu.unit == "CPU process" and cpu.driver_and_power == "none (CPU run)"


# --- one format for durations, scaling and marks ----------------------------------------


def test_one_duration_format_as_the_seeds_print_it():
    assert duration(122400) == "34.0 h" and exact_seconds(122400) == "122400 s"
    assert duration(3600) == "60.0 min" and duration(16.8) == "16.8 s" and duration(7200) == "2.0 h"


def test_scaling_reads_as_a_factor_not_a_device_count():
    assert scaling(9119 / 1209, "weak", 8) == "7.54 (weak scaling, 8 GPUs)"
    assert scaling(1.0, "weak", 1) == "1.00 (1 GPU)"
    assert scaling(1.9, "", 2, "CPU process") == "1.90 (scaling, 2 CPU processes)"


def test_marks_for_a_single_run_and_a_noisy_spread():
    assert summary_marks(Summary.of([97.5]), 0.05) == ["1 run"]
    assert summary_marks(Summary.of([9.4, 5.1, 6.2]), 0.05) == ["noisy"]
    assert summary_marks(Summary.of([0.7712, 0.7694, 0.7703]), 0.05) == []
    steady = LatencyStats(mean=2.0, stdev=0.04, min=1.9, p50=2.0, p90=2.1, p95=2.1, p99=2.2, max=2.3)
    skewed = LatencyStats(mean=2.0, stdev=0.1, min=1.0, p50=2.3, p90=2.4, p95=2.5, p99=2.6, max=2.7)
    assert latency_marks(3, steady, [], 0.25) == [] and latency_marks(1, steady, ["p99"], 0.25) == ["1 run", "few samples"]
    assert latency_marks(3, skewed, [], 0.25) == ["noisy"]  # p50 above the mean by more than the spread


def test_paths_on_pages_are_relative_to_the_results_folder(tmp_path):
    assert relative_to_results(tmp_path / "2026" / "a.yaml", [tmp_path]) == "2026/a.yaml"
    assert relative_to_results(tmp_path / "elsewhere" / "b.yaml", [tmp_path / "results"]) == "b.yaml"


# --- the dataset's identity: the suite's declared dataset, not its loader -------------------------


def test_nightly_gpu_results_name_imagenet_and_are_scored():
    """A result's dataset section as the nightly-gpu suite writes it, through the runner's own code, matches a target."""
    for bench in load_suite("nightly-gpu").benchmarks:
        assert (bench.dataset.name, bench.dataset.reader) == ("imagenet", "imagefolder")
    bench = load_suite("nightly-gpu").benchmark("resnet50-v1.5")
    spec = RunSpec(
        run_id="r",
        suite="nightly-gpu",
        benchmark=bench,
        framework="pytorch",
        mode=Mode.convergence,
        precision="amp-fp16",
        seed=0,
        repeat=Repeat(group="g", index=0, count=1),
        results_dir=Path("/results"),
        command=["benchsite"],
    )
    info = DatasetInfo(bench.dataset.name, bench.dataset.version, Path("/data/imagenet"), "sha256:" + "0" * 64, 1281167, 50000, 1000)
    record = _dataset_record(info, spec)
    assert (record.name, record.version) == ("imagenet", "ilsvrc2012")
    assert load_settings().quality_target(bench.task, record.name) is not None


def test_a_dataset_named_apart_from_its_loader_needs_the_loader():
    from runners.suites import DatasetSpec

    with pytest.raises(ValueError, match="needs a loader"):
        DatasetSpec(name="imagenet", version="ilsvrc2012")
    assert DatasetSpec(name="digits").reader == "digits"


# --- rankings from nightly-gpu results: every setup scored, no value crossing setups ---------------

# What each setup's own runs say (tests/data/make_nightly.py): hardware key -> value
OWN_TOP1 = {  # inference quality of the timed model, by (power or GPU, precision)
    ("H100", "amp-fp16"): "77.31",
    ("H100", "tf32"): "77.26",
    ("400 W", "tf32"): "77.18",
    ("400 W", "amp-fp16"): "76.99",
    ("250 W", "amp-fp16"): "76.83",
}


def _key(text: str) -> tuple[str, str]:
    hardware = "H100" if "H100" in text else "250 W" if "250 W limit" in text else "400 W"
    return hardware, "tf32" if "tf32" in text else "amp-fp16"


def test_nightly_results_are_scored_by_every_ranking_with_their_own_values():
    agg = aggregate(load_results([NIGHTLY]).results)
    settings = load_settings()
    (bench,) = agg.benchmarks
    assert len(bench.convergence) == 5 and len(bench.inference) == 5
    (vflops,) = vflops_rankings(agg, settings)
    assert vflops.target is not None and vflops.apart == [] and len(vflops.ranked) == 5
    for row in vflops.ranked:  # achieved quality: the mean of this setup's own latest repeat group
        own = [r.result.training.final_metrics["top1"] for r in row.row.runs]
        assert all(setup_of(r.result) == row.row.setup for r in row.row.runs)
        assert row.achieved == pytest.approx(sum(own) / len(own))
    (ttq,) = training_rankings(agg)
    assert len(ttq.reached) == 5 and ttq.not_reached == []
    (inference,) = inference_rankings(agg, settings.inference_batch_size)
    assert len(inference.ranked) == 5 and inference.without_batch == []
    (devices,) = [r for r in device_rankings(agg, settings) if r.dataset == "imagenet ilsvrc2012"]
    assert devices.apart == [] and len(devices.rows) == 5  # two power limits are two devices, never one row
    for row in devices.rows:
        (term,) = row.terms
        assert term.accuracy == term.table.latest.result.inference.quality["top1"]
        assert row.device == term.table.setup.hardware
    (task,) = leaderboards(agg, settings)
    board = task.boards[0]
    assert len(board.entries) == 5
    for entry in board.entries:
        assert entry.primary.n == 1 and entry.primary.mean == entry.table.latest.result.inference.quality["top1"]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Build the fixture site, the nightly-gpu results and a results folder holding a bad file and a small-CNN INT8 run."""
    tmp = tmp_path_factory.mktemp("trust")
    extra = tmp / "results"
    (extra / "bad").mkdir(parents=True)
    shutil.copy(BAD, extra / "bad" / BAD.name)
    data = yaml.safe_load((DATA / "valid" / "inference.yaml").read_text(encoding="utf-8"))
    data["run"].update(id="20261125T180300Z-digits-small-cnn-inference-pytorch-int8-0a0b0c0d", benchmark="digits-small-cnn")
    data["run"].update(model="Small CNN", precision="int8")
    data["inference"].update(precision="int8", quality={"top1": 0.9611, "reference_top1_fp32": 0.9694}, weights="trained by run r")
    (extra / "small-cnn-int8.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with contextlib.redirect_stderr(io.StringIO()):
        build([DATA / "valid", DATA / "site", NIGHTLY, extra], tmp / "site", work_dir=tmp / "build")
    return tmp / "site", tmp


def test_every_ranking_page_scores_the_nightly_results_and_no_value_crosses_setups(site):
    site, _ = site
    vflops = section(page(site, "rankings/valid-flops.html"), "resnet-50-v15")
    assert len(body_rows(vflops)) == 5 and "Not scored" not in vflops
    achieved = {(*_key(c[1]), c[1][:2]): c[4] for c in map(cells, body_rows(vflops))}
    assert achieved[("400 W", "amp-fp16", "8x")].startswith("77.03 % (n=3)")  # mean of 77.12, 76.94, 77.03
    assert achieved[("250 W", "amp-fp16", "8x")].startswith("76.81 % (n=1)")
    assert achieved[("400 W", "amp-fp16", "1x")].startswith("76.68 % (n=1)")
    assert achieved[("H100", "amp-fp16", "8x")].startswith("77.24 % (n=2)")
    ttq = section(page(site, "rankings/time-to-quality.html"), "resnet-50-v15")
    assert len(body_rows(ttq)) == 5 and 'title="29300 s">8.1 h' in ttq and "Did not reach" not in ttq
    assert len(body_rows(section(page(site, "rankings/inference.html"), "resnet-50-v15"))) == 5
    devices = section(page(site, "rankings/devices.html"), "image-classification-imagenet-ilsvrc2012")
    assert "Not counted" not in devices
    board = section(page(site, "leaderboard.html"), "image-classification-imagenet")
    rows = [cells(r) for r in body_rows(board)]
    assert len(rows) == 5
    for row in rows:  # each row's primary result is its own setup's, whatever the others measured
        assert row[5] == f"{OWN_TOP1[_key(row[3] + row[4])]} (n=1) 1 run"


def test_leaderboard_never_borrows_another_setups_accuracy(site):
    site, _ = site
    board = section(page(site, "leaderboard.html"), "image-classification-digits")
    cpu = next(r for r in body_rows(board) if "CPU: Intel" in r and "ResNet-10-T" in r)
    # the CPU run recorded no quality of its timed model; its training run's 97.5 (or the A100's) is not shown instead
    assert cells(cpu)[5] == f"{MISSING}*" and "97.5" not in cells(cpu)[5]
    assert 'title="the inference run(s) of this setup recorded no top1 of the timed model' in cpu
    assert "No primary result: ResNet-10-T on digits on 1x CPU: Intel" in tagged(board)  # the label links to its system


def test_cpu_runs_are_not_labelled_as_gpu_results(site):
    site, _ = site
    board = page(site, "leaderboard.html")
    assert "GPU FPS" not in board and "GPU memory" not in board and "GPU throughput" not in board
    digits = page(site, "models/digits-resnet10t.html")
    assert "Batch per GPU" not in digits and "Scaling vs 1 GPU" not in digits and "Batch per device" in digits
    perf = page(site, "performance.html")
    assert "Batch per GPU" not in perf and "Scaling vs 1 GPU" not in perf
    cpu = next(r for r in perf.split("<tr>") if "CPU: Intel" in r and "16.8 s" in r)
    assert "none (CPU run)" in cells(cpu)


def test_setup_labels_name_power_limit_and_driver_everywhere(site):
    site, _ = site
    model = page(site, "models/resnet50-v1.5.html")
    accuracy = model[model.index('id="training-accuracy-results"') : model.index('id="training-performance-results"')]
    assert "(driver 550.54.15, 250 W limit)" in accuracy and "(driver 550.54.15, 400 W limit)" in accuracy
    for name in ("rankings/time-to-quality.html", "rankings/valid-flops.html", "rankings/inference.html", "leaderboard.html"):
        html = page(site, name)
        assert "250 W limit" in html and "400 W limit" in html and "driver 550.90.07, 700 W limit" in html, name


def test_time_to_train_has_one_format_on_every_page(site):
    site, _ = site
    model = page(site, "models/resnet50-v1.5.html")
    perf = page(site, "performance.html")
    # H100 8x AMP: mean of 12300 and 12400 s
    assert 'title="12350 s">3.4 h</a>' in model
    assert re.search(r'title="12350 s"[^>]*>3\.4 h</a>', perf)
    assert ">12350<" not in model and ">12350<" not in perf


def test_history_tables_print_a_time_to_target_as_a_duration():
    macros = environment({}).from_string('{% import "_macros.md.j2" as m %}{{ m.metric_value(v, u) }}')
    assert macros.render(v=122400.0, u="s") == '<span title="122400 s">34.0 h</span>'
    assert macros.render(v=232.08, u="samples/s") == "232.08"


def test_scaling_says_what_it_is_and_one_gpu_rows_show_one(site):
    site, _ = site
    model = page(site, "models/resnet50-v1.5.html")
    perf = model[model.index('id="training-performance-results"') : model.index('id="inference-performance-results"')]
    assert "Scaling (speedup over 1 device)" in perf
    assert "7.70 (weak scaling, 8 GPUs)" in perf  # A100 400 W TF32: 11390 / 1480
    assert "1.00 (1 GPU)" in perf and "x (weak)" not in perf


def test_model_page_header_and_feature_matrix_list_what_the_results_contain(site):
    site, _ = site
    cnn = page(site, "models/digits-small-cnn.html")
    assert "precisions in the results: int8 (inference)" in tagged(cnn)
    assert "inference: int8" in tagged(cnn) and "Precisions: fp32" not in tagged(cnn)
    int8 = next(r for r in cnn.split("<tr>") if "INT8 inference" in r)
    assert cells(int8)[1] == "Yes" and "small-cnn-int8.yaml" in int8


def test_single_runs_and_noisy_figures_carry_a_visible_mark(site):
    site, _ = site
    ttq = section(page(site, "rankings/time-to-quality.html"), "resnet-50-v15")
    marks = {(*_key(c[1]), c[1][:2]): c[2] for c in map(cells, body_rows(ttq))}
    assert marks[("250 W", "amp-fp16", "8x")] == "8.1 h 1 run"
    assert marks[("400 W", "amp-fp16", "8x")] == "6.3 h"  # three repeats, 0.4 % spread: no mark
    assert 'class="benchsite-mark" title="from a single run' in ttq
    digits = page(site, "models/digits-resnet10t.html")
    assert "6.2 s olympic noisy" in tagged(digits)  # 9.4, 5.1, 6.2 s: a spread far above trust.max_cv


def test_data_page_shows_no_absolute_local_path(site):
    site, tmp = site
    data = page(site, "data.html")
    skipped = data[data.index('id="skipped-files"') :]
    assert "<code>bad/p99-below-p95.yaml</code>" in skipped
    assert str(tmp) not in data and str(DATA) not in data


def test_model_page_inference_tables_state_the_top1_of_the_timed_weights(site):
    site, _ = site
    model = tagged(page(site, "models/resnet50-v1.5.html"))
    assert "700 W limit), pytorch, amp-fp16, imagenet ilsvrc2012; top1 of the timed weights 77.31 % (n=1)" in model
    assert "top1 of the timed weights not recorded" in tagged(page(site, "models/digits-resnet10t.html"))


def test_a_history_never_joins_two_power_limits(tmp_path):
    """A power cap is another setup: a 250 W night after 400 W nights starts its own series, not a 'regression'."""
    full = read_result(_variant(tmp_path, "full", lambda d: None))
    capped = read_result(_variant(tmp_path, "capped", lambda d: d["environment"]["accelerators"]["devices"][0].update(power_limit_w=250.0)))
    assert configuration(full) != configuration(capped) and "400 W limit" in configuration(full)


def test_a_quick_checks_shortened_windows_are_named_in_their_own_table_tab_and_rows(tmp_path):
    """A quick check (benchsite run --window-scale) of a setup the nightlies also run is never a row read as theirs."""
    (original,) = NIGHTLY.rglob("*-throughput-pytorch-amp-fp16-74d96bd7.yaml")
    data = yaml.safe_load(original.read_text(encoding="utf-8"))
    data["run"]["id"] = data["run"]["id"][:-8] + "0c0c0c0c"
    data["provenance"]["window_scale"] = 0.1
    data["training"]["throughput"]["samples_per_s"] = 2345.6
    extra = tmp_path / "results"
    extra.mkdir()
    (extra / "quick.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with contextlib.redirect_stderr(io.StringIO()):
        build([NIGHTLY, extra], tmp_path / "site", work_dir=tmp_path / "build")
    html = page(tmp_path / "site", "models/resnet50-v1.5.html")
    training = html[html.index('id="training-performance-results"') : html.index('id="energy"')]
    tabs = re.findall(r'<label for="__tabbed_[^"]*">(.*?)</label>', training)
    quick = [t for t in tabs if t.endswith("windows x0.1 (quick check)")]
    assert len(quick) == 1 and quick[0].replace(", windows x0.1 (quick check)", "") in tabs  # beside the full-window tab
    energy = [r for r in body_rows(html[html.index('id="energy"') :]) if "0c0c0c0c" in r]
    assert energy and all("windows x0.1 (quick check)" in r for r in energy)
    assert "2345.6" in training
