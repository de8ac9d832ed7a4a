"""What a framework backend provides to the modes: model, data, a training epoch, evaluation, a forward pass."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runners.datasets import DatasetInfo
from runners.record import RunSpec


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
    """One framework's implementation of the work the modes time."""

    name: str
    timer: str
    rank: int = 0  # global rank under torchrun/tf.distribute; only rank 0 reports and writes
    weights: str = "random-init"
    quality: dict[str, float] = {}  # replaced per instance, never mutated
    compile_time_s: float | None = None

    def __init__(self, spec: RunSpec, dataset: DatasetInfo | None, device: str) -> None:
        self.spec, self.dataset, self.device = spec, dataset, device

    def epoch_seed(self, epoch: int) -> int:
        """The shuffle seed of one epoch: a function of (seed, epoch) only, so a resumed run reads the same order."""
        return self.spec.seed * 100_003 + epoch

    def check_precision(self, supported: tuple[str, ...], runner: str) -> None:
        """Refuse a precision this backend, this device or this mode cannot run, with the reason."""
        precision = self.spec.precision
        if precision not in supported:
            raise UnsupportedPrecision(
                f"precision {precision!r} is not supported by the {runner} runner; use one of {', '.join(supported)}"
            )
        if precision == "tf32" and not self.device.startswith("cuda"):
            raise UnsupportedPrecision("tf32 needs an NVIDIA GPU (Ampere or newer); this run is on the CPU")
        if precision == "int8" and self.spec.mode.value != "inference":
            raise UnsupportedPrecision("int8 is an inference precision; training runs use fp32, tf32, amp-fp16 or amp-bf16")

    @classmethod
    @abstractmethod
    def resolve_device(cls, requested: str) -> str:
        """Turn 'auto' / 'cpu' / 'cuda' into the device this run uses."""

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
