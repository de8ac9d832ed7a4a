"""What one run is asked to do (RunSpec) and how its result record is assembled.

Used by the worker that measures and by the launcher that writes the record
of a run that crashed or timed out, so every run ends in a result.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from runners import __version__
from runners.environment import allowlisted_env, git_state, host_facts, package_versions, redact
from runners.registry import get_framework
from runners.schema import (
    MAX_ERROR_CHARS,
    SCHEMA_VERSION,
    Accelerators,
    Dataset,
    Environment,
    Inference,
    Launch,
    Mode,
    Provenance,
    Repeat,
    Result,
    Run,
    Status,
    Strict,
    Telemetry,
    Training,
)
from runners.suites import Benchmark, config_hash
from runners.writing import recorded_path


@dataclass(frozen=True)
class Option:
    """How ``benchsite run`` offers a RunOptions field (its flag and argparse's keywords), and whether provenance records it."""

    flag: str
    argparse: tuple[tuple[str, Any], ...] = ()
    provenance: bool = False


def option(flag: str, provenance: bool = False, **argparse_kwargs: Any) -> Option:
    return Option(flag, tuple(argparse_kwargs.items()), provenance)


def fraction(text: str) -> float:
    """An argparse type: a number > 0 and <= 1."""
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be > 0 and <= 1, got {value}")
    return value


class RunOptions(Strict):
    """The options of ``benchsite run`` that reach every run unchanged: defined once, here.

    A field with an :class:`Option` becomes a ``benchsite run`` option (help: its
    description), travels in the RunRequest and every RunSpec, and with
    ``provenance=True`` is recorded in the result's provenance under its name.
    """

    results_dir: Annotated[Path, option("--results", type=Path, metavar="DIR")] = Field(
        Path("results"), description="folder to write result files into (default: results)"
    )
    data_dir: Annotated[Path | None, option("--data", type=Path, metavar="DIR")] = Field(
        None, description="an ImageNet-style image folder (train/<class>/*, val/<class>/*) for suites that need one"
    )
    cache_dir: Path | None = Field(None, description="Prepared datasets, checkpoints, logs (default: ~/.cache/benchsite).")
    device: Annotated[str, option("--device")] = Field(
        "auto", description="auto (cuda if available, else cpu), cpu or cuda (default: auto)"
    )
    synthetic: Annotated[bool, option("--synthetic", action="store_true")] = Field(
        False, description="time on-device random tensors instead of a dataset (throughput/inference)"
    )
    resume: Annotated[bool, option("--resume", action="store_true")] = Field(
        False, description="continue a killed convergence run from its last checkpoint"
    )
    window_scale: Annotated[float | None, option("--window-scale", provenance=True, type=fraction, metavar="F")] = Field(
        None,
        description="measure throughput/inference windows shortened to this fraction (0 < F <= 1), for a quick check;"
        " recorded in provenance",
    )
    verbose: Annotated[bool, option("--verbose", action="store_true")] = Field(
        False, description="show library messages live too (they always go to each run's log file)"
    )
    command: list[str] = Field([], description="The command line that started the runs, recorded in provenance.")

    @classmethod
    def cli_options(cls) -> dict[str, Option]:
        """Each field offered on the command line, by field name."""
        return {name: m for name, f in cls.model_fields.items() for m in f.metadata if isinstance(m, Option)}

    def run_options(self) -> dict[str, Any]:
        """The values of RunOptions' fields (also on a subclass, for handing on to another)."""
        return {name: getattr(self, name) for name in RunOptions.model_fields}

    def recorded_options(self) -> dict[str, Any]:
        """The options provenance records, by name."""
        return {name: getattr(self, name) for name, opt in self.cli_options().items() if opt.provenance}


class RunSpec(RunOptions):
    """Everything a worker needs to run one benchmark in one mode and precision: the run options, then the plan's."""

    run_id: str
    suite: str
    benchmark: Benchmark
    framework: str
    mode: Mode
    precision: str
    seed: int
    repeat: Repeat
    launch: Launch = Launch(engine="local")
    log_path: Path | None = Field(None, description="The run's log file; set by the launcher.")

    def resolved_config(self) -> dict[str, Any]:
        """The configuration that determines the numbers, hashed into provenance."""
        return {
            "benchmark": self.benchmark.model_dump(mode="json", exclude={"python"}),  # where, not what
            "framework": self.framework,
            "mode": self.mode.value,
            "precision": self.precision,
            "seed": self.seed,
            "synthetic": self.synthetic,
            "launch": self.launch.model_dump(mode="json"),
        }


def framework_version(framework: str) -> str:
    """Installed version of the framework's main distribution, or 'not installed'."""
    for name in get_framework(framework).versioned_by:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return "not installed"


def capture_environment(spec: RunSpec, device: str, accelerators: Accelerators, libraries: dict[str, str] | None = None) -> Environment:
    """Host, packages (and the GPU libraries the backend used: CUDA, cuDNN, NCCL), accelerators, launch, allowlisted variables."""
    return Environment(
        host=host_facts(),
        python_version=sys.version.split()[0],
        packages=package_versions(get_framework(spec.framework).packages) | (libraries or {}),
        device=device,
        accelerators=accelerators,
        launch=spec.launch,
        env_vars=allowlisted_env(),
    )


def provenance(spec: RunSpec) -> Provenance:
    """benchsite version, git state, command line, config hash and seed."""
    commit, dirty = git_state()
    return Provenance(
        benchsite_version=__version__,
        git_commit=commit,
        git_dirty=dirty,
        command=[redact(arg) for arg in spec.command],
        config_hash=config_hash(spec.resolved_config()),
        seed=spec.seed,
        **spec.recorded_options(),
    )


def assemble(
    spec: RunSpec,
    *,
    status: Status,
    started: datetime,
    finished: datetime,
    environment: Environment,
    dataset: Dataset,
    error: str | None = None,
    training: Training | None = None,
    inference: Inference | None = None,
    telemetry: Telemetry | None = None,
    resumed: bool = False,
) -> Result:
    """Build the validated record of one run."""
    bench = spec.benchmark
    return Result(
        schema_version=SCHEMA_VERSION,
        run=Run(
            id=spec.run_id,
            suite=spec.suite,
            benchmark=bench.name,
            model=bench.model,
            task=bench.task,
            framework=spec.framework,
            framework_version=framework_version(spec.framework),
            mode=spec.mode,
            precision=spec.precision,
            status=status,
            error=None if error is None else bounded_error(redact(error)),
            started_utc=started,
            finished_utc=finished,
            duration_s=round((finished - started).total_seconds(), 3),
            resumed=resumed,
            repeat=spec.repeat,
            log=recorded_path(spec.log_path) if spec.log_path else None,
        ),
        provenance=provenance(spec),
        environment=environment,
        dataset=dataset,
        training=training,
        inference=inference,
        telemetry=telemetry or Telemetry(),
    )


ERROR_HEAD_CHARS = 2000


def bounded_error(text: str) -> str:
    """``text`` cut to the schema's limit: its beginning (the exception) and its end (the last log lines)."""
    if len(text) <= MAX_ERROR_CHARS:
        return text
    marker = f"\n[... {len(text)} characters in all; the middle is cut ...]\n"
    return text[:ERROR_HEAD_CHARS] + marker + text[-(MAX_ERROR_CHARS - ERROR_HEAD_CHARS - len(marker)) :]


def planned_dataset(spec: RunSpec) -> Dataset:
    """What the suite says about the data, for a run that failed before reading it."""
    ds = spec.benchmark.dataset
    return Dataset(name=ds.name, version=ds.version or "unknown", image_size=ds.image_size, num_classes=ds.num_classes)
