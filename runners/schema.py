"""The result schema: the one contract between the runners and the generator.

Imports nothing heavy (no torch, TensorFlow or mkdocs) so a runner inside a
vendor container and the generator on a laptop share the same definition.
Every result file is one YAML mapping described by :class:`Result`.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import secrets
import stat
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from enum import StrEnum
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from runners.registry import framework_names, launch_engines

SCHEMA_VERSION = 3  # what new runs write; older files are migrated on reading (see MIGRATIONS)
MAX_RESULT_FILE_BYTES = 4 * 1024 * 1024
RESULT_SUFFIXES = (".yaml", ".yml")

SafeDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

# Plain scalars' resolved tags and the values of the tags below, by text; emptied when full (see SafeLoader)
_TAG_OF: dict[str, str] = {}
_VALUE_OF: dict[tuple[str, str], Any] = {}
_MEMO_MAX = 1 << 16
_MEMO_TAGS = frozenset(f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null"))  # immutable values


class SafeLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """PyYAML's safe loader (the C one where PyYAML has it) that resolves and builds each distinct scalar text once.

    A result file holds ~300 scalars, most of them keys and values that every file repeats; PyYAML matches
    each plain scalar against its implicit types' patterns and constructs its value in Python, which is most
    of its time. The same text always gives the same tag and, for the immutable types in _MEMO_TAGS, an equal
    value, so both are remembered across documents: the same results, a third less time (0.75 -> 0.49 ms a
    file on the build benchmark's tree).
    """

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is not yaml.ScalarNode or not implicit[0] or self.yaml_path_resolvers:
            return super().resolve(kind, value, implicit)
        tag = _TAG_OF.get(value)
        if tag is None:
            tag = super().resolve(kind, value, implicit)
            if len(_TAG_OF) >= _MEMO_MAX:
                _TAG_OF.clear()
            _TAG_OF[value] = tag
        return tag

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        if type(node) is not yaml.ScalarNode or node.tag not in _MEMO_TAGS:
            return super().construct_object(node, deep)
        key = (node.tag, node.value)
        value = _VALUE_OF.get(key, _VALUE_OF)
        if value is _VALUE_OF:
            value = super().construct_object(node, deep)
            if len(_VALUE_OF) >= _MEMO_MAX:
                _VALUE_OF.clear()
            _VALUE_OF[key] = value
        return value


# Size limits: far above anything a real run writes (ImageNet-21k has 21,841 classes, the longest
# recipe here trains 400 epochs), low enough that one file cannot blow up the site. Each
# validation error names its limit ("List should have at most 10000 items ...").
MAX_NAME_CHARS = 256  # ids, names, versions, host facts, metric names, map keys
MAX_ARG_CHARS = 4096  # one command-line argument or environment variable value
MAX_ERROR_CHARS = 20_000  # run.error: the exception and the last log lines (the writer keeps the tail)
MAX_ARGS = 512  # provenance.command
MAX_MAP_ENTRIES = 256  # packages, env_vars, hyperparameters, flags, options, metrics
MAX_CURVE_POINTS = 10_000  # training.curve (epochs)
MAX_SUBJECTS = 25_000  # training.per_subject (classes)
MAX_BATCH_SIZES = 64  # inference.results
MAX_LATENCY_SAMPLES = 10_000  # inference.results[].latency_samples_ms (the runners keep 200: runners.stats)
MAX_DEVICES = 256  # accelerators and GPU telemetry of one run
MAX_SHORT_LIST = 64  # throttle reasons, low-sample percentiles
MAX_ANY_STRING_CHARS = MAX_ARG_CHARS  # any string inside a free-form value (hyperparameters, options)
MAX_ANY_LIST_ITEMS = MAX_MAP_ENTRIES  # any list inside a free-form value

Name = Annotated[str, Field(max_length=MAX_NAME_CHARS)]
FrameworkName = Literal[framework_names()]  # type: ignore[valid-type]  # built-ins, then installed plugins
Arg = Annotated[str, Field(max_length=MAX_ARG_CHARS)]
ErrorText = Annotated[str, Field(max_length=MAX_ERROR_CHARS)]

NonNegFloat = Annotated[float, Field(ge=0)]
PosFloat = Annotated[float, Field(gt=0)]
NonNegInt = Annotated[int, Field(ge=0)]
PosInt = Annotated[int, Field(ge=1)]


def bounded_map(value_type: Any) -> Any:
    """A mapping with name keys and at most MAX_MAP_ENTRIES entries."""
    return Annotated[dict[Name, value_type], Field(max_length=MAX_MAP_ENTRIES)]


def bounded_list(item_type: Any, limit: int) -> Any:
    """A list of at most ``limit`` items."""
    return Annotated[list[item_type], Field(max_length=limit)]


def _bounded_values(value: Any, where: str = "") -> Any:
    """Check every string and list nested in a free-form value against the limits, naming the limit."""
    if isinstance(value, str) and len(value) > MAX_ANY_STRING_CHARS:
        raise ValueError(f"{where or 'value'}: string of {len(value)} characters is over the {MAX_ANY_STRING_CHARS}-character limit")
    if isinstance(value, list):
        if len(value) > MAX_ANY_LIST_ITEMS:
            raise ValueError(f"{where or 'value'}: list of {len(value)} items is over the {MAX_ANY_LIST_ITEMS}-item limit")
        for i, item in enumerate(value):
            _bounded_values(item, f"{where}[{i}]")
    if isinstance(value, dict):
        if len(value) > MAX_MAP_ENTRIES:
            raise ValueError(f"{where or 'value'}: mapping of {len(value)} entries is over the {MAX_MAP_ENTRIES}-entry limit")
        for key, item in value.items():
            _bounded_values(key, where)
            _bounded_values(item, f"{where}.{key}" if where else str(key))
    return value


ShortNames = bounded_list(Name, MAX_SHORT_LIST)
FreeForm = Annotated[dict[Name, Any], Field(max_length=MAX_MAP_ENTRIES), AfterValidator(_bounded_values)]


_FIELD_SETS: dict[frozenset[str], set[str]] = {}  # one set of field names per distinct set, for unpickled models


class Strict(BaseModel):
    """Base for every schema model: unknown keys and NaN/inf are errors."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    def __setstate__(self, state: dict[Any, Any]) -> None:
        # The build unpickles every Result from its parse cache (100,000 of them, ~11 models each), and pydantic
        # gives each model its own set of the field names it was given: a third of a Result's memory. A frozen
        # model never changes that set (a copy gets its own), so the models unpickled with equal sets share one.
        names = state.get("__pydantic_fields_set__")
        if names is not None:
            state["__pydantic_fields_set__"] = _FIELD_SETS.setdefault(frozenset(names), names)
        super().__setstate__(state)


class Mode(StrEnum):
    convergence = "convergence"
    throughput = "throughput"
    inference = "inference"


class Status(StrEnum):
    success = "success"
    failed = "failed"
    diverged = "diverged"
    oom = "oom"
    timeout = "timeout"


# --- run -------------------------------------------------------------------


class Repeat(Strict):
    group: Name = Field(description="Runs with the same group are repeats (seeds) of one configuration.")
    index: NonNegInt
    count: PosInt

    @model_validator(mode="after")
    def _index_in_range(self) -> Repeat:
        if self.index >= self.count:
            raise ValueError(f"index: {self.index} must be < count {self.count}")
        return self


class Run(Strict):
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")]
    suite: Name
    benchmark: Name
    model: Name
    task: Name = "image-classification"
    framework: FrameworkName
    framework_version: Name
    mode: Mode
    precision: Name
    status: Status
    error: ErrorText | None = Field(None, description="Exception text and the last log lines of a run that did not succeed.")
    started_utc: datetime
    finished_utc: datetime
    duration_s: NonNegFloat
    resumed: bool = False
    repeat: Repeat
    log: Arg | None = Field(None, description="The run's full output (library messages included), on the machine that ran it.")

    @model_validator(mode="after")
    def _times_ordered(self) -> Run:
        if self.finished_utc < self.started_utc:
            raise ValueError("finished_utc: must not be before started_utc")
        if self.status is not Status.success and not self.error:
            raise ValueError(f"error: required when status is {self.status.value!r}")
        return self


# --- provenance ------------------------------------------------------------


class Provenance(Strict):
    benchsite_version: Name
    git_commit: Name | None = Field(None, description="Commit of the benchsite checkout that ran, if it is a git checkout.")
    git_dirty: bool | None = None
    command: bounded_list(Arg, MAX_ARGS)
    config_hash: Annotated[str, Field(pattern=r"^sha256:[0-9a-f]{64}$")]
    seed: int
    window_scale: Annotated[float, Field(gt=0, le=1)] | None = Field(
        None,
        description="Set when the run measured shortened windows: this fraction of the suite's throughput and inference "
        "steps, iterations and seconds (benchsite run --window-scale); null when it measured the full windows.",
    )


# --- environment -----------------------------------------------------------


class Host(Strict):
    hostname: Name
    cpu_model: Name
    logical_cores: PosInt
    ram_gib: NonNegFloat
    os: Name
    kernel: Name


class Accelerator(Strict):
    index: NonNegInt
    vendor: Literal["nvidia"] = "nvidia"
    name: Name
    uuid: Name
    memory_total_mib: NonNegFloat
    driver_version: Name
    cuda_version: Name | None = None
    compute_capability: Name | None = None
    power_limit_w: NonNegFloat | None = None
    sm_clock_max_mhz: NonNegFloat | None = None
    memory_clock_max_mhz: NonNegFloat | None = None


class Accelerators(Strict):
    kind: Literal["none", "nvidia"] = Field(description="'none' says explicitly that the run had no accelerator.")
    devices: bounded_list(Accelerator, MAX_DEVICES) = []
    probe: Arg = Field(description="How the facts were obtained, or why there are none (e.g. 'nvml', 'pynvml not installed').")

    @model_validator(mode="after")
    def _devices_match_kind(self) -> Accelerators:
        if self.kind == "none" and self.devices:
            raise ValueError("devices: must be empty when kind is 'none'")
        if self.kind != "none" and not self.devices:
            raise ValueError(f"devices: must list the devices when kind is {self.kind!r}")
        return self


class Launch(Strict):
    engine: Literal[launch_engines()]  # type: ignore[valid-type]
    nodes: PosInt = 1
    procs_per_node: PosInt = 1
    world_size: PosInt = 1

    @model_validator(mode="after")
    def _world_size(self) -> Launch:
        if self.world_size != self.nodes * self.procs_per_node:
            raise ValueError(f"world_size: {self.world_size} != nodes {self.nodes} x procs_per_node {self.procs_per_node}")
        return self


class Environment(Strict):
    host: Host
    python_version: Name
    packages: bounded_map(Name) = Field(description="Versions of the packages that shaped the numbers (torch, timm, numpy, ...).")
    device: Name = Field(description="What the run computed on: 'cpu', 'cuda', ...")
    accelerators: Accelerators
    launch: Launch
    env_vars: bounded_map(Arg) = Field(description="Only variables from benchsite's allowlist; never secrets.")


# --- dataset ---------------------------------------------------------------


class Dataset(Strict):
    name: Name
    version: Name = Field(description="A release id; numbers from different versions are never merged.")
    released_utc: datetime | None = None
    checksum: Annotated[str, Field(pattern=r"^sha256:[0-9a-f]{64}$")] | None = None
    synthetic: bool = False
    train_samples: NonNegInt | None = None
    val_samples: NonNegInt | None = None
    num_classes: PosInt | None = None
    image_size: PosInt | None = None


# --- training --------------------------------------------------------------


class WindowPower(Strict):
    """NVML board power over one timed window: energy per sample divides it by that window's samples per second."""

    power_w: NonNegFloat = Field(
        description="Mean board power over the window, summed over the GPUs sampled: NVML's total-energy counter (joules "
        "between the first and last readings inside the window, over the seconds between them), else the mean of the power "
        "readings inside it."
    )
    gpus: PosInt = Field(description="GPUs sampled: every GPU the run's rank 0 saw.")
    readings: PosInt = Field(description="Readings per GPU inside the window (the fewest of any GPU), one each interval_s.")
    method: Literal["energy counter", "power readings"]


class Throughput(Strict):
    samples_per_s: PosFloat = Field(description="End to end: total samples / total wall time of the measured steps.")
    samples_per_s_per_device: PosFloat | None = Field(None, description="samples_per_s / world_size.")
    compute_samples_per_s: PosFloat | None = Field(None, description="Total samples / time not spent waiting for data.")
    data_time_mean_ms: NonNegFloat | None = None
    warmup_steps: NonNegInt
    measured_steps: PosInt
    measured_samples: PosInt
    measured_time_s: PosFloat
    timer: Name
    power: WindowPower | None = Field(
        None,
        description="Board power over the measured steps (throughput mode) or the training clock (convergence mode); null "
        "without NVIDIA GPUs and in files written before schema_version 3.",
    )


class TimeToTarget(Strict):
    metric: Name
    target: float
    reached: bool
    time_to_target_s: NonNegFloat | None = Field(
        None, description="First touch of the data to the first evaluation at or above target; evaluation on the clock."
    )
    init_time_s: NonNegFloat = Field(description="Model and optimizer set-up, kept off the clock as in MLPerf.")
    epochs: NonNegInt = Field(description="Epochs run until the target was reached (or until the run stopped).")
    max_epochs: PosInt
    eval_every: PosInt = 1

    @model_validator(mode="after")
    def _reached_has_time(self) -> TimeToTarget:
        if self.reached and self.time_to_target_s is None:
            raise ValueError("time_to_target_s: required when reached is true")
        if not self.reached and self.time_to_target_s is not None:
            raise ValueError("time_to_target_s: must be null when the target was not reached")
        return self


class EpochRecord(Strict):
    epoch: PosInt
    train_loss: float
    eval: bounded_map(float) = Field({}, description="Metrics of the evaluation after this epoch, if one ran.")
    epoch_time_s: NonNegFloat
    wall_time_s: NonNegFloat = Field(description="Time on the time-to-train clock at the end of this epoch.")
    lr: NonNegFloat | None = None


class SubjectMetrics(Strict):
    subject: Name
    samples: NonNegInt
    metrics: bounded_map(float)


class Training(Strict):
    batch_per_device: PosInt
    global_batch: PosInt
    grad_accum_steps: PosInt = 1
    optimizer: Name
    hyperparameters: FreeForm = {}
    precision_flags: FreeForm = Field({}, description="Effective numeric settings, so 'fp32' never silently means TF32.")
    options: FreeForm = Field({}, description="Performance options in effect: channels_last, compile, cudnn_benchmark, xla, ...")
    compile_time_s: NonNegFloat | None = Field(None, description="Graph compilation time, kept apart from every measurement.")
    throughput: Throughput | None = None
    time_to_target: TimeToTarget | None = None
    curve: bounded_list(EpochRecord, MAX_CURVE_POINTS) = []
    final_metrics: bounded_map(float) = {}
    per_subject: bounded_list(SubjectMetrics, MAX_SUBJECTS) = []
    weak_scaling: bool | None = Field(None, description="True when the per-device batch is fixed as devices are added.")
    model_flops_per_sample: NonNegFloat | None = Field(
        None, description="Forward-pass FLOPs per sample, counted from the model by the framework's counter."
    )

    @model_validator(mode="after")
    def _global_batch(self) -> Training:
        if self.global_batch < self.batch_per_device:
            raise ValueError(f"global_batch: {self.global_batch} < batch_per_device {self.batch_per_device}")
        return self


# --- inference -------------------------------------------------------------

PERCENTILE_KEYS = ("p50", "p90", "p95", "p99")


class LatencyStats(Strict):
    """Latency of one batch, in milliseconds."""

    mean: NonNegFloat
    stdev: NonNegFloat
    min: NonNegFloat
    p50: NonNegFloat
    p90: NonNegFloat
    p95: NonNegFloat
    p99: NonNegFloat
    max: NonNegFloat

    @model_validator(mode="after")
    def _ordered(self) -> LatencyStats:
        chain = ["min", *PERCENTILE_KEYS, "max"]
        for low, high in pairwise(chain):
            if getattr(self, high) < getattr(self, low):
                raise ValueError(f"{high} ({getattr(self, high)}) must be >= {low} ({getattr(self, low)})")
        if not self.min <= self.mean <= self.max:
            raise ValueError(f"mean ({self.mean}) must lie between min ({self.min}) and max ({self.max})")
        return self


_LATENCY = r"\d+(?:\.\d+)?(?:e[+-]?\d+)?"  # a non-negative decimal as format(x, ".4g") writes it: no sign, nan or inf
LATENCY_SAMPLES_PATTERN = rf"^{_LATENCY}(?: {_LATENCY})*$"


class InferencePoint(Strict):
    batch_size: PosInt
    resolution: PosInt | None = None
    warmup_iterations: NonNegInt
    iterations: PosInt
    duration_s: PosFloat
    samples_per_s: PosFloat = Field(description="batch_size x iterations / duration_s.")
    latency_ms: LatencyStats
    sample_count: PosInt = Field(description="Number of timed iterations behind the percentiles.")
    low_sample_percentiles: ShortNames = Field([], description="Percentiles with too few samples beyond them to be trusted.")
    power: WindowPower | None = Field(
        None, description="Board power over this batch size's timed iterations; null without NVIDIA GPUs and before schema_version 3."
    )
    # One string, not a YAML list: PyYAML parses a list number by number (benchmarks/latency_samples.py: 7.6 ms a file
    # as a list, 2.8 ms as a string, 2.6 ms without samples), and a list of floats takes ~4x the memory of the string.
    latency_samples_ms: Annotated[str, Field(max_length=MAX_LATENCY_SAMPLES * 16, pattern=LATENCY_SAMPLES_PATTERN)] | None = Field(
        None,
        description="The timed iterations' latencies in ms, in the order they ran, as decimals of 4 significant digits "
        "separated by single spaces: all of them, or an evenly spaced subset (first and last included) when there were "
        "more (sample_count). Null in files written before schema_version 2.",
    )

    @model_validator(mode="after")
    def _samples_within_count(self) -> InferencePoint:
        if self.latency_samples_ms is not None:
            count = self.latency_samples_ms.count(" ") + 1
            if count > MAX_LATENCY_SAMPLES:
                raise ValueError(f"latency_samples_ms: {count} samples is over the {MAX_LATENCY_SAMPLES}-sample limit")
            if count > self.sample_count:
                raise ValueError(f"latency_samples_ms: {count} samples, more than sample_count {self.sample_count}")
        return self

    def latency_samples(self) -> list[float] | None:
        """Return the stored latencies in ms, in the order they ran; None when the file stored none."""
        return None if self.latency_samples_ms is None else [float(x) for x in self.latency_samples_ms.split(" ")]


class Inference(Strict):
    precision: Name
    timer: Name = Field(description="e.g. 'time.perf_counter+synchronize' or 'cuda.Event'.")
    percentile_method: Name = Field(description="numpy.percentile method, e.g. 'linear'.")
    min_iterations: PosInt
    min_time_s: NonNegFloat
    precision_flags: FreeForm = {}
    options: FreeForm = {}
    compile_time_s: NonNegFloat | None = None
    weights: Arg = Field("random-init", description="Which weights were timed: 'random-init', or how they were trained in this run.")
    quality: bounded_map(float) = Field(
        {}, description="Validation metrics of the timed model (e.g. an INT8 model's top1 next to its fp32 reference)."
    )
    results: bounded_list(InferencePoint, MAX_BATCH_SIZES)
    model_flops_per_sample: NonNegFloat | None = Field(
        None, description="Forward-pass FLOPs per sample, counted from the model by the framework's counter."
    )


# --- telemetry -------------------------------------------------------------


class GpuTelemetry(Strict):
    index: NonNegInt
    samples: NonNegInt
    interval_s: PosFloat
    power_mean_w: NonNegFloat | None = None
    power_max_w: NonNegFloat | None = None
    energy_j: NonNegFloat | None = None
    sm_clock_mean_mhz: NonNegFloat | None = None
    temperature_max_c: float | None = None
    utilization_mean_pct: Annotated[float, Field(ge=0, le=100)] | None = None
    memory_used_max_mib: NonNegFloat | None = None
    throttle_reasons: ShortNames = []


class Telemetry(Strict):
    host_peak_rss_mib: NonNegFloat | None = None
    gpus: bounded_list(GpuTelemetry, MAX_DEVICES) = []
    framework_peak_allocated_mib: NonNegFloat | None = None
    framework_peak_reserved_mib: NonNegFloat | None = None


# --- the record ------------------------------------------------------------


class Result(Strict):
    """One run of one benchmark: the content of one file in ``results/``."""

    schema_version: Literal[3]
    run: Run
    provenance: Provenance
    environment: Environment
    dataset: Dataset
    training: Training | None = None
    inference: Inference | None = None
    telemetry: Telemetry = Telemetry()

    @model_validator(mode="after")
    def _mode_has_section(self) -> Result:
        if self.run.status is not Status.success:
            return self
        mode = self.run.mode
        if mode is Mode.convergence and (self.training is None or self.training.time_to_target is None):
            raise ValueError("training.time_to_target: required for a successful convergence run")
        if mode is Mode.throughput and (self.training is None or self.training.throughput is None):
            raise ValueError("training.throughput: required for a successful throughput run")
        if mode is Mode.inference and (self.inference is None or not self.inference.results):
            raise ValueError("inference.results: required for a successful inference run")
        return self


# --- migrations ------------------------------------------------------------
# A file of an older schema_version is brought up to SCHEMA_VERSION on its raw mapping, before validation, one step
# per version in order (as asv migrates its result files): MIGRATIONS[n - 1] turns a version-n mapping into version n + 1.
# A step never invents a measurement: what a version added is simply absent from an older file.

Migration = Callable[[dict[str, Any]], dict[str, Any]]


def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Version 2 added the optional inference.results[].latency_samples_ms; a version-1 file stored none."""
    return {**data, "schema_version": 2}


def _v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
    """Version 3 added the optional training.throughput.power and inference.results[].power (board power over each timed
    window, which energy per image divides by); a version-2 file stored none. A benchsite that reads 2 refuses a version-3
    file by its version, naming the upgrade, not by the field it does not know."""
    return {**data, "schema_version": 3}


MIGRATIONS: tuple[Migration, ...] = (_v1_to_v2, _v2_to_v3)


# --- reading and writing files ---------------------------------------------


class Problem(Exception):
    """One problem with a result file, shown as ``path: field: message``."""

    def __init__(self, path: str | os.PathLike[str], field: str, message: str) -> None:
        super().__init__(f"{path}: {field}: {message}")
        self.path, self.field, self.message = str(path), field, message


class ResultFileError(Exception):
    """A result file that cannot be used; carries every problem found in it."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def _field_name(loc: tuple[int | str, ...]) -> str:
    name = ""
    for part in loc:
        if isinstance(part, int):
            name += f"[{part}]"
        elif "[" not in part:  # skip pydantic's internal tags such as "function-after[...]"
            name += f".{part}" if name else part
    return name or "<file>"


_NAMED_FIELD = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*): (.+)$", re.DOTALL)


def problems_from_validation(path: str | os.PathLike[str], error: ValidationError) -> list[Problem]:
    """Turn pydantic's error list into ``path: field: message`` problems."""
    problems: dict[tuple[str, str], Problem] = {}
    for err in error.errors(include_url=False):
        field = _bounded(_field_name(err["loc"]))  # a key the schema does not know is the file's text
        message = err["msg"].removeprefix("Value error, ")
        # A cross-field check names the field it blames as "name: message" (see the validators above).
        if err["type"] == "value_error" and (named := _NAMED_FIELD.match(message)):
            field = f"{field}.{named[1]}" if field != "<file>" else named[1]
            message = named[2]
        problems.setdefault((field, message), Problem(path, field, message))
    return list(problems.values())


def _check_finite(node: Any, loc: str, path: str, out: list[Problem]) -> None:
    if isinstance(node, float) and not math.isfinite(node):
        out.append(Problem(path, loc or "<file>", f"must be a finite number, got {node}"))
    elif isinstance(node, dict):
        for key, value in node.items():
            _check_finite(value, f"{loc}.{key}" if loc else str(key), path, out)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _check_finite(value, f"{loc}[{i}]", path, out)


def parse_yaml_text(text: str, path: str | os.PathLike[str]) -> Any:
    """Load YAML with the safe loader, turning any failure into a Problem."""
    try:
        return yaml.load(text, Loader=SafeLoader)  # noqa: S506 - SafeLoader/CSafeLoader only
    except yaml.constructor.ConstructorError as exc:
        raise ResultFileError([Problem(path, "<file>", f"refused by safe YAML loading: {_one_line(exc)}")]) from None
    except yaml.YAMLError as exc:
        raise ResultFileError([Problem(path, "<file>", f"not valid YAML: {_one_line(exc)}")]) from None


MAX_PROBLEM_CHARS = 300


def _one_line(exc: Exception) -> str:
    """PyYAML's what and where, without the quoted snippet of the file that its str() adds."""
    if isinstance(exc, yaml.MarkedYAMLError):
        parts = []
        for what, mark in ((exc.context, exc.context_mark), (exc.problem, exc.problem_mark)):
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            if what or where:
                parts.append(f"{what or ''}{where}".strip())
        text = "; ".join(parts) or type(exc).__name__
    else:
        text = type(exc).__name__
    return _bounded(re.sub(r"\s+", " ", text).strip())


def _bounded(text: str) -> str:
    """Cut a message that quotes a file's words (a tag, an alias) to MAX_PROBLEM_CHARS."""
    return text if len(text) <= MAX_PROBLEM_CHARS else text[: MAX_PROBLEM_CHARS - 3] + "..."


def _shown(value: Any) -> str:
    """A number from a file as it is; anything else only by its type, so a problem never quotes a file's text."""
    return repr(value) if isinstance(value, int | float) else f"of type {type(value).__name__}"


def upgrade_command() -> str:
    """How to get a newer benchsite: ``git pull`` for a clone (installed with -e), else pip."""
    if (Path(__file__).resolve().parents[1] / ".git").exists():
        return "git pull in your benchsite clone, then pip install -e . there"
    return "pip install -U benchsite"


def migrate(data: dict[str, Any], path: str | os.PathLike[str]) -> dict[str, Any]:
    """Bring a parsed result mapping of any schema_version this benchsite reads up to SCHEMA_VERSION."""
    version = data.get("schema_version")
    if version is None:
        raise ResultFileError([Problem(path, "schema_version", "missing; every result file must carry it")])
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:  # True == 1, yet `true` is no version
        why = f"unknown schema_version {_shown(version)}; this benchsite reads 1 to {SCHEMA_VERSION}"
        raise ResultFileError([Problem(path, "schema_version", why)])
    if version > SCHEMA_VERSION:
        why = f"{version} is newer than this benchsite reads ({SCHEMA_VERSION}); upgrade with: {upgrade_command()}"
        raise ResultFileError([Problem(path, "schema_version", why)])
    for step in MIGRATIONS[version - 1 :]:
        data = step(data)
    return data


def validate_data(data: Any, path: str | os.PathLike[str]) -> Result:
    """Validate an already-parsed mapping of any readable version (migrated first); raise ResultFileError with every problem."""
    path = str(path)
    if data is None:
        raise ResultFileError([Problem(path, "<file>", "file is empty")])
    if not isinstance(data, dict):
        raise ResultFileError([Problem(path, "<file>", f"must be a mapping, got {type(data).__name__}")])
    data = migrate(data, path)
    problems: list[Problem] = []
    _check_finite(data, "", path, problems)
    try:
        result = Result.model_validate(data)
    except ValidationError as exc:
        known = {p.field for p in problems}
        problems += [p for p in problems_from_validation(path, exc) if p.field not in known]
    if problems:
        raise ResultFileError(problems)
    return result


def read_result_bytes(raw: bytes, path: str | os.PathLike[str]) -> Result:
    """Decode, safely parse and validate the bytes of one result file."""
    if len(raw) > MAX_RESULT_FILE_BYTES:
        raise ResultFileError([Problem(path, "<file>", f"{len(raw)} bytes is over the {MAX_RESULT_FILE_BYTES}-byte limit")])
    if not raw.strip():
        raise ResultFileError([Problem(path, "<file>", "file is empty")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ResultFileError([Problem(path, "<file>", f"not UTF-8 text: {exc.reason} at byte {exc.start}")]) from None
    return validate_data(parse_yaml_text(text, path), path)


def read_result(path: str | os.PathLike[str]) -> Result:
    """Read one result file; raise ResultFileError listing every problem in it."""
    path = Path(path)
    try:
        # O_NOFOLLOW: a symlink is refused, never followed; O_NONBLOCK: a FIFO cannot hang the reader
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        why = "is a symbolic link; result files must be regular files" if path.is_symlink() else f"cannot read: {exc.strerror or exc}"
        raise ResultFileError([Problem(path, "<file>", why)]) from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ResultFileError([Problem(path, "<file>", "not a regular file; result files must be regular files")])
        if info.st_size > MAX_RESULT_FILE_BYTES:
            raise ResultFileError([Problem(path, "<file>", f"{info.st_size} bytes is over the {MAX_RESULT_FILE_BYTES}-byte limit")])
        try:
            raw = handle.read(MAX_RESULT_FILE_BYTES + 1)
        except OSError as exc:
            raise ResultFileError([Problem(path, "<file>", f"cannot read: {exc.strerror or exc}")]) from None
    return read_result_bytes(raw, path)


def iter_result_files(*roots: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield result files under each root (a file or a folder), sorted, skipping hidden files.

    Symlinks and other non-regular entries with a result suffix are yielded
    too (not followed), so that reading them reports a problem instead of
    silently skipping or following them.
    """
    for root in roots:
        yield from map(Path, result_file_paths(root))


def result_file_paths(root: str | os.PathLike[str]) -> list[str]:
    """iter_result_files() of one root as strings: the build's scan lists 100,000 files without making a Path of each."""
    return [folder + name for folder, name in result_file_folders(root)]


def result_file_folders(root: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """result_file_paths() as (folder with a trailing separator, file name) pairs: each folder's string is made once."""
    if os.path.isfile(root):
        folder, name = os.path.split(str(Path(root)))
        return [(os.path.join(folder, "") if folder else "", name)]
    if not os.path.isdir(root):
        raise FileNotFoundError(f"{root}: no such file or folder")
    found: list[tuple[str, str]] = []

    def walk(where: str, folder: str) -> None:
        # each folder's entries by name, files and folders together: the order of sorted Paths, part by part, with no
        # tuple of parts per file and no sort of them all (os.scandir: an entry's kind comes without a stat)
        try:
            with os.scandir(where) as listing:
                entries = sorted(listing, key=_entry_name)
        except OSError:  # an unreadable folder is skipped, as os.walk skips it
            return
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            try:
                inside = entry.is_dir(follow_symlinks=False)  # never into a linked folder: it is listed as an entry
            except OSError:
                inside = False
            if inside:
                walk(entry.path, folder + name + os.sep)
            elif name.endswith(RESULT_SUFFIXES):
                found.append((folder, name))

    walk(os.fspath(root), os.path.join(str(Path(root)), ""))  # as a Path of the root would print it
    return found


def _entry_name(entry: os.DirEntry[str]) -> str:
    return entry.name


def result_to_data(result: Result) -> dict[str, Any]:
    """The plain mapping written to a file: JSON-compatible, UTC timestamps with 'Z'."""
    return result.model_dump(mode="json", exclude_none=False)


def dump_result_yaml(result: Result) -> str:
    """Serialise a result as YAML that reads back through the safe loader."""
    return yaml.dump(result_to_data(result), Dumper=SafeDumper, sort_keys=False, allow_unicode=True, width=120)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a result file, for editors and the site's Data page."""
    schema = Result.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"benchsite-result-v{SCHEMA_VERSION}.schema.json"
    schema["title"] = f"benchsite result file, schema_version {SCHEMA_VERSION}"
    return schema


def utc_now() -> datetime:
    """The current time in UTC, with microseconds."""
    return datetime.now(UTC)


# --- writing files atomically ------------------------------------------------
# The other half of the file contract, for both towers (result files, checkpoints and weights in the runners; the
# build's docs and caches in the generator): a reader sees the old file or the new one, never half of one.


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a unique temporary path beside ``path`` to write, then move it into place in one step.

    The temporary name is hidden (``.tmp-...``) and ends like ``path`` (a writer that checks the suffix accepts
    it). ``overwrite=False`` links instead of replacing, so an existing file is never replaced (FileExistsError).
    On any error the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{os.getpid()}-{secrets.token_hex(4)}-{path.name[-64:]}")
    try:
        yield tmp
        if overwrite:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path: str | os.PathLike[str], content: bytes | str, *, overwrite: bool = True, fsync: bool = False) -> Path:
    """Write ``content`` (str as UTF-8) to ``path`` through a temporary file beside it; ``fsync`` makes it durable first."""
    with atomic_path(path, overwrite=overwrite) as tmp, open(tmp, "xb") as handle:
        handle.write(content.encode("utf-8") if isinstance(content, str) else content)
        if fsync:
            handle.flush()
            os.fsync(handle.fileno())
    return Path(path)
