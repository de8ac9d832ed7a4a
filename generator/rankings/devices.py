"""BenchCouncil-style rankings: AIBench time-to-quality and inference, HPC AI500 Valid FLOPS, AIoTBench VIPS/VOPS."""

from __future__ import annotations

from dataclasses import dataclass, field

from generator.aggregate import Aggregate, BenchmarkAggregate, ConvergenceRow, InferenceTable, LatencyRow
from generator.derived import flops_rate, valid_flops, valid_flops_per_s, valid_images_per_s
from generator.pages import Page, SiteContext, page_kind
from generator.results import LoadedResult
from generator.settings import QualityTarget, Settings

# --- AIBench training: time to quality ---------------------------------------------


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


# --- AIBench single-accelerator inference -------------------------------------------


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


# --- HPC AI500 Valid FLOPS ----------------------------------------------------------


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


# --- AIoTBench VIPS / VOPS ----------------------------------------------------------


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


# --- pages --------------------------------------------------------------------------


@page_kind("rankings")
def ranking_pages(site: SiteContext) -> list[Page]:
    """Render rankings/*.md: time to quality, single-accelerator inference, Valid FLOPS and VIPS/VOPS."""
    titles = {b.slug: site.title(b) for b in site.agg.benchmarks}
    s = site.settings
    kinds = [
        ("time-to-quality", "Training: time to quality", "rankings_training.md.j2", {"rankings": training_rankings(site.agg)}),
        (
            "inference",
            "Inference: single accelerator",
            "rankings_inference.md.j2",
            {"rankings": inference_rankings(site.agg, s.inference_batch_size)},
        ),
        ("valid-flops", "HPC AI500 Valid FLOPS", "rankings_vflops.md.j2", {"rankings": vflops_rankings(site.agg, s), "settings": s}),
        ("devices", "Devices: VIPS and VOPS", "rankings_devices.md.j2", {"rankings": device_rankings(site.agg, s)}),
    ]
    pages = []
    for slug, title, template, context in kinds:
        path = f"rankings/{slug}.md"
        pages.append(Page(path, title, site.render(template, path, titles=titles, **context)))
    return pages
