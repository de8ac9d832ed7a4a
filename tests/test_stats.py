"""Timing statistics against hand-computed values."""

from __future__ import annotations

import pytest

from runners.stats import latency_stats, low_sample_percentiles, samples_per_second, stored_latency_samples


def test_latency_stats_match_hand_computed_linear_percentiles():
    stats = latency_stats([1.0, 2.0, 3.0, 4.0, 100.0])
    # linear interpolation at rank q*(n-1): p90 -> rank 3.6 -> 4 + 0.6*96
    assert (stats.min, stats.p50, stats.max, stats.mean) == (1.0, 3.0, 100.0, 22.0)
    assert stats.p90 == pytest.approx(61.6) and stats.p99 == pytest.approx(96.16)
    assert stats.stdev == pytest.approx(43.6176569751)


def test_constant_samples_stay_ordered():
    stats = latency_stats([0.1] * 7)
    assert stats.min == stats.mean == stats.p99 == stats.max == 0.1


def test_percentiles_with_few_samples_above_them_are_flagged():
    assert low_sample_percentiles(20) == ["p90", "p95", "p99"]
    assert low_sample_percentiles(200) == ["p99"]
    assert low_sample_percentiles(500) == []


def test_throughput_is_total_samples_over_total_time():
    assert samples_per_second(3 * 32, 0.5) == 192.0
    with pytest.raises(ValueError):
        samples_per_second(10, 0)


def test_stored_latency_samples_keep_all_in_order_to_four_significant_digits():
    assert stored_latency_samples([1.23456, 0.0123456, 12345.6, 0.0, 2.0, 0.00001]) == "1.235 0.01235 1.235e+04 0 2 1e-05"


def test_stored_latency_samples_over_the_limit_are_evenly_spaced_with_first_and_last():
    samples = [float(i) for i in range(10_001)]  # 0 .. 10000
    assert stored_latency_samples(samples, limit=11) == "0 1000 2000 3000 4000 5000 6000 7000 8000 9000 1e+04"
    assert len(stored_latency_samples(samples).split(" ")) == 200
