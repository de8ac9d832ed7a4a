"""Charts: Altair specs rendered to SVG at build time by vl-convert (no network, no JavaScript)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import altair as alt
import vl_convert

from generator.aggregate import Aggregate, BenchmarkAggregate, InferenceTable
from generator.errors import BuildError
from runners.schema import PERCENTILE_KEYS

WIDTH, HEIGHT = 560, 260


@dataclass(frozen=True)
class Chart:
    """One rendered chart and the words that stand in for it."""

    path: str  # relative to the docs folder
    alt: str
    caption: str
    svg: str


def to_svg(chart: alt.TopLevelMixin) -> str:
    """Render an Altair chart to SVG offline; raise BuildError if vl-convert fails."""
    try:
        return vl_convert.vegalite_to_svg(chart.to_dict(), allowed_base_urls=[])
    except ValueError as exc:
        raise BuildError(f"chart could not be rendered: {exc}") from None


def _line_chart(rows: list[dict[str, Any]], x: alt.X, y: alt.Y, series: str, title: str) -> alt.Chart:
    return (
        alt.Chart(alt.Data(values=rows), title=title)
        .mark_line(point=True)
        .encode(x=x, y=y, color=alt.Color(f"{series}:N", title=None, legend=alt.Legend(orient="bottom", labelLimit=500, columns=1)))
        .properties(width=WIDTH, height=HEIGHT)
    )


def accuracy_chart(bench: BenchmarkAggregate) -> Chart | None:
    """Chart the validation metric per epoch of every successful convergence run."""
    rows = []
    for row in bench.convergence:
        for i, loaded in enumerate(row.runs, start=1):
            series = f"{row.setup.label} #{i}"
            rows += [
                {"epoch": rec.epoch, "value": rec.eval[row.metric] * 100, "series": series}
                for rec in loaded.result.training.curve
                if row.metric in rec.eval
            ]
    if not rows:
        return None
    metric = bench.convergence[-1].metric
    lines = _line_chart(
        rows,
        alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1)),
        alt.Y("value:Q", title=f"validation {metric} (%)", scale=alt.Scale(zero=False)),
        "series",
        f"Validation {metric} vs epoch",
    )
    targets = alt.Data(values=[{"target": t * 100} for t in sorted({row.target for row in bench.convergence})])
    chart = alt.layer(lines, alt.Chart(targets).mark_rule(strokeDash=[4, 4], color="gray").encode(y="target:Q"))
    runs = sum(len(r.runs) for r in bench.convergence)
    return Chart(
        path=f"charts/{bench.slug}-accuracy.svg",
        alt=f"Line chart of validation {metric} in percent against epoch for {runs} convergence run(s) of {bench.name}.",
        caption=f"Validation {metric} after each epoch, one line per convergence run; the dashed line is the target.",
        svg=to_svg(chart),
    )


def latency_chart(bench: BenchmarkAggregate, table: InferenceTable, index: int) -> Chart:
    """Chart the latency percentiles against batch size for the latest run of one setup."""
    latest = table.latest
    rows = [
        {"batch": p.batch_size, "latency_ms": getattr(p.latency_ms, key), "percentile": key}
        for p in latest.result.inference.results
        for key in PERCENTILE_KEYS
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
        alt=f"Line chart of p50, p90, p95 and p99 latency in milliseconds against batch size for {table.setup.label}.",
        caption=f"Latency percentiles per batch of the latest run of this setup ({latest.source}).",
        svg=to_svg(chart),
    )


def render_charts(agg: Aggregate) -> dict[str, dict[str, Chart]]:
    """Render every chart, keyed by benchmark slug, then 'accuracy' or 'latency-<n>'."""
    charts: dict[str, dict[str, Chart]] = {}
    for bench in agg.benchmarks:
        mine = {f"latency-{i}": latency_chart(bench, table, i) for i, table in enumerate(bench.inference)}
        accuracy = accuracy_chart(bench)
        if accuracy is not None:
            mine["accuracy"] = accuracy
        charts[bench.slug] = mine
    return charts
