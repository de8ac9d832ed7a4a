"""Timing statistics shared by every framework: latency percentiles with their method and sample count."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from runners.schema import LatencyStats

PERCENTILE_METHOD = "linear"  # numpy.percentile's default (type 7 of Hyndman & Fan)
PERCENTILES = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0}
# A percentile is flagged when fewer than this many samples lie above it:
# p99 needs 500 timed iterations, p95 100, p90 50, p50 10.
MIN_SAMPLES_ABOVE = 5
# Raw latencies kept per batch size (inference.results[].latency_samples_ms) and their significant digits: enough
# for a rank test between two runs (the suites time at least 200 iterations), while a quick-suite inference result
# grows from about 4 KB to about 8 KB and a nightly one (6 batch sizes) by about 8 KB.
STORED_LATENCY_SAMPLES = 200
STORED_LATENCY_DIGITS = 4


def latency_stats(samples_ms: Sequence[float]) -> LatencyStats:
    """Mean, sample stdev, min, p50/p90/p95/p99 and max of latencies in milliseconds."""
    values = np.asarray(samples_ms, dtype=float)
    if values.size == 0:
        raise ValueError("no latency samples")
    low, high = float(values.min()), float(values.max())
    pcts = np.percentile(values, list(PERCENTILES.values()), method=PERCENTILE_METHOD)
    return LatencyStats(
        mean=min(max(float(values.mean()), low), high),  # float rounding can step outside [min, max]
        stdev=float(values.std(ddof=1)) if values.size > 1 else 0.0,
        min=low,
        max=high,
        **{key: float(v) for key, v in zip(PERCENTILES, pcts, strict=True)},
    )


def low_sample_percentiles(sample_count: int) -> list[str]:
    """Percentiles with fewer than MIN_SAMPLES_ABOVE samples above them at this sample count."""
    return [key for key, q in PERCENTILES.items() if sample_count * (1 - q / 100) < MIN_SAMPLES_ABOVE]


def samples_per_second(samples: int, seconds: float) -> float:
    """Throughput as total samples over total time (never a mean of per-step rates)."""
    if seconds <= 0:
        raise ValueError("throughput needs a positive duration")
    return samples / seconds


def stored_latency_samples(samples_ms: Sequence[float], limit: int = STORED_LATENCY_SAMPLES) -> str:
    """The latencies a result keeps, in run order, space-separated to 4 significant digits: all of them, or ``limit``
    evenly spaced ones (first and last included)."""
    if len(samples_ms) > limit:
        samples_ms = [samples_ms[i] for i in np.linspace(0, len(samples_ms) - 1, limit).round().astype(int)]
    return " ".join(format(value, f".{STORED_LATENCY_DIGITS}g") for value in samples_ms)
