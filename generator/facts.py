"""What one run says, in a few fields: its setup, history configuration and values, features, start and finish.

Every walk over all runs of a site (grouping by setup, history, systems, hosts, features, downloads by day) reads
these, never the full result: the parse cache keeps each file's facts beside its full result (generator.cache), so
a build holds the facts of every run and the full results only of the runs a page shows, read when first asked for.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, TypeVar

from pydantic_core import TzInfo

from generator.formats import driver_and_power
from runners.schema import Dataset, Environment, Mode, Result, Status

CPU_PREFIX = "CPU: "
T = TypeVar("T")
MIXED_PRECISIONS = ("amp", "fp16", "bf16", "amp-fp16", "amp-bf16", "mixed")


# --- the setup: what must match for runs to share one number ----------------------------


@dataclass(frozen=True, order=True)
class Setup:
    """Everything that must match for runs to share one number."""

    model: str
    framework: str
    accelerator: str
    driver: str
    power_limit: str
    devices: int
    precision: str
    dataset: str
    window: str = ""  # "" for full measurement windows; "windows x0.1" for a shortened quick check, never mixed with full ones

    @property
    def on_cpu(self) -> bool:
        """True when the setup ran without an accelerator."""
        return self.accelerator.startswith(CPU_PREFIX)

    @property
    def unit(self) -> str:
        """What one of ``devices`` is: 'GPU' on an accelerator, 'CPU process' without one."""
        return "CPU process" if self.on_cpu else "GPU"

    @property
    def driver_and_power(self) -> str:
        """'driver 550.54.15, 400 W limit'; a CPU has neither; a GPU without a recorded value says so."""
        return "none (CPU run)" if self.on_cpu else driver_and_power(self.driver, self.power_limit)

    @property
    def conditions(self) -> str:
        """The driver and power limit in parentheses, or '' on a CPU."""
        return "" if self.on_cpu else f" ({self.driver_and_power})"

    @property
    def hardware(self) -> str:
        """Name what ran, e.g. '8x NVIDIA A100-SXM4-80GB (driver 550.54.15, 400 W limit)' or '1x CPU: AMD EPYC 7B13'."""
        return f"{self.devices}x {self.accelerator}{self.conditions}"

    @property
    def label(self) -> str:
        """Name the setup in one line: hardware with driver and power limit, framework, precision, dataset release."""
        return setup_label(self)

    @property
    def figure(self) -> tuple[str, str, str, str, str]:
        """What must match for runs to share a figure: accelerator, driver, power limit, dataset, measurement windows.

        Frameworks share a figure, by colour. A quick check's shortened windows never share one with full windows.
        """
        return (self.accelerator, self.driver, self.power_limit, self.dataset, self.window)

    @property
    def comparable(self) -> tuple[str, str, str, str, str, str]:
        """What must match for two setups to share a table: a figure's key, and the framework."""
        return (*self.figure, self.framework)

    @property
    def quick_check(self) -> str:
        """'windows x0.1 (quick check)' for a run of shortened windows, '' for full ones."""
        return quick_check(self.window)

    @property
    def tab(self) -> str:
        """The content tab a setup is shown under: accelerator model and precision."""
        return f"{self.accelerator} · {self.precision}"


def quick_check(window: str) -> str:
    """Name shortened measurement windows where a setup is named: 'windows x0.1 (quick check)'; '' for full windows."""
    return f"{window} (quick check)" if window else ""


def setup_label(setup: Setup) -> str:
    """The one label of a setup every page and chart uses.

    E.g. '8x NVIDIA A100 (driver 550.54.15, 400 W limit), pytorch, amp, imagenet ilsvrc2012'.
    """
    shortened = f", {setup.quick_check}" if setup.window else ""
    return f"{setup.hardware}, {setup.framework}, {setup.precision}, {setup.dataset}{shortened}"


def accelerator_name(result: Result) -> str:
    """Name what a run computed on: the GPU name(s), or 'CPU: <cpu model>' without an accelerator."""
    return accelerator_of(result.environment)


def accelerator_of(env: Environment) -> str:
    """accelerator_name() of a run's environment."""
    if env.accelerators.kind == "none":
        return f"{CPU_PREFIX}{env.host.cpu_model}"
    return " + ".join(sorted({d.name for d in env.accelerators.devices}))


def driver_version(result: Result) -> str:
    """Return the accelerator driver version(s), or '' without an accelerator."""
    return drivers_of(result.environment)


def drivers_of(env: Environment) -> str:
    """driver_version() of a run's environment."""
    return " + ".join(sorted({d.driver_version for d in env.accelerators.devices}))


def power_limit(result: Result) -> str:
    """Return the accelerators' power limit(s) in watts, or '' when not recorded."""
    limits = sorted({d.power_limit_w for d in result.environment.accelerators.devices if d.power_limit_w is not None})
    return " + ".join(f"{w:g}" for w in limits)


def per_environment(compute: Callable[[Environment], T]) -> Callable[[Environment], T]:
    """compute() once per environment object: the runs of one machine share theirs (generator.cache), so a walk over
    100,000 runs computes it once per machine, not once per run."""
    found: dict[int, tuple[Environment, T]] = {}  # the environment too: its id stays its own while it is kept here

    def of(env: Environment) -> T:
        if (hit := found.get(id(env))) is None:
            hit = found[id(env)] = (env, compute(env))
        return hit[1]

    return of


def setup_of(result: Result, precision: str | None = None) -> Setup:
    """Return the one key that decides "same setup" everywhere on the site (an inference run's precision is the one it timed)."""
    if precision is None and result.inference is not None:
        precision = result.inference.precision
    return Setup(
        model=result.run.model,
        framework=result.run.framework,
        accelerator=accelerator_name(result),
        driver=driver_version(result),
        power_limit=power_limit(result),
        devices=result.environment.launch.world_size,
        precision=precision or result.run.precision,
        dataset=f"{result.dataset.name} {result.dataset.version}",
        window=f"windows x{scale:g}" if (scale := result.provenance.window_scale) is not None else "",
    )


# --- history: the configuration a run belongs to and the values it adds ------------------


@dataclass(frozen=True)
class Metric:
    """One number tracked over time: its name, unit and which way is better."""

    name: str
    unit: str
    higher_is_better: bool


TIME_TO_TARGET = Metric("time to target", "s", False)
FINAL_QUALITY = Metric("final quality", "fraction", True)
TRAINING_THROUGHPUT = Metric("training throughput", "samples/s", True)


def metric_values(result: Result) -> list[tuple[Metric, float | None]]:
    """The metrics a successful run contributes to history, each with its value (None: the run has none, e.g. a
    time to target it did not reach)."""
    mode = result.run.mode
    if mode is Mode.inference:
        found: list[tuple[Metric, float | None]] = []
        for p in result.inference.results:
            found.append((Metric(f"inference throughput, batch {p.batch_size}", "samples/s", True), p.samples_per_s))
            found.append((Metric(f"p99 latency, batch {p.batch_size}", "ms", False), p.latency_ms.p99))
        return found
    training = result.training
    rate = training.throughput.samples_per_s if training.throughput else None
    if mode is Mode.convergence:
        ttt = training.time_to_target
        return [
            (TIME_TO_TARGET, ttt.time_to_target_s),
            (FINAL_QUALITY, training.final_metrics.get(ttt.metric)),
            (TRAINING_THROUGHPUT, rate),
        ]
    return [(TRAINING_THROUGHPUT, rate)]


def configuration(result: Result) -> str:
    """Name what must stay fixed along one history; driver, host and framework version may change (and are shown)."""
    precision = result.inference.precision if result.run.mode is Mode.inference else result.run.precision
    devices = result.environment.launch.world_size
    watts = f" ({power_limit(result)} W limit)" if power_limit(result) else ""  # a power cap is another setup, never a regression
    return (
        f"{result.run.mode.value}, {devices}x {accelerator_name(result)}{watts}, {result.run.framework}, {precision}, "
        f"{result.dataset.name} {result.dataset.version}"
    )


# --- features: what a run shows it was run with ----------------------------------------


@dataclass(frozen=True)
class Feature:
    """A feature and how a run shows it was used."""

    name: str
    shown_by: Callable[[Result], bool]
    precision: str | None = None  # a suite listing this precision declares the feature


def _flags(result: Result) -> dict[str, Any]:
    flags: dict[str, Any] = {}
    for section in (result.training, result.inference):
        if section is not None:
            flags |= section.precision_flags | section.options
    return flags


def _flag(result: Result, *names: str) -> bool:
    flags = _flags(result)
    return any(flags.get(name) not in (None, False, "", 0, "none", "off") for name in names)


def _precision(result: Result) -> str:
    return (result.inference.precision if result.inference else result.run.precision).lower()


FEATURES: list[Feature] = [
    Feature("Automatic mixed precision (AMP)", lambda r: _precision(r) in MIXED_PRECISIONS or _flag(r, "autocast", "amp"), "amp"),
    Feature("TF32 tensor cores", lambda r: _precision(r) == "tf32" or _flag(r, "tf32", "cuda.matmul.allow_tf32"), "tf32"),
    Feature("channels_last (NHWC) memory format", lambda r: _flag(r, "channels_last")),
    Feature("Graph compilation (torch.compile)", lambda r: _flag(r, "compile", "torch_compile")),
    Feature("XLA", lambda r: _flag(r, "xla", "jit_compile")),
    Feature("Multi-GPU training", lambda r: r.environment.launch.world_size > 1 and r.environment.accelerators.kind != "none"),
    Feature("Multi-node training", lambda r: r.environment.launch.nodes > 1),
    Feature("Gradient accumulation", lambda r: r.training is not None and r.training.grad_accum_steps > 1),
    Feature("INT8 inference (post-training quantization)", lambda r: r.inference is not None and _precision(r) == "int8", "int8"),
    Feature("Inference latency sweep", lambda r: r.inference is not None and len(r.inference.results) > 1),
]


# --- the facts of one run --------------------------------------------------------------


class RunFacts:
    """The fields of a run that walks over all runs read; environment and dataset are shared with the full result."""

    __slots__ = (
        "benchmark",
        "config",
        "dataset",
        "environment",
        "features",
        "finished_utc",
        "framework",
        "framework_version",
        "group",
        "id",
        "mode",
        "model",
        "setup",
        "started_utc",
        "status",
        "subjects",
        "suite",
        "values",
    )

    id: str
    benchmark: str
    suite: str
    model: str
    framework: str
    framework_version: str
    mode: Mode
    status: Status
    group: str  # the repeat group
    started_utc: datetime
    finished_utc: datetime
    setup: Setup
    config: str | None  # its history configuration; None for a run that did not succeed (no history)
    values: tuple[tuple[Metric, float], ...]  # what it adds to each of its history series
    features: frozenset[str]  # the FEATURES it shows
    subjects: bool  # it recorded per-subject metrics (training.per_subject)
    environment: Environment
    dataset: Dataset

    @property
    def succeeded(self) -> bool:
        return self.status is Status.success

    def dump(self) -> tuple:
        """The stored fields as plain values (picklable without this class), environment and dataset apart."""
        values = tuple(((m.name, m.unit, m.higher_is_better), v) for m, v in self.values)
        return (
            self.id,
            self.benchmark,
            self.suite,
            self.model,
            self.framework,
            self.framework_version,
            self.mode.value,
            self.status.value,
            self.group,
            _instant(self.started_utc),
            _instant(self.finished_utc),
            astuple(self.setup),
            self.config,
            values,
            tuple(sorted(self.features)),
            self.subjects,
        )

    @classmethod
    def load(cls, data: tuple, environment: Environment, dataset: Dataset, shared: dict[tuple, Any] | None = None) -> RunFacts:
        """Make the facts dump() wrote. ``shared`` gives equal setups, metrics and feature sets one object each, by
        their stored tuples (which never equal one another: a setup's has 9 fields with an int, a metric's ends with a
        bool, a feature set's are all names); the names are interned. 100,000 of these are a rebuild's load."""
        shared = {} if shared is None else shared
        facts = cls.__new__(cls)
        (facts.id, benchmark, suite, model, framework, version, mode, status, facts.group, started, finished,
         setup, config, values, features, facts.subjects) = data  # fmt: skip
        facts.started_utc, facts.finished_utc = _moment(*started), _moment(*finished)
        intern = sys.intern
        facts.benchmark, facts.suite, facts.model = intern(benchmark), intern(suite), intern(model)
        facts.framework, facts.framework_version = intern(framework), intern(version)
        facts.mode, facts.status = _MODES[mode], _STATUSES[status]
        if (found := shared.get(setup)) is None:
            found = shared[setup] = Setup(*setup)
        facts.setup = found
        facts.config = config if config is None else intern(config)
        metrics = []
        for key, value in values:
            if (metric := shared.get(key)) is None:
                metric = shared[key] = Metric(*key)
            metrics.append((metric, value))
        facts.values = tuple(metrics)
        if (shown := shared.get(features)) is None:
            shown = shared[features] = frozenset(features)
        facts.features = shown
        facts.environment, facts.dataset = environment, dataset
        return facts


_ZONES: dict[int, tzinfo] = {}


def _instant(when: datetime) -> tuple[int, ...]:
    """A time as plain ints (a pickled datetime with its zone takes ~8 us to load; 200,000 of them a rebuild): year,
    month, day, hour, minute, second, microsecond, and its offset from UTC in seconds, or -1 when it has no zone."""
    offset = when.utcoffset()
    zone = -1 if offset is None else int(offset.total_seconds())
    return (when.year, when.month, when.day, when.hour, when.minute, when.second, when.microsecond, zone)


def _moment(year: int, month: int, day: int, hour: int, minute: int, second: int, microsecond: int, offset: int) -> datetime:
    """The datetime _instant() stored, in the zone the schema parses it into (pydantic's TzInfo), one object per offset."""
    if offset == -1:
        return datetime(year, month, day, hour, minute, second, microsecond)
    if (zone := _ZONES.get(offset)) is None:
        zone = _ZONES[offset] = TzInfo(offset)
    return datetime(year, month, day, hour, minute, second, microsecond, zone)


_MODES = {mode.value: mode for mode in Mode}
_STATUSES = {status.value: status for status in Status}


def astuple(setup: Setup) -> tuple:
    return (
        setup.model,
        setup.framework,
        setup.accelerator,
        setup.driver,
        setup.power_limit,
        setup.devices,
        setup.precision,
        setup.dataset,
        setup.window,
    )


def facts_of(result: Result) -> RunFacts:
    """The facts of a run, from its full result."""
    facts = RunFacts.__new__(RunFacts)
    run = result.run
    facts.id, facts.benchmark, facts.suite, facts.model = run.id, run.benchmark, run.suite, run.model
    facts.framework, facts.framework_version, facts.mode, facts.status = run.framework, run.framework_version, run.mode, run.status
    facts.group, facts.started_utc, facts.finished_utc = run.repeat.group, run.started_utc, run.finished_utc
    facts.setup = setup_of(result)
    succeeded = run.status is Status.success
    facts.config = configuration(result) if succeeded else None
    facts.values = tuple((m, float(v)) for m, v in metric_values(result) if v is not None) if succeeded else ()
    facts.features = frozenset(f.name for f in FEATURES if f.shown_by(result))
    facts.subjects = bool(result.training and result.training.per_subject)
    facts.environment, facts.dataset = result.environment, result.dataset
    return facts
