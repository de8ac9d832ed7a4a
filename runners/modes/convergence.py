"""Convergence mode: time-to-train to the suite's quality target, with MLPerf's clock boundaries.

Model creation is off the clock (recorded as init_time_s). The clock starts at
the first touch of the data and stops at the end of the first evaluation that
reaches the target; evaluation runs on the clock. A checkpoint every k epochs
carries the clock, so ``--resume`` continues a killed run and says so.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from runners import testhooks
from runners.checkpoints import checkpoint_dir, weights_dir
from runners.frameworks.base import Backend
from runners.modes.base import ModeResult
from runners.schema import EpochRecord, SubjectMetrics, Throughput, TimeToTarget, Training
from runners.stats import samples_per_second


def training_section(backend: Backend, **measured: Any) -> Training:
    """The training section common to every training mode, with what the mode measured."""
    spec = backend.spec
    cfg = spec.benchmark.training
    return Training(
        batch_per_device=cfg.batch_size,
        global_batch=backend.global_batch,
        grad_accum_steps=cfg.grad_accum_steps,
        optimizer=cfg.optimizer,
        hyperparameters=cfg.recorded(),
        precision_flags=backend.precision_flags(),
        options=backend.options(),
        weak_scaling=True if backend.launch.world_size > 1 else None,
        model_flops_per_sample=backend.flops_per_sample(),
        **measured,
    )


@dataclass
class Progress:
    """What survives a checkpoint: the clock and the counters of the epochs done."""

    epoch: int = 0
    clock_s: float = 0.0
    samples: int = 0
    steps: int = 0
    train_time_s: float = 0.0
    data_time_s: float = 0.0
    curve: list[dict[str, Any]] = field(default_factory=list)


def _resume(backend: Backend, progress: Callable[[str], None]) -> Progress | None:
    if not backend.spec.resume:
        return None
    state = backend.load_checkpoint(checkpoint_dir(backend.spec))
    if state is None:
        progress("  --resume: no checkpoint of this configuration; starting from epoch 1")
        return None
    progress(f"  resumed from the checkpoint after epoch {state['epoch']} (clock {state['clock_s']:.1f}s)")
    return Progress(**state)


def run(backend: Backend, progress: Callable[[str], None] = print) -> ModeResult:
    """Train until the target is reached or max_epochs run out; return the training section."""
    spec = backend.spec
    cfg, target = spec.benchmark.training, spec.benchmark.quality_target
    init_start = time.perf_counter()
    backend.build_model(train=True)
    init_time = time.perf_counter() - init_start
    done = _resume(backend, progress)
    resumed = done is not None
    done = done or Progress()

    window_start = time.perf_counter()  # this process's part of the training clock, for its board power
    clock_start = window_start - done.clock_s
    backend.open_data()
    reached_at: float | None = None
    last_eval = None
    epoch = done.epoch
    for epoch in range(done.epoch + 1, cfg.max_epochs + 1):
        stats = backend.train_epoch(epoch, cfg.max_epochs)
        done.samples, done.steps = done.samples + stats.samples, done.steps + stats.steps
        done.train_time_s, done.data_time_s = done.train_time_s + stats.time_s, done.data_time_s + stats.data_time_s
        metrics: dict[str, float] = {}
        if epoch % cfg.eval_every == 0 or epoch == cfg.max_epochs:
            last_eval = backend.evaluate()
            metrics = last_eval.metrics
        wall = time.perf_counter() - clock_start
        record = EpochRecord(
            epoch=epoch, train_loss=stats.loss_mean, eval=metrics, epoch_time_s=stats.time_s, wall_time_s=wall, lr=stats.lr
        )
        done.curve.append(record.model_dump())
        shown = " ".join(f"{k} {v:.4f}" for k, v in metrics.items())
        progress(
            f"  epoch {epoch}/{cfg.max_epochs}  train_loss {stats.loss_mean:.4f}  {shown}  "
            f"{stats.samples / stats.time_s:.0f} samples/s  clock {wall:.1f}s"
        )
        if metrics.get(target.metric, float("-inf")) >= target.value:
            reached_at = wall
            progress(f"  reached {target.metric} >= {target.value} after {epoch} epoch(s), time to train {wall:.2f}s")
            break
        if epoch % spec.benchmark.checkpoint_every == 0:
            done.epoch, done.clock_s = epoch, time.perf_counter() - clock_start
            backend.save_checkpoint(checkpoint_dir(spec), asdict(done))
        testhooks.kill_after_epoch(epoch)
    window_end = time.perf_counter()
    if reached_at is None:
        progress(f"  target {target.metric} >= {target.value} not reached in {cfg.max_epochs} epochs")
    else:
        backend.save_trained_weights(
            weights_dir(spec), {"run_id": spec.run_id, "precision": spec.precision, "epochs": epoch, "metrics": last_eval.metrics}
        )
    if backend.rank == 0:
        shutil.rmtree(checkpoint_dir(spec), ignore_errors=True)

    return ModeResult.measured(
        backend,
        resumed=resumed,
        training=training_section(
            backend,
            throughput=Throughput(
                samples_per_s=samples_per_second(done.samples, done.train_time_s),
                samples_per_s_per_device=samples_per_second(done.samples, done.train_time_s) / backend.launch.world_size,
                compute_samples_per_s=samples_per_second(done.samples, max(done.train_time_s - done.data_time_s, 1e-9)),
                data_time_mean_ms=1000 * done.data_time_s / max(done.steps, 1),
                warmup_steps=0,
                measured_steps=done.steps,
                measured_samples=done.samples,
                measured_time_s=done.train_time_s,
                timer="time.perf_counter",
                power=backend.window_power(window_start, window_end),
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
            curve=[EpochRecord(**e) for e in done.curve],
            final_metrics=last_eval.metrics if last_eval else {},
            per_subject=[SubjectMetrics(subject=s, samples=n, metrics=m) for s, n, m in (last_eval.per_subject if last_eval else [])],
        ),
    )
