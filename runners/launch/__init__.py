"""Plan a suite into runs and launch each in its own process; one failing run never stops the suite."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from runners.launch.local import LaunchOutcome, launch_local
from runners.record import RunSpec
from runners.schema import Mode, Repeat, Status, utc_now
from runners.suites import Suite, SuiteError, load_suite
from runners.writing import new_run_id


@dataclass(frozen=True)
class RunRequest:
    suite: str
    benchmarks: list[str] = field(default_factory=list)
    modes: list[str] = field(default_factory=list)
    results_dir: Path = Path("results")
    data_dir: Path | None = None
    cache_dir: Path | None = None
    device: str = "auto"
    timeout_s: float | None = None
    command: list[str] = field(default_factory=list)


@dataclass
class SuiteOutcome:
    runs: list[LaunchOutcome] = field(default_factory=list)

    @property
    def all_succeeded(self) -> bool:
        return bool(self.runs) and all(r.status is Status.success for r in self.runs)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for run in self.runs:
            counts[run.status.value] = counts.get(run.status.value, 0) + 1
        return counts


def plan_runs(suite: Suite, request: RunRequest) -> list[RunSpec]:
    """Expand the suite into one RunSpec per benchmark x framework x mode x precision."""
    benchmarks = [suite.benchmark(name) for name in request.benchmarks] if request.benchmarks else suite.benchmarks
    stamp = utc_now()
    specs = []
    for bench in benchmarks:
        modes = [m for m in bench.modes if not request.modes or m.value in request.modes]
        for framework in bench.implementations:
            for mode in modes:
                for precision in bench.precisions:
                    key = f"{suite.name}/{bench.name}/{framework}/{mode.value}/{precision}/{stamp.isoformat()}"
                    group = f"{bench.name}-{framework}-{mode.value}-{precision}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"
                    specs.append(
                        RunSpec(
                            run_id=new_run_id(bench.name, mode.value, framework, precision, stamp),
                            suite=suite.name,
                            benchmark=bench,
                            framework=framework,
                            mode=Mode(mode),
                            precision=precision,
                            seed=bench.seed,
                            repeat=Repeat(group=group, index=0, count=1),
                            results_dir=request.results_dir.resolve(),
                            data_dir=request.data_dir,
                            cache_dir=request.cache_dir,
                            device=request.device,
                            command=request.command,
                        )
                    )
    if not specs:
        raise SuiteError(f"nothing to run in suite {suite.name!r} with the given --benchmark/--mode filters")
    return specs


def run_suite(request: RunRequest, print_line=print) -> SuiteOutcome:
    """Run every planned run of the suite in turn and summarise where the results went."""
    suite = load_suite(request.suite)
    specs = plan_runs(suite, request)
    print_line(f"suite {suite.name}: {len(specs)} run(s) -> {request.results_dir}")
    outcome = SuiteOutcome()
    for number, spec in enumerate(specs, 1):
        print_line(f"[{number}/{len(specs)}] {spec.benchmark.name} {spec.framework} {spec.mode.value} {spec.precision}")
        timeout = request.timeout_s or spec.benchmark.timeout_s
        run = launch_local(spec, timeout_s=timeout, print_line=print_line)
        print_line(f"[{number}/{len(specs)}] {run.status.value} in {run.seconds:.1f}s -> {run.path}")
        outcome.runs.append(run)
    counts = ", ".join(f"{n} {s}" for s, n in sorted(outcome.counts().items()))
    print_line(f"suite {suite.name}: {counts}; result files in {request.results_dir}")
    return outcome
