"""Group valid results into the numbers a page shows; never merge unlike setups."""

from __future__ import annotations

import functools
import re
import shlex
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime

from generator.derived import Summary, scaling, throughput_speedup, time_for_epochs
from generator.facts import Setup, accelerator_of, drivers_of, per_environment
from generator.results import LoadedResult
from runners.schema import InferencePoint, Mode, Result, Status

SPEEDUP_BASELINES = ("fp32", "tf32")


@dataclass
class ConvergenceRow:
    """Time to train and accuracy of the latest repeat group of one setup."""

    setup: Setup
    runs: list[LoadedResult]
    metric: str
    target: float
    reached: int
    time_to_target_s: Summary | None
    final_metric: Summary | None
    epochs: Summary
    top5: Summary | None = None
    earlier_runs: int = 0

    @property
    def latest(self) -> LoadedResult:
        return self.runs[-1]

    @property
    def throughput(self) -> Summary | None:
        """Training throughput measured during these runs, if recorded."""
        return _summary([r.result.training.throughput.samples_per_s for r in self.runs if r.result.training.throughput])


@dataclass
class ThroughputRow:
    """Training throughput of the latest repeat group of one setup, with what is derived from it."""

    setup: Setup
    runs: list[LoadedResult]
    samples_per_s: Summary
    weak_scaling: bool | None
    scaling: float | None = None
    speedup: float | None = None
    speedup_baseline: str | None = None
    baseline_runs: list[LoadedResult] = field(default_factory=list)
    epochs: int | None = None
    time_for_epochs_s: float | None = None
    earlier_runs: int = 0

    @property
    def latest(self) -> LoadedResult:
        return self.runs[-1]

    @property
    def scaling_kind(self) -> str:
        """'weak' (per-device batch fixed), 'strong' (global batch fixed) or '' when not recorded."""
        return "" if self.weak_scaling is None else "weak" if self.weak_scaling else "strong"


@dataclass
class LatencyRow:
    point: InferencePoint
    source: LoadedResult


@dataclass
class InferenceTable:
    """The latency sweep of the latest repeat group of one setup (accelerator x precision x ...)."""

    setup: Setup
    runs: list[LoadedResult]
    rows: list[LatencyRow]
    earlier_runs: int = 0

    @property
    def latest(self) -> LoadedResult:
        """The most recent run of this setup (the one the chart shows)."""
        return self.runs[-1]

    def quality(self, metric: str) -> Summary | None:
        """The validation ``metric`` of the timed model, over the runs of this repeat group that recorded it."""
        return _summary([r.result.inference.quality[metric] for r in self.runs if metric in r.result.inference.quality])

    def quality_missing(self, metric: str) -> str:
        """Why this setup has no quality figure (shown in place of one)."""
        return (
            f"the inference run(s) of this setup recorded no {metric} of the timed model (inference.quality); "
            "no other setup's figure is used in its place"
        )


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

    @functools.cached_property
    def failed(self) -> list[LoadedResult]:
        """Runs that did not succeed."""
        return [r for r in self.runs if r.facts.status is not Status.success]

    @functools.cached_property
    def successful(self) -> dict[tuple[Mode, Setup], list[LoadedResult]]:
        """The successful runs of each mode and setup, oldest first."""
        found: dict[tuple[Mode, Setup], list[LoadedResult]] = defaultdict(list)
        for loaded in self.runs:
            if loaded.facts.status is Status.success:
                found[(loaded.facts.mode, loaded.facts.setup)].append(loaded)
        return dict(found)

    @property
    def latest_runs(self) -> list[LoadedResult]:
        """The runs behind the numbers shown: the latest repeat group of every setup."""
        rows = [*self.convergence, *self.throughput, *self.inference]
        return sorted({id(r): r for row in rows for r in row.runs}.values(), key=_started)

    @property
    def commands(self) -> list[tuple[str, list[LoadedResult]]]:
        """The distinct command lines that produced the numbers shown, each with its runs."""
        by_command: dict[str, list[LoadedResult]] = defaultdict(list)
        for loaded in self.latest_runs:
            by_command[shlex.join(loaded.result.provenance.command)].append(loaded)
        return sorted(by_command.items())

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
        return max((r.facts.finished_utc for r in self.runs), default=None)

    @property
    def latest_session(self) -> list[LoadedResult]:
        """The runs started on the UTC day of the newest run ("last night's run"), oldest first."""
        if not self.runs:
            return []
        day = self.runs[-1].facts.started_utc.date()
        start = len(self.runs)
        while start > 0 and self.runs[start - 1].facts.started_utc.date() == day:
            start -= 1
        return self.runs[start:]

    @functools.cached_property
    def failed(self) -> list[LoadedResult]:
        """Every run that did not succeed, newest first."""
        return sorted((r for b in self.benchmarks for r in b.failed), key=_started, reverse=True)


# --- keys ------------------------------------------------------------------


def _started(loaded: LoadedResult) -> datetime:
    return loaded.facts.started_utc


def _setup(loaded: LoadedResult) -> Setup:
    return loaded.facts.setup


def _group(runs: Iterable[LoadedResult], key: Callable[[LoadedResult], Setup]) -> dict[Setup, list[LoadedResult]]:
    """Group runs, already sorted by start time (a benchmark's), by key; each group keeps that order."""
    groups: dict[Setup, list[LoadedResult]] = defaultdict(list)
    for loaded in runs:
        groups[key(loaded)].append(loaded)
    return dict(sorted(groups.items()))


def _successful(runs: list[LoadedResult], mode: Mode) -> list[LoadedResult]:
    return [r for r in runs if r.facts.mode is mode and r.facts.status is Status.success]


def latest_group(runs: list[LoadedResult]) -> list[LoadedResult]:
    """Return the runs of the newest repeat group among runs sorted by start time (older groups are history)."""
    group = runs[-1].facts.group
    return [r for r in runs if r.facts.group == group]


def epochs_of(result: Result) -> int | None:
    """Return the configured number of training epochs of a run, if it recorded one."""
    training = result.training
    if training is None:
        return None
    configured = training.hyperparameters.get("max_epochs") or training.hyperparameters.get("epochs")
    if isinstance(configured, int) and not isinstance(configured, bool) and configured > 0:
        return configured
    return training.time_to_target.max_epochs if training.time_to_target else None


# --- per mode ----------------------------------------------------------------


def _summary(values: list[float]) -> Summary | None:
    return Summary.of(values) if values else None


def convergence_rows(runs: list[LoadedResult]) -> list[ConvergenceRow]:
    """Summarise time to target and final accuracy per setup."""
    rows = []
    for setup, every in _group(_successful(runs, Mode.convergence), _setup).items():
        group = latest_group(every)
        ttts = [r.result.training.time_to_target for r in group]
        metric = ttts[-1].metric
        finals = [r.result.training.final_metrics[metric] for r in group if metric in r.result.training.final_metrics]
        top5 = [r.result.training.final_metrics["top5"] for r in group if metric != "top5" and "top5" in r.result.training.final_metrics]
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
                top5=_summary(top5),
                earlier_runs=len(every) - len(group),
            )
        )
    return rows


def throughput_rows(runs: list[LoadedResult], mode: Mode = Mode.throughput) -> list[ThroughputRow]:
    """Summarise training throughput of ``mode`` runs per setup: scaling over one device, speedup over fp32/tf32, time per N epochs."""
    rows = []
    for setup, every in _group(_successful(runs, mode), _setup).items():
        group = [r for r in latest_group(every) if r.result.training and r.result.training.throughput]
        if group:
            rate = Summary.of([r.result.training.throughput.samples_per_s for r in group])
            rows.append(ThroughputRow(setup, group, rate, group[-1].result.training.weak_scaling, earlier_runs=len(every) - len(group)))
    by_setup = {row.setup: row for row in rows}
    for row in rows:
        _derive(row, by_setup)
    return rows


def _same_configuration(row: ThroughputRow, single: ThroughputRow) -> bool:
    """Weak scaling keeps the per-device batch, strong scaling the global batch; compare only like with like."""
    mine, theirs = row.latest.result.training, single.latest.result.training
    return mine.batch_per_device == theirs.batch_per_device if row.weak_scaling is not False else mine.global_batch == theirs.global_batch


def _derive(row: ThroughputRow, by_setup: dict[Setup, ThroughputRow]) -> None:
    rate = row.samples_per_s.headline
    single = by_setup.get(replace(row.setup, devices=1))
    if row.setup.devices == 1:
        row.scaling = 1.0
    elif single is not None and _same_configuration(row, single):
        row.scaling = scaling(rate, single.samples_per_s.headline)
    baseline = next((p for p in SPEEDUP_BASELINES if replace(row.setup, precision=p) in by_setup), None)
    if baseline is not None and baseline != row.setup.precision:
        base = by_setup[replace(row.setup, precision=baseline)]
        row.speedup = throughput_speedup(rate, base.samples_per_s.headline)
        row.speedup_baseline = baseline
        row.baseline_runs = base.runs
    latest = row.latest.result
    row.epochs = epochs_of(latest)
    if row.epochs and latest.dataset.train_samples:
        row.time_for_epochs_s = time_for_epochs(rate, latest.dataset.train_samples, row.epochs)


def inference_tables(runs: list[LoadedResult]) -> list[InferenceTable]:
    """Collect the latency sweep of every run, one table per setup (accelerator x precision x ...)."""
    tables = []
    for setup, every in _group(_successful(runs, Mode.inference), _setup).items():
        group = latest_group(every)
        rows = [LatencyRow(point, loaded) for loaded in group for point in loaded.result.inference.results]
        rows.sort(key=lambda row: (row.point.batch_size, _started(row.source)))
        tables.append(InferenceTable(setup, group, rows, earlier_runs=len(every) - len(group)))
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
        suite=runs[-1].facts.suite,
        models=sorted({r.facts.model for r in runs}),
        runs=runs,
        convergence=convergence_rows(runs),
        throughput=throughput_rows(runs),
        convergence_throughput=throughput_rows(runs, Mode.convergence),
        inference=inference_tables(runs),
    )


def _hosts(runs: list[LoadedResult]) -> list[HostRow]:
    groups: dict[tuple[str, str, str, str], list[LoadedResult]] = defaultdict(list)
    key = per_environment(lambda env: (env.host.hostname, env.host.cpu_model, accelerator_of(env), drivers_of(env)))
    for loaded in runs:
        groups[key(loaded.facts.environment)].append(loaded)
    return [HostRow(*key, runs=len(group), latest_utc=max(r.facts.finished_utc for r in group)) for key, group in sorted(groups.items())]


def aggregate(results: list[LoadedResult]) -> Aggregate:
    """Group valid results by benchmark, then by setup within each mode."""
    runs = sorted(results, key=_started)
    by_benchmark: dict[str, list[LoadedResult]] = defaultdict(list)
    for loaded in runs:
        by_benchmark[loaded.facts.benchmark].append(loaded)
    names = sorted(by_benchmark)
    return Aggregate(
        runs=runs,
        benchmarks=[_benchmark(name, slug, by_benchmark[name]) for name, slug in zip(names, _unique_slugs(names), strict=True)],
        hosts=_hosts(results),
        status_counts=dict(Counter(r.facts.status.value for r in results).most_common()),
    )
