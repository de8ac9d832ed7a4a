"""HPC AI500 Valid FLOPS: each benchmark's convergence setups ranked by FLOPS weighted by the quality reached."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from generator.aggregate import Aggregate, BenchmarkAggregate, ConvergenceRow
from generator.derived import flops_rate, valid_flops
from generator.pages.base import SiteContext, ranking
from generator.results import LoadedResult
from generator.settings import QualityTarget, Settings


@dataclass
class VflopsRow:
    row: ConvergenceRow
    target: QualityTarget
    samples_per_s: float
    forward_flops: float
    training_flops: float
    achieved: float
    flops: float
    vflops: float


@dataclass
class VflopsRanking:
    bench: BenchmarkAggregate
    target: QualityTarget | None
    ranked: list[VflopsRow]
    apart: list[tuple[ConvergenceRow, str]]  # rows that cannot be scored, with why


def _mean_metric(runs: list[LoadedResult], metric: str) -> float | None:
    values = [r.result.training.final_metrics[metric] for r in runs if metric in r.result.training.final_metrics]
    return sum(values) / len(values) if values else None


def vflops_row(row: ConvergenceRow, target: QualityTarget | None, factor: float) -> VflopsRow | str:
    """Score one setup with Valid FLOPS, or say which input is missing."""
    if target is None:
        return "no HPC AI500 target for this task and dataset in the site settings"
    forward = row.latest.result.training.model_flops_per_sample
    if forward is None:
        return "the run recorded no model_flops_per_sample"
    if row.throughput is None:
        return "the run recorded no training throughput"
    achieved = _mean_metric(row.runs, target.metric)
    if achieved is None:
        return f"the run recorded no final {target.metric}"
    rate = row.throughput.headline
    flops = flops_rate(rate, factor * forward)
    return VflopsRow(row, target, rate, forward, factor * forward, achieved, flops, valid_flops(flops, achieved, target.target, target.n))


def target_of(row: ConvergenceRow, settings: Settings) -> QualityTarget | None:
    """The quality target of a row's own task and dataset (the dataset the suite declared, e.g. imagenet)."""
    result = row.latest.result
    return settings.quality_target(result.run.task, result.dataset.name)


def vflops_rankings(agg: Aggregate, settings: Settings) -> list[VflopsRanking]:
    """Rank each benchmark's convergence setups by Valid FLOPS, highest first."""
    rankings = []
    for bench in agg.benchmarks:
        if not bench.convergence:
            continue
        scored = [(row, vflops_row(row, target_of(row, settings), settings.training_flops_factor)) for row in bench.convergence]
        ranked = sorted((s for _, s in scored if isinstance(s, VflopsRow)), key=lambda s: -s.vflops)
        target = target_of(ranked[0].row if ranked else bench.convergence[-1], settings)
        rankings.append(VflopsRanking(bench, target, ranked, [(row, s) for row, s in scored if isinstance(s, str)]))
    return rankings


@ranking("valid-flops", "HPC AI500 Valid FLOPS", "rankings_vflops.md.j2")
def valid_flops_ranking(site: SiteContext) -> dict[str, Any]:
    """Rank every benchmark's convergence setups by Valid FLOPS, with the settings that define the targets."""
    return {"rankings": vflops_rankings(site.agg, site.settings), "settings": site.settings}
