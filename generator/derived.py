"""Derived numbers: pure functions over measured values, nothing else."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

OLYMPIC_MIN_RUNS = 3


def mean(values: Sequence[float]) -> float:
    """Return the arithmetic mean; raise ValueError for no values."""
    if not values:
        raise ValueError("mean of no values")
    return math.fsum(values) / len(values)


def stdev(values: Sequence[float]) -> float | None:
    """Return the sample standard deviation (n - 1), or None for fewer than two values."""
    return statistics.stdev(values) if len(values) >= 2 else None


def olympic_mean(values: Sequence[float]) -> float | None:
    """Return the mean without the best and the worst value, or None for fewer than three values."""
    if len(values) < OLYMPIC_MIN_RUNS:
        return None
    return mean(sorted(values)[1:-1])


def throughput_speedup(throughput: float, baseline: float) -> float:
    """Return how many times faster a rate is than its baseline rate (e.g. AMP vs TF32 img/s)."""
    if baseline <= 0:
        raise ValueError(f"baseline throughput must be > 0, got {baseline}")
    return throughput / baseline


def time_speedup(time_s: float, baseline_s: float) -> float:
    """Return how many times faster a duration is than its baseline duration (e.g. time to train)."""
    if time_s <= 0:
        raise ValueError(f"time must be > 0, got {time_s}")
    return baseline_s / time_s


def scaling(throughput: float, single_device_throughput: float) -> float:
    """Return the scaling factor of a multi-device throughput over the single-device one."""
    return throughput_speedup(throughput, single_device_throughput)


def scaling_efficiency(throughput: float, single_device_throughput: float, devices: int) -> float:
    """Return the scaling factor divided by the number of devices (1.0 is linear)."""
    if devices < 1:
        raise ValueError(f"devices must be >= 1, got {devices}")
    return scaling(throughput, single_device_throughput) / devices


def time_for_epochs(samples_per_s: float, train_samples: int, epochs: int) -> float:
    """Return the seconds that ``epochs`` passes over ``train_samples`` take at a training throughput."""
    if samples_per_s <= 0:
        raise ValueError(f"throughput must be > 0, got {samples_per_s}")
    if train_samples < 1 or epochs < 1:
        raise ValueError(f"train_samples and epochs must be >= 1, got {train_samples} and {epochs}")
    return train_samples * epochs / samples_per_s


@dataclass(frozen=True)
class Summary:
    """Mean, spread and olympic mean of the repeats of one configuration."""

    n: int
    mean: float
    stdev: float | None
    olympic: float | None
    min: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        """Summarise one or more values."""
        return cls(len(values), mean(values), stdev(values), olympic_mean(values), min(values), max(values))

    @property
    def headline(self) -> float:
        """The number a table shows: the olympic mean when there is one, else the mean."""
        return self.mean if self.olympic is None else self.olympic


def flops_rate(samples_per_s: float, flops_per_sample: float) -> float:
    """Return FLOPS: samples per second times FLOPs per sample."""
    if samples_per_s < 0 or flops_per_sample < 0:
        raise ValueError(f"rate and FLOPs per sample must be >= 0, got {samples_per_s} and {flops_per_sample}")
    return samples_per_s * flops_per_sample


def valid_flops(flops: float, achieved_quality: float, target_quality: float, n: int) -> float:
    """Return HPC AI500's Valid FLOPS: FLOPS x (achieved_quality / target_quality)^n."""
    if target_quality <= 0:
        raise ValueError(f"target quality must be > 0, got {target_quality}")
    return flops * (achieved_quality / target_quality) ** n


def valid_images_per_s(terms: Sequence[tuple[float, float]]) -> float:
    """Return AIoTBench's VIPS: the sum over models of accuracy x images per second, terms being (accuracy, images/s)."""
    return math.fsum(accuracy * rate for accuracy, rate in terms)


def valid_flops_per_s(terms: Sequence[tuple[float, float, float]]) -> float:
    """Return AIoTBench's VOPS: the sum over models of accuracy x images per second x FLOPs per image."""
    return math.fsum(accuracy * rate * flops for accuracy, rate, flops in terms)


# --- energy (GPU board power from NVML; host power is not measured) ------------------


def board_power_w(power_means_w: Sequence[float | None]) -> float | None:
    """Return the summed mean board power of a run's GPUs, or None if there are none or any GPU lacks a reading."""
    if not power_means_w or any(w is None for w in power_means_w):
        return None
    return math.fsum(w for w in power_means_w if w is not None)


def energy_per_sample_j(power_w: float, samples_per_s: float) -> float:
    """Return joules per sample: mean power over samples per second (W / (samples/s) = J/sample)."""
    if power_w < 0 or samples_per_s <= 0:
        raise ValueError(f"power must be >= 0 and throughput > 0, got {power_w} W and {samples_per_s} samples/s")
    return power_w / samples_per_s


def energy_kwh(power_w: float, seconds: float) -> float:
    """Return the energy, in kWh, of drawing ``power_w`` for ``seconds`` (e.g. the time to train)."""
    if power_w < 0 or seconds < 0:
        raise ValueError(f"power and time must be >= 0, got {power_w} W and {seconds} s")
    return power_w * seconds / 3.6e6
