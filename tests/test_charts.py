"""What the charts say, checked on their Vega-Lite specs: integer count axes, honest history axes, log loss, titled setups."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator.aggregate import aggregate
from generator.charts import chart_specs, curve_specs, history_spec, latency_specs, nice_ticks, scaling_specs, throughput_batch_specs
from generator.history import history
from generator.results import LoadedResult, load_results
from generator.settings import HistorySettings
from generator.svg import to_svg
from runners.schema import validate_data

DATA = Path(__file__).parent / "data"


def fixture_agg(*folders: str):
    return aggregate(load_results([DATA / f for f in folders]).results)


def variant(template: str, edit: Any, name: str) -> LoadedResult:
    """A copy of a committed fixture with ``edit(data)`` applied, validated like a file read from disk."""
    data = yaml.safe_load((DATA / "valid" / template).read_text(encoding="utf-8"))
    data = copy.deepcopy(data)
    edit(data)
    return LoadedResult(Path(name), name, validate_data(data, name))  # a v1 template, migrated


def layers(spec: dict, data: dict | None = None, datasets: dict | None = None) -> list[dict]:
    """Every unit spec inside a (possibly nested) layer, each with the data it draws (its own or its parent's; a named
    source is looked up in the top-level datasets, as Vega-Lite does)."""
    datasets = spec.get("datasets", datasets)
    data = spec.get("data", data)
    if data and "name" in data:
        data = {"values": datasets[data["name"]]}
    if "layer" in spec:
        return [unit for layer in spec["layer"] for unit in layers(layer, data, datasets)]
    return [{**spec, "data": data}]


def subtitle(spec: dict) -> str:
    return " ".join(spec["title"]["subtitle"])


# --- 9: integer count axes -----------------------------------------------------------


def test_gpu_count_axis_ticks_only_at_the_integer_counts_measured():
    specs = scaling_specs(next(b for b in fixture_agg("site").benchmarks if b.name == "imagenet-efficientnet-b0"))
    assert specs, "the 1- and 8-GPU throughput fixtures make a scaling chart"
    for spec in specs.values():
        axis = layers(spec.to_dict())[0]["encoding"]["x"]["axis"]
        assert axis["values"] == [1, 8] and axis["format"] == "d" and axis["tickMinStep"] == 1


def test_batch_size_axes_tick_only_at_the_batch_sizes_measured():
    bench = next(b for b in fixture_agg("valid").benchmarks)
    for spec in (throughput_batch_specs(bench) | latency_specs(bench)).values():
        axis = layers(spec.to_dict())[0]["encoding"]["x"]["axis"]
        assert axis["values"] == sorted({p.batch_size for t in bench.inference for p in t.latest.result.inference.results})
        assert all(isinstance(v, int) for v in axis["values"]) and axis["format"] == "d"


# --- 10: history axes ----------------------------------------------------------------


def inference_night(started: datetime, rate: float, n: int) -> LoadedResult:
    def edit(data: dict) -> None:
        data["run"]["started_utc"] = started.strftime("%Y-%m-%dT%H:%M:%SZ")
        data["run"]["finished_utc"] = (started + timedelta(seconds=90)).strftime("%Y-%m-%dT%H:%M:%SZ")
        data["run"]["repeat"]["group"] = f"night-{n}"
        for point in data["inference"]["results"]:
            point["samples_per_s"] = rate * point["batch_size"]

    return variant("inference.yaml", edit, f"night-{n}.yaml")


def throughput_history(rates: list[float], gaps: list[timedelta] | None = None):
    start = datetime(2026, 11, 1, 2, 0)
    times = [start]
    for gap in gaps or [timedelta(days=1)] * (len(rates) - 1):
        times.append(times[-1] + gap)
    agg = aggregate([inference_night(t, r, i) for i, (t, r) in enumerate(zip(times, rates, strict=True))])
    found = history(agg, HistorySettings())
    return next(s for s in found.series if s.metric.name == "inference throughput, batch 1")


def y_axis(spec: dict) -> dict:
    line = next(unit for unit in layers(spec) if unit["mark"]["type"] == "line")
    return line["encoding"]["y"]


def test_a_tiny_wiggle_of_two_runs_is_a_small_move_on_an_axis_of_three_or_more_ticks():
    series = throughput_history([232.08, 232.23])  # a 0.06 % move
    spec = history_spec(series).to_dict()
    y = y_axis(spec)
    ticks, (low, high) = y["axis"]["values"], y["scale"]["domain"]
    assert len(ticks) >= 3
    # the move takes a small part of the axis: the axis spans at least the band of the smallest change that counts (3 %)
    assert (232.23 - 232.08) / (high - low) < 0.05 and high - low >= 2 * 0.03 * 232
    # two runs cannot estimate the noise: no band is drawn, the caption says so
    assert not [unit for unit in layers(spec) if unit["mark"]["type"] == "rect"]
    assert "Too few runs (2) to estimate the noise" in history_spec(series).caption


def test_a_checked_history_draws_its_noise_band_around_each_level():
    rates = [232.0 + (0.1 if i % 2 else -0.1) for i in range(12)]
    series = throughput_history(rates)
    spec = history_spec(series).to_dict()
    band = next(unit for unit in layers(spec) if unit["mark"]["type"] == "rect")
    (level,) = band["data"]["values"]
    assert level["low"] <= min(rates) and level["high"] >= max(rates)  # every run inside: noise, not a change
    assert len(y_axis(spec)["axis"]["values"]) >= 3


def test_quality_near_one_gets_distinct_tick_labels_and_an_axis_that_stops_at_one():
    ticks = nice_ticks(0.9705, 0.9851)
    assert len(ticks) >= 3 and len({f"{t:.3f}" for t in ticks}) == len(ticks)
    assert ticks[0] <= 0.9705 and ticks[-1] >= 0.9851

    def quality(data: dict, value: float, n: int) -> None:
        data["run"]["started_utc"] = f"2026-11-{n + 1:02d}T02:00:00Z"
        data["run"]["finished_utc"] = f"2026-11-{n + 1:02d}T03:00:00Z"
        data["run"]["repeat"]["group"] = f"q-{n}"
        data["training"]["final_metrics"]["top1"] = value

    runs = [variant("convergence.yaml", lambda d, v=v, n=n: quality(d, v, n), f"q{n}.yaml") for n, v in enumerate([0.978, 0.978])]
    series = next(s for s in history(aggregate(runs), HistorySettings()).series if s.metric.name == "final quality")
    axis = y_axis(history_spec(series).to_dict())["axis"]
    assert len(axis["values"]) >= 3 and axis["values"][-1] <= 1.0 and axis["values"][0] < 0.978  # not one tick "1"


def test_one_time_format_on_the_history_axis_and_points_called_runs():
    minutes_78 = throughput_history([100.0, 101.0, 100.5], gaps=[timedelta(minutes=78), timedelta(days=1)])
    for series in (minutes_78, throughput_history([100.0 + i % 3 for i in range(30)])):
        spec = history_spec(series).to_dict()
        line = next(unit for unit in layers(spec) if unit["mark"]["type"] == "line")
        axis = line["encoding"]["x"]["axis"]
        assert isinstance(axis["format"], str) and "formatType" not in axis  # one explicit format, no multi-format ticks
        steps = {b - a for a, b in zip(axis["values"], axis["values"][1:], strict=False)}
        assert len(steps) == 1  # evenly spaced, round ticks
        assert "run" in line["encoding"]["x"]["title"] and "night" not in str(spec).lower()


# --- 11: loss on a log scale ---------------------------------------------------------


def test_loss_curves_use_a_log_scale():
    specs = curve_specs(fixture_agg("valid").benchmarks[0])
    loss = [s for s in specs.values() if s.kind == "loss"]
    assert loss
    for spec in loss:
        y = layers(spec.to_dict())[0]["encoding"]["y"]
        assert y["scale"]["type"] == "log" and "log" in y["title"]


# --- 12: titles name the setup; frameworks overlaid ----------------------------------


@pytest.mark.parametrize("folders", [("valid",), ("site", "ranked")])
def test_every_chart_title_names_device_framework_and_precision(folders):
    agg = fixture_agg(*folders)
    found = history(agg, HistorySettings())
    specs = [spec for mine in chart_specs(agg, found).values() for spec in mine.values()]
    assert specs
    for spec in specs:
        text = subtitle(spec.to_dict())
        assert "GPU: " in text or "CPU: " in text, text
        assert "pytorch" in text or "tensorflow" in text, text
        assert any(p in text for p in ("fp32", "amp", "tf32", "int8")), text
    gpu = [subtitle(s.to_dict()) for s in specs if "A100" in s.group]
    assert all("GPU: NVIDIA A100" in t for t in gpu)


def test_pytorch_and_tensorflow_of_one_benchmark_share_a_chart_coloured_by_framework():
    def tensorflow(data: dict) -> None:
        data["run"]["framework"] = "tensorflow"
        data["run"]["framework_version"] = "2.21.0"
        data["run"]["repeat"]["group"] += "-tf"

    runs = [variant(name, lambda d: None, name) for name in ("convergence.yaml", "inference.yaml")]
    runs += [variant(name, tensorflow, f"tf-{name}") for name in ("convergence.yaml", "inference.yaml")]
    bench = aggregate(runs).benchmarks[0]
    specs = curve_specs(bench) | latency_specs(bench) | throughput_batch_specs(bench)
    assert {s.kind for s in specs.values()} == {"accuracy", "loss", "latency", "throughput-batch"}
    assert len(specs) == 4  # one figure each, both frameworks in it
    for spec in specs.values():
        unit = layers(spec.to_dict())[0]
        assert unit["encoding"]["color"]["field"] == "framework"
        assert {row["framework"] for row in unit["data"]["values"]} == {"pytorch", "tensorflow"}
        assert "pytorch + tensorflow" in subtitle(spec.to_dict())


# --- 13: not enough history is not "no change" ---------------------------------------


def test_a_series_too_short_to_check_says_so_and_is_not_counted_as_checked():
    series = throughput_history([232.08, 232.23])
    assert not series.checked and series.status == "not enough history (2 of 10 runs)"
    agg = aggregate([inference_night(datetime(2026, 11, 1, 2) + timedelta(days=i), 100.0, i) for i in range(10)])
    found = history(agg, HistorySettings())
    assert found.every_series and found.checked == found.every_series and not found.unchecked
    assert {s.status for s in found.every_series} == {"checked, no change"}


def test_the_first_and_last_runs_are_drawn_whole_inside_a_history_plot_clipped_for_zoom():
    # the interactive chart clips its marks to the plot (so that zooming and panning stay inside it): the time axis is
    # padded so that the points at either end are not cut in half there
    spec = history_spec(throughput_history([100.0 + i % 3 for i in range(30)])).to_dict()
    svg = to_svg(spec)
    symbols = re.findall(r'<g class="mark-symbol.*?</g>', svg, flags=re.S)
    xs = [float(x) for group in symbols for x in re.findall(r'transform="translate\(([-\d.]+),', group)]
    radius = 2.5  # a line's point: 30 square pixels
    assert len(xs) == 30 and min(xs) - radius >= 0 and max(xs) + radius <= spec["width"]


def test_a_history_axis_labels_its_first_day_or_hour_not_a_step_later():
    # the runs start at 02:00: a daily axis labels the next midnight, not one a step (5 days) later
    for gaps, rounding in (([timedelta(days=1)] * 29, timedelta(days=1)), ([timedelta(minutes=78)] * 5, timedelta(hours=1))):
        spec = history_spec(throughput_history([100.0 + i % 3 for i in range(len(gaps) + 1)], gaps=gaps)).to_dict()
        line = next(unit for unit in layers(spec) if unit["mark"]["type"] == "line")
        ticks = [datetime.fromtimestamp(ms / 1000, UTC) for ms in line["encoding"]["x"]["axis"]["values"]]
        runs = [datetime.fromisoformat(row["started"]) for row in spec["datasets"]["runs"]]
        assert min(runs) <= ticks[0] < min(runs) + rounding  # the first tick is on the axis, at the first round time
        assert ticks[-1] >= max(runs)
