"""Throughput mode: training samples per second over a measured window, warm-up excluded.

Two windows of the same length: end to end (batches from the data pipeline) and
compute only (one batch already on the device, reused). Throughput is total
samples over total time of the window; the device is synchronised only at the
window's ends. Mean data time is the difference per step.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from runners.frameworks.base import Backend
from runners.modes.base import ModeResult
from runners.modes.convergence import training_section
from runners.schema import Throughput
from runners.stats import samples_per_second

MAX_WINDOWS = 4


def _timed(backend: Backend, steps: int, cached_batch: bool) -> tuple[float, float, int]:
    """Run ``steps`` steps; return the window's perf_counter start and end, and its samples."""
    start = time.perf_counter()
    stats = backend.train_steps(steps, cached_batch=cached_batch)
    return start, time.perf_counter(), stats.samples


def _window(backend: Backend, steps: int, min_time_s: float, cached_batch: bool) -> tuple[int, float, float, int]:
    """Measure ``steps`` steps; lengthen and measure again until the window lasts at least ``min_time_s``."""
    for _ in range(MAX_WINDOWS):
        start, end, samples = _timed(backend, steps, cached_batch)
        if end - start >= min_time_s:
            break
        steps = max(steps + 1, math.ceil(steps * min_time_s / max(end - start, 1e-6) * 1.1))
    return steps, start, end, samples


def run(backend: Backend, progress: Callable[[str], None] = print) -> ModeResult:
    """Warm up, then time an end-to-end and a compute-only window; return the training section."""
    spec = backend.spec
    cfg = spec.benchmark.throughput
    world = backend.launch.world_size
    backend.build_model(train=True)
    backend.open_throughput_data(synthetic=spec.synthetic)
    start = time.perf_counter()
    backend.train_steps(1, cached_batch=False)
    first_step_s = time.perf_counter() - start
    if cfg.warmup_steps > 1:
        backend.train_steps(cfg.warmup_steps - 1, cached_batch=False)
    progress(f"  warm-up: {cfg.warmup_steps} step(s), first step {first_step_s:.2f}s")

    steps, e2e_start, e2e_end, local_samples = _window(backend, cfg.min_steps, cfg.min_time_s, cached_batch=False)
    e2e_time = e2e_end - e2e_start
    compute_start, compute_end, compute_samples = _timed(backend, steps, cached_batch=True)
    compute_time = compute_end - compute_start
    total = local_samples * world
    throughput = Throughput(
        samples_per_s=samples_per_second(total, e2e_time),
        samples_per_s_per_device=samples_per_second(total, e2e_time) / world,
        compute_samples_per_s=samples_per_second(compute_samples * world, compute_time),
        data_time_mean_ms=1000 * max(e2e_time - compute_time, 0.0) / steps,
        warmup_steps=cfg.warmup_steps,
        measured_steps=steps,
        measured_samples=total,
        measured_time_s=e2e_time,
        timer=f"time.perf_counter around {steps} steps, device synchronised at the window ends",
        power=backend.window_power(e2e_start, e2e_end),
    )
    progress(
        f"  {steps} steps in {e2e_time:.2f}s: {throughput.samples_per_s:.1f} samples/s end to end, "
        f"{throughput.compute_samples_per_s:.1f} compute only, data {throughput.data_time_mean_ms:.2f} ms/step"
    )
    compile_time = first_step_s if spec.benchmark.options.compile else None
    return ModeResult.measured(backend, training=training_section(backend, throughput=throughput, compile_time_s=compile_time))
