"""What a framework backend provides to the modes: model, data, a training epoch, evaluation, a forward pass."""

from __future__ import annotations

import contextlib
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runners.checkpoints import read_json, weights_dir
from runners.datasets import DatasetInfo
from runners.record import RunSpec
from runners.registry import get_framework
from runners.schema import Launch, WindowPower

RANDOM_INIT = "random-init (no trained weights of this benchmark in the cache; run its convergence mode first)"


class RunFailure(Exception):
    """A run that ended without success; ``status`` is the schema status to record."""

    status = "failed"


class Diverged(RunFailure):
    """The training loss became NaN or infinite."""

    status = "diverged"


class OutOfMemory(RunFailure):
    """The device ran out of memory."""

    status = "oom"


class UnsupportedPrecision(RunFailure):
    """The precision cannot run on this device or backend."""


@dataclass
class EpochStats:
    samples: int
    steps: int
    loss_mean: float
    time_s: float
    data_time_s: float
    lr: float


@dataclass
class StepStats:
    """What a window of training steps did, timed by the mode around the call."""

    samples: int
    steps: int
    data_time_s: float = 0.0


@dataclass
class EvalStats:
    metrics: dict[str, float]
    per_subject: list[tuple[str, int, dict[str, float]]] = field(default_factory=list)


class Backend(ABC):
    """One framework's implementation of the work the modes time.

    The training policy every framework shares lives here: the precision check,
    the class count, linear learning-rate scaling, out-of-memory as a status and
    the description of the weights an inference run times.
    """

    name: str
    timer: str
    rank: int = 0  # global rank under torchrun/tf.distribute; only rank 0 reports and writes
    weights: str = "random-init"
    quality: dict[str, float] = {}  # replaced per instance, never mutated
    compile_time_s: float | None = None
    oom_errors: tuple[type[BaseException], ...] = ()  # the framework's out-of-memory exceptions
    weights_file: str = ""  # the trained weights' file name in weights_dir (see read_weights)
    power_meter: Any = None  # the worker's NVML sampler (window_power(start, end)) on rank 0 with NVIDIA GPUs, else None

    def window_power(self, start: float, end: float) -> WindowPower | None:
        """Board power over a window timed with ``time.perf_counter()``, or None without a power meter."""
        return self.power_meter.window_power(start, end) if self.power_meter is not None else None

    def __init__(self, spec: RunSpec, dataset: DatasetInfo | None, device: str) -> None:
        self.spec, self.dataset, self.device = spec, dataset, device
        self.launch: Launch = spec.launch  # the launch in effect; a backend that drives several devices itself says so

    def epoch_seed(self, epoch: int) -> int:
        """The shuffle seed of one epoch: a function of (seed, epoch) only, so a resumed run reads the same order."""
        return self.spec.seed * 100_003 + epoch

    @property
    def num_classes(self) -> int:
        """Classes of the dataset read, else of the suite's dataset, else ImageNet's 1000 (synthetic data)."""
        return self.dataset.num_classes if self.dataset else (self.spec.benchmark.dataset.num_classes or 1000)

    @property
    def global_batch(self) -> int:
        """Images per optimizer step over every device of the launch in effect."""
        cfg = self.spec.benchmark.training
        return cfg.batch_size * cfg.grad_accum_steps * self.launch.world_size

    def scaled_lr(self) -> float:
        """The suite's learning rate scaled linearly from lr_reference_batch to the global batch."""
        cfg = self.spec.benchmark.training
        return cfg.lr * self.global_batch / cfg.lr_reference_batch

    @contextlib.contextmanager
    def oom_as_status(self, where: str) -> Iterator[None]:
        """Turn the framework's out-of-memory error into an ``oom`` record that says where it happened."""
        try:
            yield
        except self.oom_errors as exc:
            first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise OutOfMemory(f"out of memory {where}: {first_line}") from exc

    def read_weights(self, path: Path) -> None:
        """Load trained weights saved as ``path`` into the model."""
        raise NotImplementedError(f"{self.name} cannot load trained weights")

    def load_trained_weights(self) -> str | None:
        """Load the weights a convergence run of this benchmark left in the cache; return which, or None without any."""
        folder = weights_dir(self.spec)
        meta = read_json(folder / "meta.json")
        if meta is None or not self.weights_file or not (folder / self.weights_file).is_file():
            return None
        self.read_weights(folder / self.weights_file)
        return f"trained by run {meta['run_id']} ({meta['precision']}, {meta['epochs']} epochs)"

    def check_precision(self) -> None:
        """Refuse a precision this backend, this device or this mode cannot run, with the reason."""
        precision, framework = self.spec.precision, get_framework(self.name)
        if precision not in framework.precisions:
            raise UnsupportedPrecision(
                f"precision {precision!r} is not supported by the {framework.title} runner; use one of {', '.join(framework.precisions)}"
            )
        if precision == "tf32" and not self.device.startswith("cuda"):
            raise UnsupportedPrecision("tf32 needs an NVIDIA GPU (Ampere or newer); this run is on the CPU")
        if precision == "int8" and self.spec.mode.value != "inference":
            raise UnsupportedPrecision("int8 is an inference precision; training runs use fp32, tf32, amp-fp16 or amp-bf16")

    @classmethod
    @abstractmethod
    def resolve_device(cls, requested: str) -> str:
        """Turn 'auto' / 'cpu' / 'cuda' into the device this run uses."""

    def library_versions(self) -> dict[str, str]:
        """Versions of the GPU libraries this run used that are no Python distribution (CUDA, cuDNN, NCCL); none on a CPU."""
        return {}

    @abstractmethod
    def precision_flags(self) -> dict[str, Any]:
        """The effective numeric settings (so 'fp32' never silently means TF32)."""

    def options(self) -> dict[str, Any]:
        """The performance options in effect (channels_last, compile, ...)."""
        return self.spec.benchmark.options.model_dump()

    @abstractmethod
    def build_model(self, train: bool) -> None:
        """Create the model (and optimizer when training): off the time-to-train clock."""

    @abstractmethod
    def open_data(self) -> None:
        """Open the training and validation data: the first touch of the data, on the clock."""

    @abstractmethod
    def train_epoch(self, epoch: int, total_epochs: int) -> EpochStats:
        """Run one training epoch; raise Diverged on a non-finite loss."""

    @abstractmethod
    def evaluate(self) -> EvalStats:
        """Evaluate on the validation split: top1, top5, loss and per-class top1."""

    def open_throughput_data(self, synthetic: bool) -> None:
        """Prepare data for throughput mode: the image folder, or on-device random tensors when ``synthetic``."""
        raise NotImplementedError(f"{self.name} has no throughput mode yet")

    def train_steps(self, steps: int, cached_batch: bool) -> StepStats:
        """Run ``steps`` optimizer steps and synchronise the device only once, at the end.

        With ``cached_batch`` every step reuses one batch already on the device
        (compute only); otherwise batches come from the data pipeline (end to end).
        """
        raise NotImplementedError(f"{self.name} has no throughput mode yet")

    @abstractmethod
    def inference_batch(self, batch_size: int) -> Any:
        """A batch of real validation images on the device, ready for the forward pass."""

    def timed_infer(self, batch: Any) -> float:
        """One forward pass and its latency in milliseconds, by this backend's timer (``self.timer``)."""
        start = time.perf_counter()
        self.infer(batch)
        return (time.perf_counter() - start) * 1000

    @abstractmethod
    def infer(self, batch: Any) -> None:
        """One forward pass, finished on the device when this returns."""

    def timed_model_quality(self) -> dict[str, float]:
        """Validation metrics of the model inference times, in its precision, evaluated off the clock ({} if it cannot)."""
        return {}

    def flops_per_sample(self) -> float | None:
        """Forward-pass FLOPs of one sample, counted by the framework from the model (None if it cannot count)."""
        return None

    def save_checkpoint(self, folder: Path, state: dict[str, Any]) -> None:
        """Save model, optimizer and ``state`` (JSON) under ``folder``; rank 0 only."""
        return None

    def load_checkpoint(self, folder: Path) -> dict[str, Any] | None:
        """Restore a checkpoint saved by save_checkpoint and return its state, or None when there is none."""
        return None

    def save_trained_weights(self, folder: Path, meta: dict[str, Any]) -> None:
        """Keep the weights of a run that reached its target, for INT8 runs to quantize."""
        return None

    def close(self) -> None:
        """Release what the backend holds (process groups, sessions)."""
        return None

    def memory_peaks_mib(self) -> tuple[float | None, float | None]:
        """Framework peak allocated and reserved device memory, when the device reports it."""
        return None, None
