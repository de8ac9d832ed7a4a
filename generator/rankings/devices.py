"""AIoTBench VIPS / VOPS: devices x implementations ranked per task and dataset release."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from generator.aggregate import Aggregate, BenchmarkAggregate, InferenceTable, LatencyRow
from generator.derived import valid_flops_per_s, valid_images_per_s
from generator.pages.base import SiteContext, ranking
from generator.rankings.inference import point_at
from generator.settings import Settings


@dataclass
class DeviceTerm:
    bench: BenchmarkAggregate
    table: InferenceTable
    point: LatencyRow
    accuracy: float  # mean over the setup's latest repeat group
    flops: float | None
    quality_runs: int = 1

    @property
    def vips(self) -> float:
        return valid_images_per_s([(self.accuracy, self.point.point.samples_per_s)])

    @property
    def vops(self) -> float | None:
        return None if self.flops is None else valid_flops_per_s([(self.accuracy, self.point.point.samples_per_s, self.flops)])


@dataclass
class DeviceRow:
    device: str
    implementation: str
    terms: list[DeviceTerm] = field(default_factory=list)

    @property
    def vips(self) -> float:
        return valid_images_per_s([(t.accuracy, t.point.point.samples_per_s) for t in self.terms])

    @property
    def vops(self) -> float | None:
        """The sum of VOPS terms, or None when a model lacks its FLOPs (a partial sum would rank unfairly)."""
        if any(t.flops is None for t in self.terms):
            return None
        return valid_flops_per_s([(t.accuracy, t.point.point.samples_per_s, t.flops) for t in self.terms])


@dataclass
class DeviceRanking:
    task: str
    dataset: str
    metric: str
    batch_size: int
    rows: list[DeviceRow]  # highest VIPS first
    apart: list[tuple[BenchmarkAggregate, InferenceTable, str]]


def device_rankings(agg: Aggregate, settings: Settings) -> list[DeviceRanking]:
    """Rank devices x implementations per task and dataset release by VIPS, with VOPS beside it."""
    batch = settings.inference_batch_size
    groups: dict[tuple[str, str], DeviceRanking] = {}
    rows: dict[tuple[str, str, str, str], DeviceRow] = {}
    for bench in agg.benchmarks:
        for table in bench.inference:
            result = table.latest.result
            task, dataset = result.run.task, f"{result.dataset.name} {result.dataset.version}"
            target = settings.quality_target(task, result.dataset.name)
            metric = target.metric if target else "top1"
            ranking = groups.setdefault((task, dataset), DeviceRanking(task, dataset, metric, batch, [], []))
            point = point_at(table, batch)
            quality = table.quality(metric)
            if point is None or quality is None:
                why = f"no batch size {batch}" if point is None else table.quality_missing(metric)
                ranking.apart.append((bench, table, why))
                continue
            device = table.setup.hardware
            implementation = f"{table.setup.framework} {table.setup.precision}"
            key = (task, dataset, device, implementation)
            if key not in rows:
                rows[key] = DeviceRow(device, implementation)
                ranking.rows.append(rows[key])
            rows[key].terms.append(DeviceTerm(bench, table, point, quality.mean, result.inference.model_flops_per_sample, quality.n))
    for ranking in groups.values():
        ranking.rows.sort(key=lambda r: -r.vips)
    return [groups[k] for k in sorted(groups)]


@ranking("devices", "Devices: VIPS and VOPS", "rankings_devices.md.j2")
def devices_ranking(site: SiteContext) -> dict[str, Any]:
    """Rank devices x implementations by VIPS, with VOPS beside it."""
    return {"rankings": device_rankings(site.agg, site.settings)}
