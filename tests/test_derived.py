"""Derived numbers against hand-computed values and the seed READMEs (NVIDIA DeepLearningExamples)."""

import math

import pytest

from generator.derived import (
    Summary,
    mean,
    olympic_mean,
    scaling,
    scaling_efficiency,
    stdev,
    throughput_speedup,
    time_speedup,
)


def test_mean_and_sample_stdev():
    assert mean([5.1, 6.2, 9.4]) == pytest.approx(6.9)
    # sqrt(((5.1-6.9)^2 + (6.2-6.9)^2 + (9.4-6.9)^2) / 2) = sqrt(9.98 / 2)
    assert stdev([5.1, 6.2, 9.4]) == pytest.approx(math.sqrt(4.99))


def test_stdev_needs_two_values():
    assert stdev([16.8]) is None


def test_mean_of_nothing_is_an_error():
    with pytest.raises(ValueError, match="no values"):
        mean([])


def test_olympic_mean_drops_best_and_worst():
    assert olympic_mean([9.4, 5.1, 6.2]) == pytest.approx(6.2)
    assert olympic_mean([1.0, 2.0, 3.0, 100.0]) == pytest.approx(2.5)
    assert olympic_mean([1.0, 2.0]) is None


def test_weak_scaling_from_the_efficientnet_b0_seed():
    # EfficientNet-B0, 8x A100 80GB: TF32 1209 -> 9119 img/s, mixed precision 3454 -> 20647 img/s
    assert round(scaling(9119, 1209), 2) == 7.54
    assert round(scaling(20647, 3454), 2) == 5.98
    assert round(scaling(17815, 1209), 2) == 14.74  # 16 GPUs
    assert scaling_efficiency(9119, 1209, 8) == pytest.approx(9119 / 1209 / 8)


def test_throughput_speedup_from_the_efficientnet_b0_seed():
    assert round(throughput_speedup(20647, 9119), 2) == 2.26  # 8 GPUs, mixed precision over TF32
    # The seed prints 2.85 for one GPU; 3454 / 1209 = 2.857, so its inputs were rounded before printing.
    assert round(throughput_speedup(3454, 1209), 2) == 2.86


def test_time_to_train_speedup_from_the_efficientnet_b0_seed():
    assert round(time_speedup(8.5, 19.5), 2) == 2.29  # 8x A100: TF32 19.5 h, mixed precision 8.5 h
    assert round(time_speedup(38.0, 49.0), 2) == 1.29  # 8x V100: FP32 49 h, mixed precision 38 h


def test_bad_inputs_are_errors():
    with pytest.raises(ValueError):
        throughput_speedup(1.0, 0.0)
    with pytest.raises(ValueError):
        time_speedup(0.0, 1.0)
    with pytest.raises(ValueError):
        scaling_efficiency(1.0, 1.0, 0)


def test_summary_headline_is_olympic_from_three_runs():
    three = Summary.of([9.4, 5.1, 6.2])
    assert (three.n, three.min, three.max) == (3, 5.1, 9.4)
    assert three.headline == pytest.approx(6.2)
    one = Summary.of([16.8])
    assert one.headline == 16.8 and one.stdev is None and one.olympic is None
