"""Convergence mode: time-to-train to the suite's quality target, with MLPerf's clock boundaries.

Model creation is off the clock (recorded as init_time_s). The clock starts at
the first touch of the data and stops at the end of the first evaluation that
reaches the target; evaluation runs on the clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from runners.frameworks.base import Backend
from runners.schema import EpochRecord, SubjectMetrics, Throughput, TimeToTarget, Training
from runners.stats import samples_per_second


def _training_section(backend: Backend, **measured: Any) -> Training:
    spec = backend.spec
    cfg = spec.benchmark.training
    return Training(
        batch_per_device=cfg.batch_size,
        global_batch=cfg.batch_size * cfg.grad_accum_steps * spec.launch.world_size,
        grad_accum_steps=cfg.grad_accum_steps,
        optimizer=cfg.optimizer,
        hyperparameters=cfg.model_dump(mode="json"),
        precision_flags=backend.precision_flags(),
        weak_scaling=True if spec.launch.world_size > 1 else None,
        **measured,
    )


def run(backend: Backend, progress: Callable[[str], None] = print) -> dict[str, Any]:
    """Train until the target is reached or max_epochs run out; return the training section."""
    bench = backend.spec.benchmark
    cfg, target = bench.training, bench.quality_target
    init_start = time.perf_counter()
    backend.build_model(train=True)
    init_time = time.perf_counter() - init_start

    clock_start = time.perf_counter()
    backend.open_data()
    curve: list[EpochRecord] = []
    samples = steps = 0
    train_time = data_time = 0.0
    reached_at: float | None = None
    last_eval = None
    epoch = 0
    for epoch in range(1, cfg.max_epochs + 1):
        stats = backend.train_epoch(epoch, cfg.max_epochs)
        samples, steps = samples + stats.samples, steps + stats.steps
        train_time, data_time = train_time + stats.time_s, data_time + stats.data_time_s
        metrics: dict[str, float] = {}
        if epoch % cfg.eval_every == 0 or epoch == cfg.max_epochs:
            last_eval = backend.evaluate()
            metrics = last_eval.metrics
        wall = time.perf_counter() - clock_start
        curve.append(
            EpochRecord(epoch=epoch, train_loss=stats.loss_mean, eval=metrics, epoch_time_s=stats.time_s, wall_time_s=wall, lr=stats.lr)
        )
        shown = " ".join(f"{k} {v:.4f}" for k, v in metrics.items())
        progress(
            f"  epoch {epoch}/{cfg.max_epochs}  train_loss {stats.loss_mean:.4f}  {shown}  "
            f"{stats.samples / stats.time_s:.0f} samples/s  clock {wall:.1f}s"
        )
        if metrics.get(target.metric, float("-inf")) >= target.value:
            reached_at = wall
            progress(f"  reached {target.metric} >= {target.value} after {epoch} epoch(s), time to train {wall:.2f}s")
            break
    if reached_at is None:
        progress(f"  target {target.metric} >= {target.value} not reached in {cfg.max_epochs} epochs")

    allocated, reserved = backend.memory_peaks_mib()
    return {
        "training": _training_section(
            backend,
            throughput=Throughput(
                samples_per_s=samples_per_second(samples, train_time),
                compute_samples_per_s=samples_per_second(samples, max(train_time - data_time, 1e-9)),
                data_time_mean_ms=1000 * data_time / max(steps, 1),
                warmup_steps=0,
                measured_steps=steps,
                measured_samples=samples,
                measured_time_s=train_time,
                timer="time.perf_counter",
            ),
            time_to_target=TimeToTarget(
                metric=target.metric,
                target=target.value,
                reached=reached_at is not None,
                time_to_target_s=reached_at,
                init_time_s=init_time,
                epochs=epoch,
                max_epochs=cfg.max_epochs,
                eval_every=cfg.eval_every,
            ),
            curve=curve,
            final_metrics=last_eval.metrics if last_eval else {},
            per_subject=[SubjectMetrics(subject=s, samples=n, metrics=m) for s, n, m in (last_eval.per_subject if last_eval else [])],
        ),
        "framework_peaks_mib": (allocated, reserved),
    }
