"""Grouping: unlike setups (accelerator, driver, dataset version, precision) never share a number."""

from pathlib import Path

import pytest

from generator.aggregate import aggregate
from generator.facts import setup_of
from generator.results import LoadedResult
from runners.schema import read_result, result_to_data, validate_data

VALID = Path(__file__).parent / "data" / "valid"


def _variant(name: str, **changes) -> LoadedResult:
    """Return the valid convergence result with dotted-path changes, e.g. dataset__version='v2'."""
    data = result_to_data(read_result(VALID / "convergence.yaml"))
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = data
        for key in parents:
            node = node[key]
        node[last] = value
    path = Path(f"/results/{name}.yaml")
    return LoadedResult(path, path.name, validate_data(data, path))


def _gpu(driver: str) -> dict:
    device = {"index": 0, "name": "NVIDIA A100-SXM4-80GB", "uuid": "GPU-0", "memory_total_mib": 81920, "driver_version": driver}
    return {"kind": "nvidia", "probe": "nvml", "devices": [device]}


def test_cpu_runs_are_named_by_cpu_model():
    assert setup_of(_variant("a").result).accelerator == "CPU: Intel(R) Xeon(R) CPU @ 2.20GHz"


@pytest.mark.parametrize(
    "change",
    [
        {"dataset__version": "sklearn-digits-v2"},
        {"environment__accelerators": _gpu("535.104.05")},
        {"run__precision": "amp"},
        {"run__framework": "tensorflow"},
    ],
)
def test_unlike_setups_are_not_merged(change):
    agg = aggregate([_variant("a"), _variant("b", **change)])
    rows = agg.benchmarks[0].convergence
    assert len(rows) == 2
    assert all(row.time_to_target_s.n == 1 for row in rows)


def test_different_drivers_of_the_same_gpu_stay_apart():
    agg = aggregate(
        [_variant("a", environment__accelerators=_gpu("535.104.05")), _variant("b", environment__accelerators=_gpu("550.54.15"))]
    )
    assert sorted(row.setup.driver for row in agg.benchmarks[0].convergence) == ["535.104.05", "550.54.15"]


def test_repeats_of_one_setup_are_summarised():
    runs = [_variant(str(t), training__time_to_target__time_to_target_s=t) for t in (9.4, 5.1, 6.2)]
    (row,) = aggregate(runs).benchmarks[0].convergence
    assert row.reached == 3
    assert row.time_to_target_s.headline == pytest.approx(6.2)
    assert row.time_to_target_s.mean == pytest.approx(6.9)


def test_failed_runs_are_counted_and_kept_out_of_numbers():
    failed = _variant("f", run__status="failed", run__error="RuntimeError: boom", training__time_to_target=None)
    agg = aggregate([_variant("a"), failed])
    assert agg.status_counts == {"success": 1, "failed": 1}
    assert [r.source for r in agg.failed] == ["f.yaml"]
    assert agg.benchmarks[0].convergence[0].runs[0].source == "a.yaml"


def _gpu_with_power(watts: float) -> dict:
    gpu = _gpu("550.54.15")
    gpu["devices"][0]["power_limit_w"] = watts
    return gpu


def test_different_power_limits_stay_apart_and_are_named():
    agg = aggregate(
        [_variant("a", environment__accelerators=_gpu_with_power(400.0)), _variant("b", environment__accelerators=_gpu_with_power(250.0))]
    )
    rows = agg.benchmarks[0].convergence
    assert sorted(row.setup.power_limit for row in rows) == ["250", "400"]
    assert len({row.setup.comparable for row in rows}) == 2
    assert "400 W limit" in next(r for r in rows if r.setup.power_limit == "400").setup.label


def test_numbers_come_from_the_latest_repeat_group():
    old = [
        _variant(f"old{t}", run__repeat={"group": "night-1", "index": 0, "count": 1}, training__time_to_target__time_to_target_s=t)
        for t in (30.0,)
    ]
    new = [
        _variant(
            f"new{i}",
            run__repeat={"group": "night-2", "index": i, "count": 3},
            run__started_utc=f"2026-11-27T0{i}:00:00Z",  # a night after the old run
            run__finished_utc=f"2026-11-27T0{i}:30:00Z",
            training__time_to_target__time_to_target_s=t,
        )
        for i, t in enumerate((9.4, 5.1, 6.2))
    ]
    (row,) = aggregate(old + new).benchmarks[0].convergence
    assert row.time_to_target_s.n == 3 and row.time_to_target_s.headline == pytest.approx(6.2)
    assert row.earlier_runs == 1
