"""AIBench single-accelerator inference: each benchmark's setups ranked by mean latency at one batch size."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from generator.aggregate import Aggregate, BenchmarkAggregate, InferenceTable, LatencyRow
from generator.pages.base import SiteContext, ranking


@dataclass
class InferenceRanking:
    bench: BenchmarkAggregate
    batch_size: int
    ranked: list[tuple[InferenceTable, LatencyRow]]  # lowest mean latency first
    without_batch: list[InferenceTable]


def point_at(table: InferenceTable, batch_size: int) -> LatencyRow | None:
    """Return the latest run's point at a batch size, or None if it did not measure that batch size."""
    return next((row for row in reversed(table.rows) if row.point.batch_size == batch_size and row.source is table.latest), None)


def inference_rankings(agg: Aggregate, batch_size: int) -> list[InferenceRanking]:
    """Rank each benchmark's single-accelerator setups by mean latency at one batch size."""
    rankings = []
    for bench in agg.benchmarks:
        single = [t for t in bench.inference if t.setup.devices == 1]
        if not single:
            continue
        found = [(t, p) for t in single if (p := point_at(t, batch_size))]
        found.sort(key=lambda tp: tp[1].point.latency_ms.mean)
        rankings.append(InferenceRanking(bench, batch_size, found, [t for t in single if not point_at(t, batch_size)]))
    return rankings


@ranking("inference", "Inference: single accelerator", "rankings_inference.md.j2")
def inference_ranking(site: SiteContext) -> dict[str, Any]:
    """Rank every benchmark's single-accelerator setups by mean latency at the site's inference batch size."""
    return {"rankings": inference_rankings(site.agg, site.settings.inference_batch_size)}
