"""Plan a suite into runs and launch each in its own process; one failing run never stops the suite."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from runners.launch.base import LaunchConfig
from runners.launch.preflight import preflight
from runners.launch.processes import LaunchOutcome
from runners.record import RunOptions, RunSpec
from runners.registry import get_framework, get_launcher
from runners.schema import Launch, Mode, Repeat, Status, utc_now
from runners.suites import Benchmark, Suite, SuiteError, load_suite
from runners.writing import new_run_id


class RunRequest(RunOptions):
    """What ``benchsite run`` asks for: which runs of which suite (the plan), and the options every run carries."""

    suite: str
    benchmarks: list[str] = []
    modes: list[str] = []
    timeout_s: float | None = None
    repeats: int = 1
    precisions: list[str] = []  # instead of each benchmark's own list
    frameworks: list[str] = []  # only these of each benchmark's implementations (a machine with one framework)
    launchers: tuple[Any, ...] = ()  # LaunchConfigs of the multi-process launchers asked for; each framework uses its engine's


@dataclass
class SuiteOutcome:
    runs: list[LaunchOutcome] = field(default_factory=list)
    stopped: str | None = None  # why the suite stopped before its last run (the results folder cannot be written)

    @property
    def all_succeeded(self) -> bool:
        return bool(self.runs) and self.stopped is None and all(r.status is Status.success for r in self.runs)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for run in self.runs:
            counts[run.status.value] = counts.get(run.status.value, 0) + 1
        return counts


def _modes(bench: Benchmark, request: RunRequest) -> list[Mode]:
    modes = [m for m in bench.modes if not request.modes or m.value in request.modes]
    if request.synthetic:  # random tensors can be timed, not trained to a target
        modes = [m for m in modes if m is not Mode.convergence]
    return modes


def _precisions(bench: Benchmark, mode: Mode, request: RunRequest) -> list[str]:
    if request.precisions:
        return request.precisions
    if mode is Mode.inference and bench.inference_precisions is not None:
        return bench.inference_precisions
    return bench.precisions


def _launch_config(engine: str, request: RunRequest) -> LaunchConfig | None:
    return next((config for config in request.launchers if config.engine == engine), None)


def _launch(framework: str, request: RunRequest) -> Launch:
    """How a framework's runs are started: its descriptor's engine when the request configures it, else locally."""
    config = _launch_config(get_framework(framework).launcher, request)
    return config.launch if config else Launch(engine="local")


def launch_run(spec: RunSpec, request: RunRequest, timeout_s: float, print_line=print) -> LaunchOutcome:
    """Start one run with the launcher of its engine."""
    engine = spec.launch.engine
    return get_launcher(engine).launch(spec, _launch_config(engine, request), timeout_s, print_line)


def plan_runs(suite: Suite, request: RunRequest) -> list[RunSpec]:
    """Expand the suite into one RunSpec per benchmark x framework x mode x precision x repeat."""
    benchmarks = [suite.benchmark(name) for name in request.benchmarks] if request.benchmarks else suite.benchmarks
    if request.window_scale is not None:
        benchmarks = [bench.with_windows_scaled(request.window_scale) for bench in benchmarks]
    stamp = utc_now()
    resolved = {  # workers run in the repo root
        "results_dir": request.results_dir.resolve(),
        "data_dir": request.data_dir.resolve() if request.data_dir else None,
    }
    specs = []
    for bench in benchmarks:
        for framework in [f for f in bench.implementations if not request.frameworks or f in request.frameworks]:
            for mode in _modes(bench, request):
                repeats = request.repeats if mode is Mode.convergence else 1
                for precision in _precisions(bench, mode, request):
                    key = f"{suite.name}/{bench.name}/{framework}/{mode.value}/{precision}/{stamp.isoformat()}"
                    group = f"{bench.name}-{framework}-{mode.value}-{precision}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"
                    specs += [
                        RunSpec(
                            **{**request.run_options(), **resolved},
                            run_id=new_run_id(bench.name, mode.value, framework, precision, stamp),
                            suite=suite.name,
                            benchmark=bench,
                            framework=framework,
                            mode=mode,
                            precision=precision,
                            seed=bench.seed + index,
                            repeat=Repeat(group=group, index=index, count=repeats),
                            launch=_launch(framework, request),
                        )
                        for index in range(repeats)
                    ]
    if not specs:
        raise SuiteError(f"nothing to run in suite {suite.name!r} with the given --benchmark/--framework/--mode/--synthetic choices")
    return specs


def plan_suite(request: RunRequest) -> tuple[Suite, list[RunSpec]]:
    """Load the suite and expand it into the runs the request asks for."""
    suite = load_suite(request.suite)
    return suite, plan_runs(suite, request)


def describe_plan(suite: Suite, specs: list[RunSpec], request: RunRequest) -> list[str]:
    """The plan as lines: one per run, then the count."""
    lines = [f"suite {suite.name}: {len(specs)} run(s) -> {request.results_dir}"]
    for number, spec in enumerate(specs, 1):
        repeat = f" seed {spec.seed}" if spec.repeat.count > 1 else ""
        lines.append(f"[{number}/{len(specs)}] {spec.benchmark.name} {spec.framework} {spec.mode.value} {spec.precision}{repeat}")
    lines.append(f"{len(specs)} run(s) planned")
    return lines


def run_suite(request: RunRequest, print_line=print) -> SuiteOutcome:
    """Check the plan, then run every planned run in turn and summarise where the results went.

    Nothing starts unless the whole plan can run (see preflight). If a record
    cannot be written into the results folder mid-suite (a full disk), it is
    kept in the spool and the suite stops there.
    """
    suite, specs = plan_suite(request)
    preflight(specs, request.results_dir, request.device)
    print_line(f"suite {suite.name}: {len(specs)} run(s) -> {request.results_dir}")
    outcome = SuiteOutcome()
    for number, spec in enumerate(specs, 1):
        repeat = f" seed {spec.seed} ({spec.repeat.index + 1}/{spec.repeat.count})" if spec.repeat.count > 1 else ""
        print_line(f"[{number}/{len(specs)}] {spec.benchmark.name} {spec.framework} {spec.mode.value} {spec.precision}{repeat}")
        timeout = request.timeout_s or spec.benchmark.timeout_s
        try:
            run = launch_run(spec, request, timeout, print_line)
        except OSError as exc:  # neither the results folder nor the spool took the record; it was printed on stderr
            outcome.stopped = f"run {number} of {len(specs)}: its record could not be written anywhere ({exc.strerror or exc})"
            break
        print_line(f"[{number}/{len(specs)}] {run.status.value} in {run.seconds:.1f}s -> {run.path}")
        outcome.runs.append(run)
        if run.spooled:
            outcome.stopped = (
                f"stopped after run {number} of {len(specs)}: {request.results_dir} cannot be written; its record is in {run.path}"
                f" (move it into the results folder once it can take it)"
            )
            break
    counts = ", ".join(f"{n} {s}" for s, n in sorted(outcome.counts().items()))
    print_line(f"suite {suite.name}: {counts or 'no runs'}; result files in {request.results_dir}")
    return outcome
