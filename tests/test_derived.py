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
    time_for_epochs,
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


def test_weak_scaling_and_speedup_from_the_efficientnet_b4_seed():
    # EfficientNet-B4, A100 80GB: TF32 165 -> 1308 (8) -> 4782 (32) -> 9473 (64) img/s; mixed 470 -> 3550 img/s
    assert round(scaling(1308, 165), 2) == 7.93
    assert round(scaling(4782, 165), 2) == 28.98
    assert round(scaling(9473, 165), 2) == 57.41
    assert round(scaling(3550, 470), 2) == 7.55
    assert round(throughput_speedup(470, 165), 2) == 2.85
    assert round(throughput_speedup(3550, 1308), 2) == 2.71


def test_strong_scaling_and_speedup_from_the_se_resnext101_seed():
    # SE-ResNeXt101-32x4d, DGX A100: TF32 395 -> 2991 img/s, mixed precision 855 -> 5779 img/s (1 -> 8 GPUs)
    assert round(throughput_speedup(855, 395), 2) == 2.16
    assert round(throughput_speedup(5779, 2991), 2) == 1.93
    # The seed prints 7.56x and 6.75x from unrounded throughputs; the rounded table values give:
    assert round(scaling(2991, 395), 2) == 7.57
    assert round(scaling(5779, 855), 2) == 6.76


def test_time_for_90_epochs_from_the_se_resnext101_seed():
    # ImageNet-1k has 1,281,167 training images. The seed prints "~6 hours" (mixed) and "~12 hours" (TF32) for
    # 90 epochs on 8 A100s; its estimate includes evaluation and start-up, ours is the training passes alone.
    mixed = time_for_epochs(5779, 1_281_167, 90)
    tf32 = time_for_epochs(2991, 1_281_167, 90)
    assert mixed == pytest.approx(19_952.4, abs=0.1) and mixed / 3600 == pytest.approx(5.54, abs=0.01)
    assert tf32 == pytest.approx(38_550.7, abs=0.1) and tf32 / 3600 == pytest.approx(10.71, abs=0.01)
    assert round(mixed / 3600) == 6 and 10 < tf32 / 3600 < 12
    # one GPU: ~40 h mixed, ~86 h TF32 in the seed
    assert time_for_epochs(855, 1_281_167, 90) / 3600 == pytest.approx(37.46, abs=0.01)
    assert time_for_epochs(395, 1_281_167, 90) / 3600 == pytest.approx(81.08, abs=0.01)


def test_time_for_epochs_rejects_nonsense():
    with pytest.raises(ValueError):
        time_for_epochs(0.0, 100, 1)
    with pytest.raises(ValueError):
        time_for_epochs(10.0, 0, 1)


def test_accuracy_mean_and_std_over_seeds_from_the_efficientnet_b0_seed():
    # 8x A100 TF32 77.60 % and mixed precision 77.59 %: the mean of two seeds and its sample std
    two = Summary.of([0.7760, 0.7759])
    assert two.mean == pytest.approx(0.77595) and two.stdev == pytest.approx(0.0001 / math.sqrt(2))
    assert two.olympic is None and two.headline == two.mean


def test_energy_figures_equal_hand_computation():
    from generator.derived import board_power_w, energy_kwh, energy_per_sample_j

    power = board_power_w([352.5, 348.0, 351.0, 349.5, 350.0, 350.0, 347.0, 352.0])  # 8 A100s: 2800 W in all
    assert power == pytest.approx(2800.0)
    assert energy_per_sample_j(power, 22100.0) == pytest.approx(2800 / 22100)  # 0.1267 J per image
    assert energy_kwh(power, 22500.0) == pytest.approx(17.5)  # 2800 W for 6.25 h
    assert board_power_w([]) is None and board_power_w([300.0, None]) is None
    with pytest.raises(ValueError):
        energy_per_sample_j(300.0, 0.0)
