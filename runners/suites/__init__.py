"""Suites as data: each ``*.yaml`` here defines benchmarks the runners execute.

The generator reads the same definitions to describe a model, so a target
accuracy or a hyperparameter has exactly one source of truth. Imports nothing
heavy.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from runners.schema import FrameworkName, Mode, SafeLoader, Strict, problems_from_validation

SUITES_DIR = Path(__file__).parent


class SuiteError(Exception):
    """A suite that cannot be found or does not validate."""


class QualityTarget(Strict):
    metric: str = "top1"
    value: Annotated[float, Field(gt=0)]


LOADERS = ("digits", "imagefolder", "synthetic")


class DatasetSpec(Strict):
    name: str = Field(
        description="The dataset's identity, recorded in every result and matched by the site's quality targets "
        "(e.g. 'imagenet'); 'digits' (bundled with scikit-learn), 'imagefolder' or 'synthetic' also name their loader."
    )
    loader: Literal["digits", "imagefolder", "synthetic"] | None = Field(
        None,
        description="How the data is read: 'imagefolder' (train/ and val/ under --data), 'digits', or 'synthetic' "
        "(random images, for `run --synthetic` only); default: the name.",
    )
    version: str | None = Field(None, description="Release id of the data; required for an image folder.")
    image_size: Annotated[int, Field(ge=8)] = 224
    num_classes: Annotated[int, Field(ge=2)] | None = None

    @model_validator(mode="after")
    def _known_loader(self) -> DatasetSpec:
        if self.loader is None and self.name not in LOADERS:
            raise ValueError(f"dataset {self.name!r} needs a loader: one of {', '.join(LOADERS)}")
        return self

    @property
    def reader(self) -> str:
        """The loader that reads this dataset ('digits', 'imagefolder' or 'synthetic'); never part of its identity."""
        return self.loader or self.name


class TrainingSpec(Strict):
    batch_size: Annotated[int, Field(ge=1)]
    optimizer: Literal["sgd", "rmsprop"] = "sgd"
    lr: Annotated[float, Field(gt=0)] = Field(
        description="Learning rate for lr_reference_batch images; scaled linearly with the global batch."
    )
    lr_reference_batch: Annotated[int, Field(ge=1)] = 256
    momentum: Annotated[float, Field(ge=0, lt=1)] = 0.9
    rmsprop_alpha: Annotated[float, Field(gt=0, lt=1)] = Field(
        0.9, description="RMSprop only: decay of the running mean of squared gradients (Keras' rho)."
    )
    rmsprop_eps: Annotated[float, Field(gt=0)] = Field(1e-8, description="RMSprop only: added to the denominator.")
    nesterov: bool = False
    weight_decay: Annotated[float, Field(ge=0)] = 0.0
    bn_weight_decay: bool = False
    label_smoothing: Annotated[float, Field(ge=0, lt=1)] = 0.0
    schedule: Literal["cosine", "constant"] = "cosine"
    warmup_epochs: Annotated[int, Field(ge=0)] = 0
    max_epochs: Annotated[int, Field(ge=1)]
    eval_every: Annotated[int, Field(ge=1)] = 1
    workers: Annotated[int, Field(ge=0)] = 0
    grad_accum_steps: Annotated[int, Field(ge=1)] = 1

    @model_validator(mode="after")
    def _rmsprop_fields_need_rmsprop(self) -> TrainingSpec:
        fields = type(self).model_fields
        given = [f for f in ("rmsprop_alpha", "rmsprop_eps") if getattr(self, f) != fields[f].default]
        if given and self.optimizer != "rmsprop":
            raise ValueError(f"{', '.join(given)}: only used by optimizer 'rmsprop', not {self.optimizer!r}")
        return self

    def recorded(self) -> dict[str, Any]:
        """The hyperparameters a result file records: those the optimizer in use reads."""
        unused = {"rmsprop_alpha", "rmsprop_eps"} if self.optimizer != "rmsprop" else set()
        return self.model_dump(mode="json", exclude=unused)


class InferenceSpec(Strict):
    batch_sizes: list[Annotated[int, Field(ge=1)]] = Field(min_length=1)
    warmup_iterations: Annotated[int, Field(ge=0)] = 10
    min_iterations: Annotated[int, Field(ge=1)] = 100
    min_time_s: Annotated[float, Field(ge=0)] = 1.0


class ThroughputSpec(Strict):
    warmup_steps: Annotated[int, Field(ge=1)] = 10
    min_steps: Annotated[int, Field(ge=1)] = 50
    min_time_s: Annotated[float, Field(ge=0)] = 5.0


class OptionsSpec(Strict):
    channels_last: bool = False
    compile: bool = Field(False, description="torch.compile / Keras jit_compile; compile time is recorded apart.")
    cudnn_benchmark: bool = True


# TensorFlow's and PyTorch's CUDA stacks often cannot share one environment: a suite
# may run a framework's workers with another interpreter (default: the current one).
FrameworkPython = dict[FrameworkName, str]


class Benchmark(Strict):
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")]
    title: str
    description: str = Field(description="One paragraph shown on the model's page.")
    task: str = "image-classification"
    model: str = Field(description="Model name as the page shows it.")
    implementations: dict[FrameworkName, str] = Field(description="Model name per framework, e.g. a timm name for pytorch.", min_length=1)
    dataset: DatasetSpec
    quality_target: QualityTarget
    modes: list[Mode] = Field(min_length=1)
    precisions: list[str] = Field(["fp32"], description="Precisions of the training modes (convergence, throughput).")
    inference_precisions: list[str] | None = Field(None, description="Precisions of the inference mode (default: precisions).")
    seed: int = 0
    training: TrainingSpec
    inference: InferenceSpec | None = None
    throughput: ThroughputSpec = ThroughputSpec()
    options: OptionsSpec = OptionsSpec()
    checkpoint_every: Annotated[int, Field(ge=1)] = Field(1, description="Epochs between checkpoints of a convergence run.")
    timeout_s: Annotated[float, Field(gt=0)] = 3600
    python: FrameworkPython = Field({}, description="Interpreter per framework, e.g. {tensorflow: /opt/tf-env/bin/python}.")

    @model_validator(mode="after")
    def _inference_has_spec(self) -> Benchmark:
        if Mode.inference in self.modes and self.inference is None:
            raise ValueError("mode 'inference' needs an 'inference' section")
        return self

    def with_windows_scaled(self, scale: float) -> Benchmark:
        """This benchmark with its throughput and inference windows (steps, iterations, seconds) scaled by ``scale``."""
        tp = self.throughput
        throughput = tp.model_copy(
            update={
                "warmup_steps": math.ceil(tp.warmup_steps * scale),
                "min_steps": math.ceil(tp.min_steps * scale),
                "min_time_s": tp.min_time_s * scale,
            }
        )
        inference = self.inference and self.inference.model_copy(
            update={
                "warmup_iterations": math.ceil(self.inference.warmup_iterations * scale),
                "min_iterations": math.ceil(self.inference.min_iterations * scale),
                "min_time_s": self.inference.min_time_s * scale,
            }
        )
        return self.model_copy(update={"throughput": throughput, "inference": inference})


class Suite(Strict):
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")]
    description: str
    python: FrameworkPython = Field({}, description="Default interpreter per framework for every benchmark of the suite.")
    benchmarks: list[Benchmark] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _python_applies_to_benchmarks(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("python"), dict) and isinstance(data.get("benchmarks"), list):
            data = {**data, "benchmarks": [_with_python(b, data["python"]) for b in data["benchmarks"]]}
        return data

    @model_validator(mode="after")
    def _unique_names(self) -> Suite:
        names = [b.name for b in self.benchmarks]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"benchmark names must be unique: {', '.join(duplicates)}")
        return self

    def benchmark(self, name: str) -> Benchmark:
        """Return the benchmark called ``name``; raise SuiteError naming the known ones."""
        for bench in self.benchmarks:
            if bench.name == name:
                return bench
        raise SuiteError(f"suite {self.name!r} has no benchmark {name!r}; it has: {', '.join(b.name for b in self.benchmarks)}")


def _with_python(benchmark: Any, python: dict[str, Any]) -> Any:
    if not isinstance(benchmark, dict):
        return benchmark
    return {**benchmark, "python": {**python, **(benchmark.get("python") or {})}}


def list_suites() -> list[str]:
    """Names of the suites shipped in runners/suites/."""
    return sorted(p.stem for p in SUITES_DIR.glob("*.yaml"))


def suite_path(name_or_path: str | Path) -> Path:
    """Resolve a suite name (e.g. 'quick') or a path to a suite YAML file."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") and candidate.is_file():
        return candidate
    shipped = SUITES_DIR / f"{name_or_path}.yaml"
    if shipped.is_file():
        return shipped
    raise SuiteError(f"unknown suite {str(name_or_path)!r}; known suites: {', '.join(list_suites())} (or give a path to a .yaml file)")


SUITE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")


def find_named_suite(name: str, folders: tuple[Path, ...] = ()) -> Suite | None:
    """The suite called ``name`` among the shipped suites, then ``folders``; None when there is none.

    ``name`` comes from result files, which are untrusted: it is only ever a
    name (no slash, no dot), never a path, so a file cannot make a build read
    anything outside these folders.
    """
    if not SUITE_NAME.match(name):
        return None
    for folder in (SUITES_DIR, *folders):
        path = folder / f"{name}.yaml"
        if path.is_file():
            try:
                return load_suite(path)
            except SuiteError:
                return None
    return None


def load_suite(name_or_path: str | Path) -> Suite:
    """Load and validate a suite; every problem is reported as ``path: field: message``."""
    path = suite_path(name_or_path)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=SafeLoader)  # noqa: S506 - safe loader
    except yaml.YAMLError as exc:
        raise SuiteError(f"{path}: <file>: not valid YAML: {' '.join(str(exc).split())}") from None
    try:
        return Suite.model_validate(data)
    except ValidationError as exc:
        raise SuiteError("\n".join(str(p) for p in problems_from_validation(path, exc))) from None


def config_hash(config: dict[str, Any]) -> str:
    """A stable hash of a resolved run configuration, recorded as provenance."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
