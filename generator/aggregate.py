"""Group valid results into the numbers a page shows; never merge unlike setups."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime

from generator.derived import Summary, scaling, throughput_speedup
from generator.results import LoadedResult
from runners.schema import InferencePoint, Mode, Result, Status

SPEEDUP_BASELINES = ("fp32", "tf32")


@dataclass(frozen=True, order=True)
class Setup:
    """Everything that must match for runs to share one number."""

    model: str
    framework: str
    accelerator: str
    driver: str
    devices: int
    precision: str
    dataset: str

    @property
    def label(self) -> str:
        """Name the setup in one line, e.g. '8x NVIDIA A100 (driver 550.54), pytorch, amp'."""
        driver = f" (driver {self.driver})" if self.driver else ""
        return f"{self.devices}x {self.accelerator}{driver}, {self.framework}, {self.precision}, {self.dataset}"


@dataclass
class ConvergenceRow:
    setup: Setup
    runs: list[LoadedResult]
    metric: str
    target: float
    reached: int
    time_to_target_s: Summary | None
    final_metric: Summary | None
    epochs: Summary


@dataclass
class ThroughputRow:
    setup: Setup
    runs: list[LoadedResult]
    samples_per_s: Summary
    weak_scaling: bool | None
    scaling: float | None = None
    speedup: float | None = None
    speedup_baseline: str | None = None


@dataclass
class LatencyRow:
    point: InferencePoint
    source: LoadedResult


@dataclass
class InferenceTable:
    setup: Setup
    runs: list[LoadedResult]
    rows: list[LatencyRow]

    @property
    def latest(self) -> LoadedResult:
        """The most recent run of this setup (the one the chart shows)."""
        return self.runs[-1]


@dataclass
class BenchmarkAggregate:
    name: str
    slug: str
    suite: str
    models: list[str]
    runs: list[LoadedResult]
    convergence: list[ConvergenceRow] = field(default_factory=list)
    throughput: list[ThroughputRow] = field(default_factory=list)
    convergence_throughput: list[ThroughputRow] = field(default_factory=list)
    inference: list[InferenceTable] = field(default_factory=list)

    @property
    def failed(self) -> list[LoadedResult]:
        """Runs that did not succeed."""
        return [r for r in self.runs if r.result.run.status is not Status.success]

    @property
    def fastest_convergence(self) -> ConvergenceRow | None:
        """The setup with the shortest time to target, if any reached it."""
        reached = [row for row in self.convergence if row.time_to_target_s is not None]
        return min(reached, key=lambda row: row.time_to_target_s.headline, default=None)

    @property
    def peak_inference(self) -> LatencyRow | None:
        """The inference point with the highest throughput."""
        rows = [row for table in self.inference for row in table.rows]
        return max(rows, key=lambda row: row.point.samples_per_s, default=None)


@dataclass
class HostRow:
    hostname: str
    cpu_model: str
    accelerator: str
    driver: str
    runs: int
    latest_utc: datetime


@dataclass
class Aggregate:
    runs: list[LoadedResult]
    benchmarks: list[BenchmarkAggregate]
    hosts: list[HostRow]
    status_counts: dict[str, int]

    @property
    def latest_utc(self) -> datetime | None:
        """When the most recent run finished."""
        return max((r.result.run.finished_utc for r in self.runs), default=None)

    @property
    def failed(self) -> list[LoadedResult]:
        """Every run that did not succeed, newest first."""
        return sorted((r for b in self.benchmarks for r in b.failed), key=_started, reverse=True)


# --- keys ------------------------------------------------------------------


def accelerator_name(result: Result) -> str:
    """Name what a run computed on: the GPU name(s), or 'CPU: <cpu model>' without an accelerator."""
    acc = result.environment.accelerators
    if acc.kind == "none":
        return f"CPU: {result.environment.host.cpu_model}"
    return " + ".join(sorted({d.name for d in acc.devices}))


def driver_version(result: Result) -> str:
    """Return the accelerator driver version(s), or '' without an accelerator."""
    return " + ".join(sorted({d.driver_version for d in result.environment.accelerators.devices}))


def setup_of(result: Result, precision: str | None = None) -> Setup:
    """Return the grouping key of one result."""
    return Setup(
        model=result.run.model,
        framework=result.run.framework,
        accelerator=accelerator_name(result),
        driver=driver_version(result),
        devices=result.environment.launch.world_size,
        precision=precision or result.run.precision,
        dataset=f"{result.dataset.name} {result.dataset.version}",
    )


def _started(loaded: LoadedResult) -> datetime:
    return loaded.result.run.started_utc


def _group(runs: Iterable[LoadedResult], key: Callable[[LoadedResult], Setup]) -> dict[Setup, list[LoadedResult]]:
    groups: dict[Setup, list[LoadedResult]] = defaultdict(list)
    for loaded in sorted(runs, key=_started):
        groups[key(loaded)].append(loaded)
    return dict(sorted(groups.items()))


def _successful(runs: list[LoadedResult], mode: Mode) -> list[LoadedResult]:
    return [r for r in runs if r.result.run.mode is mode and r.result.run.status is Status.success]


# --- per mode ----------------------------------------------------------------


def _summary(values: list[float]) -> Summary | None:
    return Summary.of(values) if values else None


def convergence_rows(runs: list[LoadedResult]) -> list[ConvergenceRow]:
    """Summarise time to target and final accuracy per setup."""
    rows = []
    for setup, group in _group(_successful(runs, Mode.convergence), lambda r: setup_of(r.result)).items():
        ttts = [r.result.training.time_to_target for r in group]
        metric = ttts[-1].metric
        finals = [r.result.training.final_metrics[metric] for r in group if metric in r.result.training.final_metrics]
        rows.append(
            ConvergenceRow(
                setup=setup,
                runs=group,
                metric=metric,
                target=ttts[-1].target,
                reached=sum(t.reached for t in ttts),
                time_to_target_s=_summary([t.time_to_target_s for t in ttts if t.reached]),
                final_metric=_summary(finals),
                epochs=Summary.of([t.epochs for t in ttts]),
            )
        )
    return rows


def throughput_rows(runs: list[LoadedResult], mode: Mode = Mode.throughput) -> list[ThroughputRow]:
    """Summarise training throughput of ``mode`` runs per setup, with scaling over one device and speedup over fp32/tf32."""
    rows = [
        ThroughputRow(
            setup, group, Summary.of([r.result.training.throughput.samples_per_s for r in group]), group[-1].result.training.weak_scaling
        )
        for setup, group in _group(_successful(runs, mode), lambda r: setup_of(r.result)).items()
        if all(r.result.training and r.result.training.throughput for r in group)
    ]
    by_setup = {row.setup: row.samples_per_s.headline for row in rows}
    for row in rows:
        single = by_setup.get(replace(row.setup, devices=1))
        if single is not None and row.setup.devices > 1:
            row.scaling = scaling(row.samples_per_s.headline, single)
        baseline = next((p for p in SPEEDUP_BASELINES if replace(row.setup, precision=p) in by_setup), None)
        if baseline is not None and baseline != row.setup.precision:
            row.speedup = throughput_speedup(row.samples_per_s.headline, by_setup[replace(row.setup, precision=baseline)])
            row.speedup_baseline = baseline
    return rows


def inference_tables(runs: list[LoadedResult]) -> list[InferenceTable]:
    """Collect the latency sweep of every run, one table per setup (accelerator x precision x ...)."""
    tables = []
    key = lambda r: setup_of(r.result, r.result.inference.precision)  # noqa: E731
    for setup, group in _group(_successful(runs, Mode.inference), key).items():
        rows = [LatencyRow(point, loaded) for loaded in group for point in loaded.result.inference.results]
        rows.sort(key=lambda row: (row.point.batch_size, _started(row.source)))
        tables.append(InferenceTable(setup, group, rows))
    return tables


# --- the whole ---------------------------------------------------------------


def slugify(name: str) -> str:
    """Turn a benchmark name into a safe file name."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-.")
    return slug or "benchmark"


def _unique_slugs(names: list[str]) -> list[str]:
    seen: Counter[str] = Counter()
    slugs = []
    for name in names:
        slug = slugify(name)
        seen[slug] += 1
        slugs.append(slug if seen[slug] == 1 else f"{slug}-{seen[slug]}")
    return slugs


def _benchmark(name: str, slug: str, runs: list[LoadedResult]) -> BenchmarkAggregate:
    return BenchmarkAggregate(
        name=name,
        slug=slug,
        suite=runs[-1].result.run.suite,
        models=sorted({r.result.run.model for r in runs}),
        runs=runs,
        convergence=convergence_rows(runs),
        throughput=throughput_rows(runs),
        convergence_throughput=throughput_rows(runs, Mode.convergence),
        inference=inference_tables(runs),
    )


def _hosts(runs: list[LoadedResult]) -> list[HostRow]:
    groups: dict[tuple[str, str, str, str], list[LoadedResult]] = defaultdict(list)
    for loaded in runs:
        res = loaded.result
        groups[(res.environment.host.hostname, res.environment.host.cpu_model, accelerator_name(res), driver_version(res))].append(loaded)
    return [
        HostRow(*key, runs=len(group), latest_utc=max(r.result.run.finished_utc for r in group)) for key, group in sorted(groups.items())
    ]


def aggregate(results: list[LoadedResult]) -> Aggregate:
    """Group valid results by benchmark, then by setup within each mode."""
    by_benchmark: dict[str, list[LoadedResult]] = defaultdict(list)
    for loaded in sorted(results, key=_started):
        by_benchmark[loaded.result.run.benchmark].append(loaded)
    names = sorted(by_benchmark)
    return Aggregate(
        runs=sorted(results, key=_started),
        benchmarks=[_benchmark(name, slug, by_benchmark[name]) for name, slug in zip(names, _unique_slugs(names), strict=True)],
        hosts=_hosts(results),
        status_counts=dict(Counter(r.result.run.status.value for r in results).most_common()),
    )
