"""One recipe, two frameworks: RMSprop with gradient accumulation trains in PyTorch and TensorFlow alike."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_cli

from runners.schema import Status, iter_result_files, read_result

pytestmark = pytest.mark.slow

MICRO_BATCHES_PER_EPOCH = (1438 // 32) * 2  # whole optimizer steps of 2 x 16 images from 1,438 training digits


def test_rmsprop_with_gradient_accumulation_trains_alike_in_both_frameworks(tmp_path: Path, data_dir: Path, dataset_cache: Path):
    proc = run_cli(["run", "--suite", str(data_dir / "suites" / "recipes.yaml"), "--results", str(tmp_path)], dataset_cache)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    by_framework = {r.run.framework: r for r in map(read_result, iter_result_files(tmp_path))}
    assert set(by_framework) == {"pytorch", "tensorflow"}
    curves = []
    for result in by_framework.values():
        training = result.training
        assert result.run.status is Status.success and training.time_to_target.reached
        assert (training.optimizer, training.grad_accum_steps, training.batch_per_device, training.global_batch) == ("rmsprop", 2, 16, 32)
        assert training.hyperparameters["rmsprop_alpha"] == 0.9 and training.hyperparameters["rmsprop_eps"] == 0.001
        epochs = training.time_to_target.epochs
        assert training.throughput.measured_steps == epochs * MICRO_BATCHES_PER_EPOCH
        assert training.throughput.measured_samples == epochs * MICRO_BATCHES_PER_EPOCH * 16
        curves.append([e.lr for e in training.curve])
    # the same schedule over optimizer steps, not micro-batches: warm-up ends after epoch 1 at the full rate
    shared = min(map(len, curves))
    assert shared >= 2 and curves[0][:shared] == pytest.approx(curves[1][:shared], rel=1e-5)
    assert curves[0][0] == pytest.approx(0.002)
