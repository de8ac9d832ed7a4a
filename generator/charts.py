"""Charts: Altair specs rendered to SVG at build time by vl-convert (no network), and the same specs for the site's own
Vega-Embed, which draws them interactively (tooltips, zoom on history) over the SVG when JavaScript runs."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from multiprocessing import TimeoutError as PoolTimeout
from multiprocessing import get_context
from multiprocessing.pool import AsyncResult, Pool
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import altair as alt
import vl_convert

from generator.aggregate import Aggregate, BenchmarkAggregate, ConvergenceRow, InferenceTable
from generator.cache import read_pickle, write_pickle
from generator.errors import BuildError
from generator.facts import accelerator_name, quick_check
from generator.formats import driver_and_power
from generator.helpers import Helper
from generator.svg import runtime_started, to_svg
from runners.schema import PERCENTILE_KEYS, write_atomic

P = ParamSpec("P")
R = TypeVar("R")

MAX_CURVE_POINTS_SHOWN = 1000  # per run and metric; a longer curve is thinned evenly (the file keeps every epoch)

WIDTH, HEIGHT = 560, 260
PARALLEL_MIN_CHARTS = 4  # charts per worker process below which rendering stays in this process
DRAW_TIMEOUT_S = 300.0  # the longest wait for one batch of the pool (one takes well under a second)


@dataclass(frozen=True)
class Chart:
    """One rendered chart and the words that stand in for it."""

    path: str  # relative to the docs folder
    kind: str  # accuracy, loss, throughput-batch, latency, scaling
    group: str  # the comparable setup it shows (accelerator, driver, power limit, dataset, framework)
    alt: str
    caption: str
    drawn: str  # its SVG's key in the build's SvgCache: a hash of what it draws
    spec: str = ""  # the Vega-Lite spec, JSON: what the site's own Vega-Embed draws interactively over the SVG

    @property
    def live_path(self) -> str:
        """charts/<name>.vl.js beside charts/<name>.svg: a script (so it loads from file:// too) that hands over the spec."""
        return self.path.removesuffix(".svg") + ".vl.js"

    def live_script(self) -> str:
        return f"(window.benchsiteCharts = window.benchsiteCharts || {{}})[{json.dumps(self.path)}] = {self.spec};\n"


class SvgCache:
    """Rendered SVGs by a hash of their Vega-Lite spec, as files in a folder of the build's cache.

    ``render`` only names a chart's SVG: a chart not in the folder yet has its spec queued, and ``finish``
    writes the SVGs there. Once PARALLEL_MIN_CHARTS charts per core are queued (a cold build), a pool of
    processes, one per core, draws them batch by batch while this process goes on: building specs, then
    writing the pages (nothing in a page holds an SVG, only its name); the few charts of a rebuild go to
    ``renderer``. So an unchanged chart costs a hash, and a cold build draws its charts on every core.
    """

    def __init__(self, folder: Path, workers: int | None = None, renderer: Helper | None = None) -> None:
        self.folder = folder
        self.workers = workers or os.cpu_count() or 1
        self.renderer = renderer  # a helper process with vl-convert started, for the few charts of a rebuild
        self.kept = {name[:-4] for name in os.listdir(folder) if name.endswith(".svg")} if folder.is_dir() else set()
        self.used: set[str] = set()
        self.pending: dict[str, dict[str, Any]] = {}
        self.queued: set[str] = set()  # pending, or handed to the pool
        self.pool: Pool | None = None
        self.drawing: list[tuple[list[str], list[dict[str, Any]], AsyncResult[list[str]]]] = []  # batches handed to the pool
        self.timeout_s = DRAW_TIMEOUT_S

    def file(self, key: str) -> Path:
        """Where the SVG of a chart drawn as ``key`` is (once ``finish`` returned)."""
        return self.folder / f"{key}.svg"

    def render(self, spec: dict[str, Any]) -> str:
        """The key of a Vega-Lite spec's SVG (an Altair chart's ``to_dict``); queue it unless it is drawn already."""
        key = hashlib.sha256(json.dumps(spec, sort_keys=True).encode() + vl_convert.__version__.encode()).hexdigest()
        self.used.add(key)
        if key in self.queued or key in self.kept:
            return key
        self.pending[key] = spec
        self.queued.add(key)
        if self.pool is None and self.workers >= 2 and len(self.pending) >= self.workers * PARALLEL_MIN_CHARTS:
            self.pool = self._start_pool()
        if self.pool is not None and len(self.pending) >= PARALLEL_MIN_CHARTS:
            self._hand_over(self.pool)
        return key

    def _start_pool(self) -> Pool | None:
        # fork (workers start at once, nothing to re-import), but only from a process that has not started
        # vl-convert's runtime yet: its threads would not exist in the child
        if runtime_started() or not sys.platform.startswith("linux"):
            return None
        return get_context("fork").Pool(self.workers)

    def _hand_over(self, pool: Pool) -> None:
        keys, specs = list(self.pending), list(self.pending.values())
        self.drawing.append((keys, specs, pool.apply_async(_draw, (specs,))))
        self.pending.clear()

    def finish(self) -> int:
        """Draw what is still queued, wait for the pool and write every new SVG; return how many were drawn."""
        try:
            if self.pool is not None and self.pending:
                self._hand_over(self.pool)
            keys, specs = list(self.pending), list(self.pending.values())
            svgs = self.renderer.map(to_svg, specs, self.timeout_s) if self.renderer is not None and specs else _draw(specs)
            rendered = dict(zip(keys, svgs, strict=True)) | self._collect()
        finally:
            self.close()
        self.pending.clear()
        for key, svg in rendered.items():
            write_atomic(self.file(key), svg)
            self.kept.add(key)
        return len(rendered)

    def _collect(self) -> dict[str, str]:
        """The pool's SVGs. Should a batch take over ``timeout_s`` (a vl-convert that stopped answering: seen once
        with a 2.0 release candidate), the pool is stopped and what it had yet to give is drawn again in a new
        one; a second time, the build stops with a BuildError rather than wait for ever."""
        rendered: dict[str, str] = {}
        batches = self.drawing
        for attempt in (1, 2):
            late: list[tuple[list[str], list[dict[str, Any]]]] = []
            for keys, specs, result in batches:
                try:
                    rendered |= zip(keys, result.get(0 if late else self.timeout_s), strict=True)
                except PoolTimeout:
                    late.append((keys, specs))
            if not late:
                return rendered
            self.close()
            if attempt == 2 or (pool := self._start_pool()) is None:
                left = sum(len(keys) for keys, _ in late)
                raise BuildError(f"vl-convert did not finish a batch of charts in {self.timeout_s:g} s, twice ({left} chart(s) not drawn)")
            self.pool = pool
            batches = [(keys, specs, pool.apply_async(_draw, (specs,))) for keys, specs in late]
        return rendered

    def close(self) -> None:
        """Stop the pool at once: its work is done, or something failed or hung."""
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()
            self.pool = None
        self.drawing = []

    def prune(self) -> None:
        """Delete cached SVGs no chart of this build used."""
        for key in self.kept - self.used:
            self.file(key).unlink(missing_ok=True)
        self.kept &= self.used


def _draw(specs: list[dict[str, Any]]) -> list[str]:
    """A batch of SVGs, drawn in a pool process (or in this one)."""
    return [to_svg(spec) for spec in specs]


# --- titles ------------------------------------------------------------------------


def device_label(accelerator: str, kind: str, devices: int | None = None) -> str:
    """Name what computed: 'GPU: NVIDIA A100-SXM4-80GB' or 'CPU: Intel Xeon', with the count when given ('8x GPU: ...')."""
    name = accelerator if kind == "none" or accelerator.startswith("CPU") else f"GPU: {accelerator}"
    return f"{devices}x {name}" if devices else name


def setup_title(
    accelerator: str,
    kind: str,
    frameworks: Iterable[str],
    precisions: Iterable[str],
    driver: str = "",
    power_limit: str = "",
    devices: int | None = None,
) -> str:
    """Name the setup a chart shows: device (GPU or CPU and its model), driver, power limit, framework(s), precision(s).

    A chart may hold several frameworks and precisions of one device; the driver and power wording is the site's one.
    """
    on_cpu = kind == "none" or accelerator.startswith("CPU")
    conditions = "" if on_cpu or not (driver or power_limit) else f" ({driver_and_power(driver, power_limit)})"
    device = device_label(accelerator, kind, devices) + conditions
    return f"{device} · {' + '.join(sorted(set(frameworks)))} · {', '.join(sorted(set(precisions)))}"


def _title(what: str, setup: str) -> alt.TitleParams:
    return alt.TitleParams(text=what, subtitle=[setup], anchor="start", subtitleFontSize=11)


def _kind(rows: list[Any]) -> str:
    return rows[0].latest.result.environment.accelerators.kind


def _rows_title(what: str, rows: list[Any], precisions: Iterable[str] | None = None, devices: int | None = None) -> alt.TitleParams:
    s = rows[0].setup
    text = setup_title(
        s.accelerator,
        _kind(rows),
        (r.setup.framework for r in rows),
        precisions if precisions is not None else (r.setup.precision for r in rows),
        s.driver,
        s.power_limit,
        devices,
    )
    return _title(what, text)


# --- specs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ChartSpec:
    """A chart before rendering: its Altair chart and the words around it (kept apart from rendering)."""

    path: str
    kind: str
    group: str
    alt: str
    caption: str
    chart: dict[str, Any]  # the Vega-Lite spec (``layered``) without its rows
    data: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # the rows of each named data source the chart reads

    def to_dict(self) -> dict[str, Any]:
        """The Vega-Lite spec, with the rows of its named sources as top-level ``datasets``."""
        return self.chart | {"datasets": self.data} if self.data else dict(self.chart)

    def render(self, svg: SvgCache) -> Chart:
        spec = self.to_dict()
        live = json.dumps(spec, separators=(",", ":"), sort_keys=True)
        return Chart(self.path, self.kind, self.group, self.alt, self.caption, svg.render(static(spec)), live)


INTERACTIVE_ONLY = ("tooltip", "href")  # encodings an SVG in an <img> cannot use


# Axis labels in the SVG are drawn without a length limit. vl-convert measures text by laying it out in Rust, and Vega
# measures a label once more to cut it to its limit (180 px by default) when one is set; no tick label here comes near
# that. Measured on 178 charts of a 10k build: the same SVG bytes, 16% less time (benchmarks/build_speed.py's tree).
STATIC_CONFIG = {"axis": {"labelLimit": 0}}


def static(spec: Any) -> Any:
    """The spec of the prerendered SVG: without what only the interactive chart uses (selections, tooltips, links,
    clipping for zoom), so that the SVG carries no dead links or tooltip text, and with STATIC_CONFIG: it looks the
    same and renders faster."""
    kept = _static(spec)
    config = kept.get("config", {})
    return kept | {"config": config | {"axis": config.get("axis", {}) | STATIC_CONFIG["axis"]}}


def _static(spec: Any) -> Any:
    if isinstance(spec, dict):
        # A mark's clip goes too: the SVG numbers its clipPath ids per vl-convert process, so a cold build (a pool of
        # processes) and an incremental one would draw the same chart with different bytes.
        dropped = {"params", "clip"} if "type" in spec else {"params"}
        kept = {key: value for key, value in spec.items() if key not in dropped}
        for key, value in kept.items():
            if key == "encoding":
                kept[key] = {k: _static(v) for k, v in value.items() if k not in INTERACTIVE_ONLY}
            elif key != "datasets":  # the rows: nothing in them to drop
                kept[key] = _static(value)
        return kept
    if isinstance(spec, list):
        return [_static(item) for item in spec]
    return spec


def run_fields(loaded: Any, n: int = 1) -> dict[str, Any]:
    """What a chart's tooltip says about the run behind a point: its id, start, versions, and how many runs it stands for
    (from its facts: a history chart's points would each read a full result)."""
    facts = loaded.facts
    drivers = sorted({d.driver_version for d in facts.environment.accelerators.devices})
    return {
        "run": facts.id,
        "date": f"{facts.started_utc:%Y-%m-%d %H:%M} UTC",
        "n": n,
        "versions": f"{facts.framework} {facts.framework_version}, driver {', '.join(drivers) or 'none (CPU run)'}",
    }


def _tooltip(x: alt.X, y: alt.Y) -> list[alt.Tooltip]:
    """A point's tooltip: its line, x and y as the axes name them, and the run behind it (``run_fields``)."""
    xd, yd = x.to_dict(validate=False), y.to_dict(validate=False)
    return [
        alt.Tooltip("line:N", title="line"),
        alt.Tooltip(xd["field"], type=xd["type"], title=xd.get("title", xd["field"])),
        alt.Tooltip(yd["field"], type=yd["type"], title=yd.get("title", yd["field"]), format=",.4~g"),
        alt.Tooltip("n:Q", title="runs"),
        alt.Tooltip("run:N", title="run id"),
        alt.Tooltip("date:N", title="started"),
        alt.Tooltip("versions:N", title="versions"),
    ]


def _legend(**kwargs: Any) -> alt.Legend:
    return alt.Legend(orient="bottom", labelLimit=500, columns=1, **kwargs)


def line_figure(
    bench: BenchmarkAggregate,
    kind: str,
    n: int,
    rows: list[dict[str, Any]],
    x: alt.X,
    y: alt.Y,
    series: str,
    title: alt.TitleParams,
    *,
    group: str,
    alt_text: str,
    caption: str,
    over: Iterable[alt.Chart] = (),
    over_data: dict[str, list[dict[str, Any]]] | None = None,
) -> dict[str, ChartSpec]:
    """One line chart of a benchmark, keyed '<kind>-<n>' and drawn into charts/<slug>-<kind>-<n>.svg: lines coloured by
    framework (PyTorch and TensorFlow overlaid), dashed by the ``series`` field, points on top, then the ``over`` layers
    (which read the named sources of ``over_data``)."""
    base = alt.Chart(alt.Data(name="points")).encode(
        x=x, y=y, color=alt.Color("framework:N", title="framework", legend=_legend()), detail=alt.Detail("line:N")
    )
    lines = base.mark_line().encode(strokeDash=alt.StrokeDash(f"{series}:N", title=None, legend=_legend(symbolStrokeWidth=2)))
    points = base.mark_point(filled=True, size=25).encode(tooltip=_tooltip(x, y))
    chart = layered([lines, points, *over], title)
    data = {"points": rows, **(over_data or {})}
    return {f"{kind}-{n}": ChartSpec(f"charts/{bench.slug}-{kind}-{n}.svg", kind, group, alt_text, caption, chart, data)}


# Channels are given as Altair objects, never as "field:T" strings: Altair turns a string into its channel class
# through a lookup table it rebuilds by hashing every schema class, ~15 ms each time (36 s of a 10k build's charts).


@functools.cache
def _layer_top() -> dict[str, Any]:
    """$schema and Altair's default config, as alt.layer gives them (the same for every chart: made once)."""
    return alt.LayerChart(layer=[]).to_dict(validate=False)


def layered(units: list[alt.Chart], title: alt.TitleParams) -> dict[str, Any]:
    """The Vega-Lite spec of unit charts drawn over each other, at the site's chart size.

    Each Altair unit chart becomes its dict on its own and the layer is put together here: ``alt.layer`` validates
    and deep-copies every sub-chart to lift its params (~30 ms a chart, most of a cold build's chart time), and
    vl-convert refuses a bad spec anyway. The units read named data (``ChartSpec.data``), so no rows are copied.
    """
    layer = [unit.to_dict(validate=False, context={"top_level": False}) for unit in units]
    return _layer_top() | {"layer": layer, "title": title.to_dict(validate=False), "width": WIDTH, "height": HEIGHT}


def _integer_axis(title: str, values: Iterable[int]) -> alt.X:
    """A base-2 log axis with ticks only at the counts measured (no 1.5, 2.5 ... between GPU counts or batch sizes)."""
    return alt.X(
        "x:Q", title=title, scale=alt.Scale(type="log", base=2), axis=alt.Axis(values=sorted(set(values)), format="d", tickMinStep=1)
    )


def figure_key(setup: Any) -> tuple[str, str, str, str, str]:
    """What must match for runs to share a figure (Setup.figure)."""
    return setup.figure


def group_label(key: tuple[str, ...]) -> str:
    """Name a comparable group: 'NVIDIA A100 (driver 550.54.15, 400 W limit), imagenet ilsvrc2012, pytorch'.

    A quick check's group ends in its windows, e.g. ', windows x0.1 (quick check)'.
    """
    accelerator, driver, power, dataset, window, *framework = key
    conditions = "" if accelerator.startswith("CPU") or not (driver or power) else f" ({driver_and_power(driver, power)})"
    return ", ".join([f"{accelerator}{conditions}", dataset, *framework, *filter(None, [quick_check(window)])])


def _by_figure(rows: list[Any]) -> list[tuple[tuple[str, ...], list[Any]]]:
    """Split rows (anything with a .setup) so that unlike accelerators, drivers, power limits or datasets never share a figure."""
    groups: dict[tuple[str, ...], list[Any]] = {}
    for row in rows:
        groups.setdefault(figure_key(row.setup), []).append(row)
    return sorted(groups.items())


def _curve_rows(rows: list[ConvergenceRow], metrics: tuple[str, ...], scale: float) -> list[dict[str, Any]]:
    points = []
    for row in rows:
        for i, loaded in enumerate(row.runs, start=1):
            for metric in metrics:
                series = f"{row.setup.devices}x {row.setup.precision} {metric} #{i}"
                curve, fields = loaded.result.training.curve, run_fields(loaded)
                step = -(-len(curve) // MAX_CURVE_POINTS_SHOWN)  # every epoch up to the limit, then every step-th
                points += [
                    {
                        "x": rec.epoch,
                        "value": rec.eval[metric] * scale,
                        "series": series,
                        "framework": row.setup.framework,
                        "line": f"{row.setup.framework} {series}",
                        **fields,
                    }
                    for rec in curve[::step]
                    if metric in rec.eval
                ]
    return points


def _loss_scale(points: list[dict[str, Any]]) -> alt.Scale:
    """Loss falls by orders of magnitude: a log scale, or symlog where a loss is zero or below."""
    return alt.Scale(type="log") if all(p["value"] > 0 for p in points) else alt.Scale(type="symlog")


def curve_specs(bench: BenchmarkAggregate) -> dict[str, ChartSpec]:
    """Chart validation top-1/top-5 and loss per epoch, one figure per accelerator x driver x power limit x dataset."""
    specs = {}
    epoch = alt.X("x:Q", title="epoch", axis=alt.Axis(tickMinStep=1, format="d"))
    for n, (key, rows) in enumerate(_by_figure(bench.convergence)):
        label = group_label(key)
        runs = sum(len(r.runs) for r in rows)
        frameworks = " and ".join(sorted({r.setup.framework for r in rows}))
        accuracy = _curve_rows(rows, ("top1", "top5"), 100)
        if accuracy:
            specs |= line_figure(
                bench,
                "accuracy",
                n,
                accuracy,
                epoch,
                alt.Y("value:Q", title="validation accuracy (%)", scale=alt.Scale(zero=False)),
                "series",
                _rows_title("Validation top-1 / top-5 vs epoch", rows),
                group=label,
                alt_text=f"Line chart of validation top-1 and top-5 accuracy in percent against epoch for {runs} convergence run(s) "
                f"of {frameworks} on {label}.",
                caption=f"Validation top-1 and top-5 after each epoch on {label}, colour by framework, one line per run and metric; "
                "the dashed line is the target.",
                over=[alt.Chart(alt.Data(name="targets")).mark_rule(strokeDash=[4, 4], color="gray").encode(y=alt.Y("target:Q"))],
                over_data={"targets": [{"target": t * 100} for t in sorted({row.target for row in rows})]},
            )
        loss = _curve_rows(rows, ("loss",), 1)
        if loss:
            specs |= line_figure(
                bench,
                "loss",
                n,
                loss,
                epoch,
                alt.Y("value:Q", title="validation loss (log scale)", scale=_loss_scale(loss)),
                "series",
                _rows_title("Validation loss vs epoch", rows),
                group=label,
                alt_text=f"Line chart of validation loss on a log scale against epoch for {runs} convergence run(s) of {frameworks} "
                f"on {label}.",
                caption=f"Validation loss after each epoch on {label} (log scale), colour by framework, one line per run.",
            )
    return specs


def latency_specs(bench: BenchmarkAggregate) -> dict[str, ChartSpec]:
    """Chart the latency percentiles against batch size of the latest run, per setup; frameworks of one setup overlaid."""
    groups: dict[tuple[Any, ...], list[InferenceTable]] = {}
    for table in bench.inference:
        groups.setdefault((*figure_key(table.setup), table.setup.devices, table.setup.precision), []).append(table)
    specs = {}
    for n, (key, tables) in enumerate(sorted(groups.items())):
        rows = [
            {
                "x": p.batch_size,
                "latency_ms": getattr(p.latency_ms, pct),
                "percentile": pct,
                "framework": t.setup.framework,
                "line": f"{t.setup.framework} {pct}",
                **run_fields(t.latest),
            }
            for t in tables
            for p in t.latest.result.inference.results
            for pct in ("mean", *PERCENTILE_KEYS)
        ]
        label = ", ".join(t.setup.label for t in tables)
        specs |= line_figure(
            bench,
            "latency",
            n,
            rows,
            _integer_axis("batch size", (r["x"] for r in rows)),
            alt.Y("latency_ms:Q", title="latency per batch (ms)"),
            "percentile",
            _rows_title("Latency percentiles vs batch size", tables, devices=tables[0].setup.devices),
            group=group_label(key[:-2]),  # the figure's key, without the devices and precision
            alt_text=f"Line chart of mean, p50, p90, p95 and p99 latency in milliseconds against batch size for {label}.",
            caption="Latency percentiles per batch of the latest run of this setup, colour by framework "
            f"({', '.join(t.latest.source for t in tables)}).",
        )
    return specs


def throughput_batch_specs(bench: BenchmarkAggregate) -> dict[str, ChartSpec]:
    """Chart inference throughput against batch size, one line per framework and precision, one figure per comparable group."""
    specs = {}
    for n, (key, tables) in enumerate(_by_figure(bench.inference)):
        label = group_label(key)
        rows = [
            {
                "x": p.batch_size,
                "samples_per_s": p.samples_per_s,
                "precision": f"{t.setup.devices}x {t.setup.precision}",
                "framework": t.setup.framework,
                "line": f"{t.setup.framework} {t.setup.devices}x {t.setup.precision}",
                **run_fields(t.latest),
            }
            for t in tables
            for p in t.latest.result.inference.results
        ]
        specs |= line_figure(
            bench,
            "throughput-batch",
            n,
            rows,
            _integer_axis("batch size", (r["x"] for r in rows)),
            alt.Y("samples_per_s:Q", title="inference throughput (samples/s)"),
            "precision",
            _rows_title("Inference throughput vs batch size", tables),
            group=label,
            alt_text="Line chart of inference throughput in samples per second against batch size, one line per framework and "
            f"precision, on {label}.",
            caption=f"Inference throughput per batch size on {label}, colour by framework, one line per precision (latest run of each).",
        )
    return specs


def scaling_specs(bench: BenchmarkAggregate) -> dict[str, ChartSpec]:
    """Chart training throughput against GPU count, one line per framework and precision, where more than one count was measured."""
    specs = {}
    rows_all = bench.throughput or bench.convergence_throughput
    for n, (key, rows) in enumerate(_by_figure(rows_all)):
        if len({r.setup.devices for r in rows}) < 2:
            continue
        label = group_label(key)
        points = [
            {
                "x": r.setup.devices,
                "samples_per_s": r.samples_per_s.headline,
                "precision": r.setup.precision,
                "framework": r.setup.framework,
                "line": f"{r.setup.framework} {r.setup.precision}",
                **run_fields(r.latest, r.samples_per_s.n),
            }
            for r in rows
        ]
        devices = "GPUs" if _kind(rows) != "none" else "devices"
        specs |= line_figure(
            bench,
            "scaling",
            n,
            points,
            _integer_axis(f"{devices} (count)", (p["x"] for p in points)),
            alt.Y("samples_per_s:Q", title="training throughput (samples/s)"),
            "precision",
            _rows_title(f"Training throughput vs {devices[:-1]} count", rows),
            group=label,
            alt_text=f"Line chart of training throughput in samples per second against the number of {devices}, one line per "
            f"framework and precision, on {label}.",
            caption=f"Training throughput per {devices[:-1]} count on {label}, colour by framework; the scaling factors are in the "
            "table above.",
        )
    return specs


# --- history -----------------------------------------------------------------------------


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Return at least three round tick values covering [low, high] (a flat series gets a band around its value)."""
    if not math.isfinite(low) or not math.isfinite(high):
        raise ValueError("ticks of a non-finite range")
    if high <= low:
        pad = abs(low) * 0.05 or 1.0
        low, high = low - pad, high + pad
    raw = (high - low) / max(count - 1, 2)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    ticks = [first]
    while ticks[-1] < high - step * 1e-9 or len(ticks) < 3:
        ticks.append(first + len(ticks) * step)
    return [round(t, 12) for t in ticks]


def _tick_format(ticks: list[float]) -> str:
    step = ticks[1] - ticks[0]
    decimals = 0
    while decimals < 12 and abs(round(step, decimals) - step) > step * 1e-6:
        decimals += 1
    return f",.{decimals}f"


def time_axis(times: list[datetime]) -> alt.Axis:
    """One time format on the axis: dates when the runs span two days or more, else date and UTC time; ticks at round times."""
    start, end = min(times), max(times)
    span = end - start
    if span >= timedelta(days=2):
        unit, fmt = timedelta(days=1), "%Y-%m-%d"
        step = unit * (math.ceil(span.days / 6) or 1)
        first = start.replace(hour=0, minute=0, second=0, microsecond=0)
    else:
        unit, fmt = timedelta(hours=1), "%Y-%m-%d %H:%M"
        step = unit * max(1, math.ceil(span.total_seconds() / 3600 / 6))
        first = start.replace(minute=0, second=0, microsecond=0)
    if first < start:  # a tick before the first run falls outside the axis, and the first label would come a step late
        first += unit
    ticks = []
    while first <= end + step:
        ticks.append(first)
        first += step
    return alt.Axis(values=[int(t.timestamp() * 1000) for t in ticks], format=fmt, labelAngle=-30)  # the utc scale formats in UTC


def history_title(series: Any) -> str:
    """Name a history's setup: device, framework and precision (driver and host may change along it), then mode and dataset."""
    result = series.points[-1].latest.result
    precision = result.inference.precision if result.inference else result.run.precision
    setup = setup_title(
        accelerator_name(result),
        result.environment.accelerators.kind,
        [result.run.framework],
        [precision],
        devices=result.environment.launch.world_size,
    )
    return f"{setup} · {result.run.mode.value} · {result.dataset.name} {result.dataset.version}"


def history_anchor(series: Any, run_id: str) -> str:
    """The id of a run's row in a history page's table, which a click on its point jumps to."""
    return f"{series.key}-{run_id}"


def _history_fields(series: Any, point: Any) -> dict[str, Any]:
    """A history point's tooltip fields, and the table row a click opens; a bucket of older runs says what it averages."""
    if hasattr(point, "points"):
        first, last = point.points[0].started_utc, point.points[-1].started_utc
        return {
            "run": f"{len(point.points)} runs averaged",
            "date": f"{first:%Y-%m-%d} to {last:%Y-%m-%d}",
            "n": len(point.points),
            "versions": "",
        }
    fields = run_fields(point.latest, len(point.samples))
    return fields | {"href": "#" + history_anchor(series, point.latest.facts.id)}


def unchecked(build: Callable[P, R]) -> Callable[P, R]:
    """Build Altair objects without validating each against the Vega-Lite schema as it is made (Altair's debug mode,
    ~10 ms a chart in jsonschema); vl-convert still refuses a bad spec when it renders it, and the tests build specs
    through the validating builders."""

    @functools.wraps(build)
    def quick(*args: P.args, **kwargs: P.kwargs) -> R:
        with alt.utils.schemapi.debug_mode(False):
            return build(*args, **kwargs)

    return quick


def history_spec(series: Any) -> ChartSpec:
    """Chart one history series (a generator.history.Series) per run, with its noise band; regressions in red."""
    rows = [
        {"started": p.started_utc.isoformat(), "value": p.value, "kind": type(p).__name__, **_history_fields(series, p)}
        for p in series.shown
    ]
    # every band sets the axis (a small move never fills it), but only a band whose noise was estimated is drawn
    values = [r["value"] for r in rows] + [b.low for b in series.bands] + [b.high for b in series.bands]
    bands = [
        {"from": b.start.isoformat(), "to": b.end.isoformat(), "low": b.low, "high": b.high, "mean": b.mean}
        for b in series.bands
        if b.estimated
    ]
    metric = series.metric
    if metric.unit == "fraction":  # a quality cannot pass 1: neither may its axis
        values = [min(v, 1.0) for v in values]
    ticks = nice_ticks(min(values), max(values))
    # the domain is padded by a point's width each side, so that the first and last points are not cut in half by the
    # clipping that zooming needs
    x_scale, x_axis = alt.Scale(type="utc", padding=8), time_axis([p.started_utc for p in series.shown])
    x = alt.X("started:T", title="run started (UTC)", scale=x_scale, axis=x_axis)
    y = alt.Y(
        "value:Q",
        title=f"{metric.name} ({metric.unit})",
        scale=alt.Scale(domain=[ticks[0], ticks[-1]], zero=False, nice=False),
        axis=alt.Axis(values=ticks, format=_tick_format(ticks)),
    )
    tooltip = [
        alt.Tooltip("date:N", title="started"),
        alt.Tooltip("value:Q", title=f"{metric.name} ({metric.unit})", format=",.4~g"),
        alt.Tooltip("n:Q", title="samples"),
        alt.Tooltip("run:N", title="run id"),
        alt.Tooltip("versions:N", title="versions"),
    ]
    zoom = alt.selection_interval(name="zoom", bind="scales", encodings=["x"])  # drag to pan, wheel to zoom the time axis
    line = (
        alt.Chart(alt.Data(name="runs"))
        .mark_line(point=True, clip=True)  # clipped to the plot when zoomed or panned
        .encode(x=x, y=y, tooltip=tooltip, href=alt.Href("href:N"))
        .add_params(zoom)
    )
    layers = [line]
    if bands:
        band = (
            alt.Chart(alt.Data(name="bands"))
            .mark_rect(color="#9e9e9e", opacity=0.25, clip=True)
            .encode(
                x=alt.X("from:T", title="run started (UTC)", scale=x_scale, axis=x_axis),
                x2=alt.X2("to:T"),
                y=alt.Y("low:Q"),
                y2=alt.Y2("high:Q"),
            )
        )
        level = (
            alt.Chart(alt.Data(name="bands"))
            .mark_rule(color="#757575", strokeDash=[2, 2], clip=True)
            .encode(x=alt.X("from:T"), x2=alt.X2("to:T"), y=alt.Y("mean:Q"))
        )
        layers = [band, level, line]
    marks = [{"started": r.after.started_utc.isoformat()} for r in series.regressions]
    if marks:
        regression = alt.Chart(alt.Data(name="regressions")).mark_rule(color="#c62828", strokeDash=[4, 4], clip=True)
        layers.append(regression.encode(x=alt.X("started:T")))
    chart = layered(layers, _title(f"{metric.name} per run", history_title(series)))
    noise = (
        "The grey band is the noise around each level (the dotted line): a move inside it is not a change. "
        "Dashed red lines mark detected regressions."
        if bands
        else f"Too few runs ({len(series.points)}) to estimate the noise or look for a change; the axis spans at least the "
        "smallest change that counts around the mean, so a small move does not look like a cliff."
    )
    return ChartSpec(
        path=f"charts/history-{series.bench.slug}-{series.key}.svg",
        kind="history",
        group=series.config,
        alt=f"Line chart of {metric.name} in {metric.unit} against the start time of each run for {series.config}"
        + (", with a grey band of run-to-run noise." if bands else "."),
        caption=f"{metric.name} per run ({series.config}); older runs averaged in buckets. {noise}",
        chart=chart,
        data={"runs": rows} | ({"bands": bands} if bands else {}) | ({"regressions": marks} if marks else {}),
    )


def benchmark_specs(bench: BenchmarkAggregate) -> dict[str, ChartSpec]:
    """One benchmark's chart specs: curves, scaling, throughput over batch size, latency."""
    return curve_specs(bench) | scaling_specs(bench) | throughput_batch_specs(bench) | latency_specs(bench)


def chart_specs(agg: Aggregate, history: Any = None) -> dict[str, dict[str, ChartSpec]]:
    """Every chart's spec, keyed by benchmark slug, then chart key ('accuracy-0', 'latency-2', ...); history under "history/"."""
    specs: dict[str, dict[str, ChartSpec]] = {}
    for bench in agg.benchmarks:
        specs[bench.slug] = benchmark_specs(bench)
    if history is not None:
        specs["history/"] = {series.key: history_spec(series) for series in history.series}
    return specs


def _code_stamp() -> bytes:
    """What every chart depends on besides its benchmark's runs: the generator's code and settings, altair, vl-convert."""
    digest = hashlib.sha256(f"{alt.__version__}|{vl_convert.__version__}".encode())
    folder = Path(__file__).resolve().parent
    for path in sorted([*folder.glob("*.py"), *folder.glob("*.yaml")]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.digest()


def _runs_key(bench: BenchmarkAggregate, code: bytes) -> str | None:
    """Identify a benchmark's inputs (each run's file, size and mtime); None when a run's file was not stamped."""
    digest = hashlib.sha256(code)
    for loaded in bench.runs:
        if loaded.stamp is None:
            return None
        digest.update(f"{loaded.file}|{loaded.stamp[0]}|{loaded.stamp[1]}\n".encode())
    return digest.hexdigest()


def _series_key(series: Any, code: bytes) -> str:
    """Identify everything history_spec() draws of a series, so that an unchanged series keeps its chart."""
    shown = [(p.started_utc.isoformat(), p.value, type(p).__name__) for p in series.shown]
    bands = [(b.start.isoformat(), b.end.isoformat(), b.low, b.high, b.mean, b.estimated) for b in series.bands]
    marks = [r.after.started_utc.isoformat() for r in series.regressions]
    metric = series.metric
    drawn = (series.bench.slug, series.key, series.config, metric.name, metric.unit, len(series.points), history_title(series))
    return "series:" + hashlib.sha256(code + repr((drawn, shown, bands, marks)).encode()).hexdigest()


class BenchCharts:
    """The charts of each benchmark as last built, by a key of its runs: a benchmark no new result touched
    keeps its charts without building a single spec (building and hashing ~1,000 specs takes seconds).
    Each history chart is kept by a key of what it draws too ("series:..."), so a touched benchmark
    builds the specs of the series that changed only."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.saved: dict[str, dict[str, dict[str, Chart]]] = {}
        self.fresh: dict[str, dict[str, dict[str, Chart]]] = {}
        if path:
            saved = read_pickle(path)
            self.saved = saved if isinstance(saved, dict) else {}

    def get(self, key: str | None) -> dict[str, dict[str, Chart]] | None:
        return self.saved.get(key) if key else None

    def put(self, key: str | None, charts: dict[str, dict[str, Chart]]) -> None:
        if key:
            self.fresh[key] = charts

    def save(self) -> None:
        if self.path and self.fresh.keys() != self.saved.keys():
            write_pickle(self.path, self.fresh)


@dataclass
class Drawing:
    """The SVGs of a build's charts, some perhaps still being drawn: ``finish`` waits for them, then keeps the
    charts of each benchmark for the next build and deletes the SVGs no chart uses any more."""

    svg: SvgCache
    known: BenchCharts

    def finish(self) -> int:
        """Wait for the SVGs; return how many were drawn."""
        drawn = self.svg.finish()
        self.known.save()  # only now: a kept chart's SVG is in the cache
        self.svg.prune()
        return drawn

    def close(self) -> None:
        self.svg.close()


@unchecked
def render_charts(
    agg: Aggregate, cache_dir: Path, history: Any = None, renderer: Helper | None = None
) -> tuple[dict[str, dict[str, Chart]], Drawing]:
    """Every chart, keyed by benchmark slug, then chart key ('accuracy-0', 'latency-2', ...); history under "history/";
    and their Drawing, to be finished before their SVGs (``Drawing.svg.file``) are read.

    Only the benchmarks whose runs changed since the last build (cache_dir) build their specs; of those, only
    charts whose spec changed are drawn, across processes (a few in ``renderer``, when given).
    """
    svg = SvgCache(cache_dir, renderer=renderer)
    with contextlib.ExitStack() as failed:
        failed.callback(svg.close)  # the pool stops, drawn or not, should building a spec fail
        known = BenchCharts(cache_dir / "benchmarks.pickle")
        code = _code_stamp()
        series_of: dict[str, list[Any]] = {}
        for series in history.series if history is not None else []:
            series_of.setdefault(series.bench.slug, []).append(series)
        charts: dict[str, dict[str, Chart]] = {}
        history_charts: dict[str, Chart] = {}
        for bench in agg.benchmarks:
            key = _runs_key(bench, code)
            if (reused := known.get(key)) is not None and reused["svgs"] <= svg.kept:  # its SVGs are still there
                charts[bench.slug], mine_history = reused["bench"], reused["history"]
                svg.used.update(reused["svgs"])
                known.put(key, reused)
            else:
                before = set(svg.used)
                charts[bench.slug] = {k: spec.render(svg) for k, spec in benchmark_specs(bench).items()}
                mine_history = {}
                for series in series_of.get(bench.slug, []):  # a new run changes one or two of a benchmark's series
                    skey = _series_key(series, code)
                    if (done := known.get(skey)) is not None and done["svgs"] <= svg.kept:
                        mine_history[series.key] = done["chart"]
                        svg.used.update(done["svgs"])
                    else:
                        drawn = set(svg.used)
                        mine_history[series.key] = history_spec(series).render(svg)
                        done = {"chart": mine_history[series.key], "svgs": svg.used - drawn}
                    known.put(skey, done)
                known.put(key, {"bench": charts[bench.slug], "history": mine_history, "svgs": svg.used - before})
            history_charts |= mine_history
        if history is not None:
            charts["history/"] = history_charts
        failed.pop_all()
    return charts, Drawing(svg, known)
