"""AIBench training: each benchmark's setups ranked by time to quality."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from generator.aggregate import Aggregate, BenchmarkAggregate, ConvergenceRow
from generator.pages.base import SiteContext, ranking


@dataclass
class TrainingRanking:
    bench: BenchmarkAggregate
    reached: list[ConvergenceRow]  # fastest first
    not_reached: list[ConvergenceRow]


def training_rankings(agg: Aggregate) -> list[TrainingRanking]:
    """Rank each benchmark's setups by time to quality; setups that never reached the target are kept apart."""
    rankings = []
    for bench in agg.benchmarks:
        if bench.convergence:
            reached = sorted((r for r in bench.convergence if r.time_to_target_s), key=lambda r: r.time_to_target_s.headline)
            rankings.append(TrainingRanking(bench, reached, [r for r in bench.convergence if not r.time_to_target_s]))
    return rankings


@ranking("time-to-quality", "Training: time to quality", "rankings_training.md.j2")
def time_to_quality_ranking(site: SiteContext) -> dict[str, Any]:
    """Rank every benchmark's convergence setups by time to quality."""
    return {"rankings": training_rankings(site.agg)}
