"""Inference mode: a latency sweep over batch sizes with warm-up, minimum iterations and minimum time."""

from __future__ import annotations

import time
from collections.abc import Callable

from runners.frameworks.base import Backend
from runners.modes.base import ModeResult
from runners.schema import Inference, InferencePoint
from runners.stats import PERCENTILE_METHOD, latency_stats, low_sample_percentiles, samples_per_second, stored_latency_samples


def measure_batch(backend: Backend, batch_size: int, warmup: int, min_iterations: int, min_time_s: float) -> InferencePoint:
    """Time forward passes of one batch size until both the iteration and the time minimum are met."""
    batch = backend.inference_batch(batch_size)
    first = time.perf_counter()
    backend.infer(batch)  # the first call pays for compilation, if any; it counts as warm-up
    backend.compile_time_s = (backend.compile_time_s or 0.0) + (time.perf_counter() - first)
    for _ in range(warmup - 1):
        backend.infer(batch)
    latencies_ms: list[float] = []
    start = time.perf_counter()
    while len(latencies_ms) < min_iterations or time.perf_counter() - start < min_time_s:
        latencies_ms.append(backend.timed_infer(batch))  # device time: CUDA events on a GPU, perf_counter + sync on a CPU
    end = time.perf_counter()
    duration = end - start
    n = len(latencies_ms)
    return InferencePoint(
        batch_size=batch_size,
        resolution=backend.spec.benchmark.dataset.image_size,
        warmup_iterations=max(warmup, 1),
        iterations=n,
        duration_s=duration,
        samples_per_s=samples_per_second(batch_size * n, duration),
        latency_ms=latency_stats(latencies_ms),
        sample_count=n,
        low_sample_percentiles=low_sample_percentiles(n),
        power=backend.window_power(start, end),
        latency_samples_ms=stored_latency_samples(latencies_ms),
    )


def run(backend: Backend, progress: Callable[[str], None] = print) -> ModeResult:
    """Sweep the suite's batch sizes; return the inference section."""
    cfg = backend.spec.benchmark.inference
    backend.build_model(train=False)
    backend.compile_time_s = None
    if not backend.quality and backend.dataset is not None:  # off the clock: what the timed weights score on validation
        backend.quality = backend.timed_model_quality()
    if backend.quality:
        progress("  quality of the timed model: " + ", ".join(f"{k} {v:.4f}" for k, v in backend.quality.items()))
    points = []
    for batch_size in cfg.batch_sizes:
        point = measure_batch(backend, batch_size, cfg.warmup_iterations, cfg.min_iterations, cfg.min_time_s)
        lat = point.latency_ms
        progress(
            f"  batch {batch_size:>4}: {point.samples_per_s:9.1f} samples/s  mean {lat.mean:.3f} ms  "
            f"p50 {lat.p50:.3f}  p99 {lat.p99:.3f} ms  ({point.sample_count} iterations)"
        )
        points.append(point)
    return ModeResult.measured(
        backend,
        inference=Inference(
            precision=backend.spec.precision,
            timer=backend.timer,
            percentile_method=PERCENTILE_METHOD,
            min_iterations=cfg.min_iterations,
            min_time_s=cfg.min_time_s,
            precision_flags=backend.precision_flags(),
            options=backend.options(),
            compile_time_s=backend.compile_time_s if backend.spec.benchmark.options.compile else None,
            weights=backend.weights,
            model_flops_per_sample=backend.flops_per_sample(),
            quality=backend.quality,
            results=points,
        ),
    )
