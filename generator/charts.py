"""Charts: Altair specs rendered to SVG at build time by vl-convert (no network, no JavaScript)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import altair as alt
import vl_convert

from generator.aggregate import Aggregate, BenchmarkAggregate, ConvergenceRow, InferenceTable
from generator.errors import BuildError
from runners.schema import PERCENTILE_KEYS

MAX_CURVE_POINTS_SHOWN = 1000  # per run and metric; a longer curve is thinned evenly (the file keeps every epoch)

WIDTH, HEIGHT = 560, 260


@dataclass(frozen=True)
class Chart:
    """One rendered chart and the words that stand in for it."""

    path: str  # relative to the docs folder
    kind: str  # accuracy, loss, throughput-batch, latency, scaling
    group: str  # the comparable setup it shows (accelerator, driver, power limit, dataset, framework)
    alt: str
    caption: str
    svg: str


class SvgCache:
    """Rendered SVGs by a hash of their Vega-Lite spec, kept under the build work dir; None keeps nothing."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.used: set[str] = set()

    def render(self, chart: alt.TopLevelMixin) -> str:
        spec = chart.to_dict()
        key = hashlib.sha256(json.dumps(spec, sort_keys=True).encode() + vl_convert.__version__.encode()).hexdigest()
        self.used.add(key)
        cached = self.folder / f"{key}.svg" if self.folder else None
        if cached and cached.is_file():
            return cached.read_text(encoding="utf-8")
        svg = to_svg(spec)
        if cached:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(".tmp")
            tmp.write_text(svg, encoding="utf-8")
            tmp.replace(cached)
        return svg

    def prune(self) -> None:
        """Delete cached SVGs no chart of this build used."""
        if self.folder and self.folder.is_dir():
            for path in self.folder.glob("*.svg"):
                if path.stem not in self.used:
                    path.unlink()


def to_svg(chart: alt.TopLevelMixin | dict[str, Any]) -> str:
    """Render an Altair chart (or its Vega-Lite spec) to SVG offline; raise BuildError if vl-convert fails."""
    spec = chart if isinstance(chart, dict) else chart.to_dict()
    try:
        return vl_convert.vegalite_to_svg(spec, allowed_base_urls=[])
    except ValueError as exc:
        raise BuildError(f"chart could not be rendered: {exc}") from None


def _line_chart(rows: list[dict[str, Any]], x: alt.X, y: alt.Y, series: str, title: str) -> alt.Chart:
    return (
        alt.Chart(alt.Data(values=rows), title=title)
        .mark_line(point=True)
        .encode(x=x, y=y, color=alt.Color(f"{series}:N", title=None, legend=alt.Legend(orient="bottom", labelLimit=500, columns=1)))
        .properties(width=WIDTH, height=HEIGHT)
    )


def group_label(key: tuple[str, ...]) -> str:
    """Name a comparable group: 'NVIDIA A100 (driver 550.54.15, 400 W limit), imagenet ilsvrc2012, pytorch'."""
    accelerator, driver, power, dataset, framework = key
    conditions = ", ".join(p for p in (f"driver {driver}" if driver else "", f"{power} W limit" if power else "") if p)
    return f"{accelerator}{f' ({conditions})' if conditions else ''}, {dataset}, {framework}"


def _by_comparable(rows: list[Any]) -> list[tuple[tuple[str, ...], list[Any]]]:
    """Split rows (anything with a .setup) so that unlike accelerators, drivers, power limits or datasets never share a figure."""
    groups: dict[tuple[str, ...], list[Any]] = {}
    for row in rows:
        groups.setdefault(row.setup.comparable, []).append(row)
    return sorted(groups.items())


def _curve_rows(rows: list[ConvergenceRow], metrics: tuple[str, ...], scale: float) -> list[dict[str, Any]]:
    points = []
    for row in rows:
        for i, loaded in enumerate(row.runs, start=1):
            for metric in metrics:
                series = f"{row.setup.devices}x {row.setup.precision} {metric} #{i}"
                curve = loaded.result.training.curve
                step = -(-len(curve) // MAX_CURVE_POINTS_SHOWN)  # every epoch up to the limit, then every step-th
                points += [
                    {"epoch": rec.epoch, "value": rec.eval[metric] * scale, "series": series} for rec in curve[::step] if metric in rec.eval
                ]
    return points


def curve_charts(bench: BenchmarkAggregate, svg: SvgCache) -> dict[str, Chart]:
    """Chart validation top-1/top-5 and loss per epoch, one figure per comparable group."""
    charts = {}
    for n, (key, rows) in enumerate(_by_comparable(bench.convergence)):
        label = group_label(key)
        runs = sum(len(r.runs) for r in rows)
        accuracy = _curve_rows(rows, ("top1", "top5"), 100)
        if accuracy:
            lines = _line_chart(
                accuracy,
                alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1)),
                alt.Y("value:Q", title="validation accuracy (%)", scale=alt.Scale(zero=False)),
                "series",
                "Validation top-1 / top-5 vs epoch",
            )
            targets = alt.Data(values=[{"target": t * 100} for t in sorted({row.target for row in rows})])
            chart = alt.layer(lines, alt.Chart(targets).mark_rule(strokeDash=[4, 4], color="gray").encode(y="target:Q"))
            charts[f"accuracy-{n}"] = Chart(
                f"charts/{bench.slug}-accuracy-{n}.svg",
                "accuracy",
                label,
                f"Line chart of validation top-1 and top-5 accuracy in percent against epoch for {runs} convergence run(s) on {label}.",
                f"Validation top-1 and top-5 after each epoch on {label}, one line per run and metric; the dashed line is the target.",
                svg.render(chart),
            )
        loss = _curve_rows(rows, ("loss",), 1)
        if loss:
            chart = _line_chart(
                loss,
                alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1)),
                alt.Y("value:Q", title="validation loss"),
                "series",
                "Validation loss vs epoch",
            )
            charts[f"loss-{n}"] = Chart(
                f"charts/{bench.slug}-loss-{n}.svg",
                "loss",
                label,
                f"Line chart of validation loss against epoch for {runs} convergence run(s) on {label}.",
                f"Validation loss after each epoch on {label}, one line per run.",
                svg.render(chart),
            )
    return charts


def latency_chart(bench: BenchmarkAggregate, table: InferenceTable, index: int, svg: SvgCache) -> Chart:
    """Chart the latency percentiles against batch size for the latest run of one setup."""
    latest = table.latest
    rows = [
        {"batch": p.batch_size, "latency_ms": getattr(p.latency_ms, key), "percentile": key}
        for p in latest.result.inference.results
        for key in ("mean", *PERCENTILE_KEYS)
    ]
    chart = _line_chart(
        rows,
        alt.X("batch:Q", title="batch size", scale=alt.Scale(type="log", base=2)),
        alt.Y("latency_ms:Q", title="latency per batch (ms)"),
        "percentile",
        f"Latency percentiles vs batch size ({table.setup.precision})",
    )
    return Chart(
        path=f"charts/{bench.slug}-latency-{index}.svg",
        kind="latency",
        group=group_label(table.setup.comparable),
        alt=f"Line chart of mean, p50, p90, p95 and p99 latency in milliseconds against batch size for {table.setup.label}.",
        caption=f"Latency percentiles per batch of the latest run of this setup ({latest.source}).",
        svg=svg.render(chart),
    )


def throughput_batch_charts(bench: BenchmarkAggregate, svg: SvgCache) -> dict[str, Chart]:
    """Chart inference throughput against batch size, one line per precision, one figure per comparable group."""
    charts = {}
    for n, (key, tables) in enumerate(_by_comparable(bench.inference)):
        label = group_label(key)
        rows = [
            {"batch": p.batch_size, "samples_per_s": p.samples_per_s, "precision": f"{t.setup.devices}x {t.setup.precision}"}
            for t in tables
            for p in t.latest.result.inference.results
        ]
        chart = _line_chart(
            rows,
            alt.X("batch:Q", title="batch size", scale=alt.Scale(type="log", base=2)),
            alt.Y("samples_per_s:Q", title="inference throughput (samples/s)"),
            "precision",
            "Inference throughput vs batch size",
        )
        charts[f"throughput-batch-{n}"] = Chart(
            f"charts/{bench.slug}-throughput-batch-{n}.svg",
            "throughput-batch",
            label,
            f"Line chart of inference throughput in samples per second against batch size, one line per precision, on {label}.",
            f"Inference throughput per batch size on {label}, one line per precision (latest run of each).",
            svg.render(chart),
        )
    return charts


def scaling_charts(bench: BenchmarkAggregate, svg: SvgCache) -> dict[str, Chart]:
    """Chart training throughput against GPU count, one line per precision, where more than one count was measured."""
    charts = {}
    rows_all = bench.throughput or bench.convergence_throughput
    for n, (key, rows) in enumerate(_by_comparable(rows_all)):
        if len({r.setup.devices for r in rows}) < 2:
            continue
        label = group_label(key)
        points = [{"gpus": r.setup.devices, "samples_per_s": r.samples_per_s.headline, "precision": r.setup.precision} for r in rows]
        chart = _line_chart(
            points,
            alt.X("gpus:Q", title="GPUs", scale=alt.Scale(type="log", base=2)),
            alt.Y("samples_per_s:Q", title="training throughput (samples/s)"),
            "precision",
            "Training throughput vs GPU count",
        )
        charts[f"scaling-{n}"] = Chart(
            f"charts/{bench.slug}-scaling-{n}.svg",
            "scaling",
            label,
            f"Line chart of training throughput in samples per second against the number of GPUs, one line per precision, on {label}.",
            f"Training throughput per GPU count on {label}; the scaling factors are in the table above.",
            svg.render(chart),
        )
    return charts


def history_chart(series: Any, svg: SvgCache) -> Chart:
    """Chart one history series (a generator.history.Series) over time, bucket means for old nights, regressions in red."""
    rows = [{"night": p.started_utc.isoformat(), "value": p.value, "kind": type(p).__name__} for p in series.shown]
    metric = series.metric
    line = (
        alt.Chart(alt.Data(values=rows), title=f"{metric.name} over nightly runs")
        .mark_line(point=True)
        .encode(
            x=alt.X("night:T", title="run started (UTC)"),
            y=alt.Y("value:Q", title=f"{metric.name} ({metric.unit})", scale=alt.Scale(zero=False)),
        )
        .properties(width=WIDTH, height=HEIGHT)
    )
    marks = [{"night": r.after.started_utc.isoformat()} for r in series.regressions]
    chart = (
        alt.layer(line, alt.Chart(alt.Data(values=marks)).mark_rule(color="#c62828", strokeDash=[4, 4]).encode(x="night:T"))
        if marks
        else line
    )
    return Chart(
        path=f"charts/history-{series.bench.slug}-{series.key}.svg",
        kind="history",
        group=series.config,
        alt=f"Line chart of {metric.name} in {metric.unit} against the date of each nightly run for {series.config}.",
        caption=f"{metric.name} per night ({series.config}); older nights averaged in buckets; dashed red lines mark detected regressions.",
        svg=svg.render(chart),
    )


def render_charts(agg: Aggregate, cache_dir: Path | None = None, history: Any = None) -> dict[str, dict[str, Chart]]:
    """Render every chart, keyed by benchmark slug, then chart key ('accuracy-0', 'latency-2', ...); history under "history/"."""
    svg = SvgCache(cache_dir)
    charts: dict[str, dict[str, Chart]] = {}
    for bench in agg.benchmarks:
        mine = curve_charts(bench, svg)
        mine |= scaling_charts(bench, svg)
        mine |= throughput_batch_charts(bench, svg)
        mine |= {f"latency-{i}": latency_chart(bench, table, i, svg) for i, table in enumerate(bench.inference)}
        charts[bench.slug] = mine
    if history is not None:
        charts["history/"] = {series.key: history_chart(series, svg) for series in history.series}
    svg.prune()
    return charts
