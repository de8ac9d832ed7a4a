"""Compare two sets of results setup by setup: A, B, their ratio, and whether the change is beyond noise.

Each side is reduced the way the site reduces results: per setup (the one key
``aggregate.setup_of``), metric and variant, the newest repeat group. Rows pair
on the setup key minus the fields a side's filter names (``accelerator=H100``
against ``accelerator=A100`` pairs the A100 and H100 rows of one model and
precision). A change counts when it is beyond the threshold and, where the data
allow a test, significant: Welch's t-test on repeats, or Mann-Whitney U on the
raw latency samples when both runs stored them. With a single run a side there
is nothing to test against, and, as ``asv compare`` does, the factor alone decides;
the row says so.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import math
import re
import subprocess
import sys
import tarfile
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from scipy import stats

from generator.derived import Summary
from generator.errors import BenchsiteError
from generator.facts import Setup, accelerator_name, driver_version, setup_label, setup_of
from generator.formats import MISSING
from generator.ops.gitops import GitError, git, repo_root
from generator.results import LoadedResult, load_results
from runners.schema import Mode, Result, Status

ALPHA = 0.05  # significance level of the tests
NIGHT = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class CompareError(BenchsiteError):
    """A selection that matches nothing, or an unknown filter or metric."""


# --- what can be compared ----------------------------------------------------


@dataclass(frozen=True)
class Observation:
    """One number of one run: a metric of a variant (e.g. 'batch 8'), with its raw samples where the run stored them."""

    metric: str
    variant: str
    value: float
    samples: tuple[float, ...] = ()


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    higher_is_better: bool
    observe: Callable[[Result], list[tuple[str, float, Sequence[float]]]]  # (variant, value, raw samples)


def _training_throughput(result: Result) -> list[tuple[str, float, Sequence[float]]]:
    training = result.training
    if result.run.mode is not Mode.throughput or training is None or training.throughput is None:
        return []
    return [(f"batch {training.global_batch}", training.throughput.samples_per_s, ())]


def _time_to_target(result: Result) -> list[tuple[str, float, Sequence[float]]]:
    ttt = result.training.time_to_target if result.training else None
    if ttt is None or not ttt.reached or ttt.time_to_target_s is None:
        return []
    return [(f"{ttt.metric} >= {ttt.target:g}", ttt.time_to_target_s, ())]


def _latency(percentile: str) -> Callable[[Result], list[tuple[str, float, Sequence[float]]]]:
    def observe(result: Result) -> list[tuple[str, float, Sequence[float]]]:
        if result.inference is None:
            return []
        return [
            (f"batch {p.batch_size}", getattr(p.latency_ms, percentile), tuple(p.latency_samples() or ())) for p in result.inference.results
        ]

    return observe


def _inference_throughput(result: Result) -> list[tuple[str, float, Sequence[float]]]:
    if result.inference is None:
        return []
    return [(f"batch {p.batch_size}", p.samples_per_s, ()) for p in result.inference.results]


METRICS = (
    Metric("throughput", "samples/s", True, _training_throughput),
    Metric("time_to_target", "s", False, _time_to_target),
    Metric("latency_p50", "ms", False, _latency("p50")),
    Metric("latency_p99", "ms", False, _latency("p99")),
    Metric("inference_throughput", "samples/s", True, _inference_throughput),
)
METRIC_NAMES = tuple(m.name for m in METRICS)


def metric_named(name: str) -> Metric:
    for metric in METRICS:
        if metric.name == name:
            return metric
    raise CompareError(f"unknown metric {name!r}; choose from {', '.join(METRIC_NAMES)}")


# --- selecting a side ----------------------------------------------------------

# filter key -> (what the result says, the Setup fields the filter sets apart, whether to match a substring)
FILTERS: dict[str, tuple[Callable[[Result], str], tuple[str, ...], bool]] = {
    "accelerator": (accelerator_name, ("accelerator", "driver", "power_limit"), True),
    "driver": (driver_version, ("driver",), False),
    "precision": (lambda r: setup_of(r).precision, ("precision",), False),
    "framework": (lambda r: r.run.framework, ("framework",), False),
    "framework_version": (lambda r: r.run.framework_version, (), False),
    "model": (lambda r: r.run.model, (), False),
    "benchmark": (lambda r: r.run.benchmark, (), False),
    "suite": (lambda r: r.run.suite, (), False),
    "host": (lambda r: r.environment.host.hostname, (), False),
    "devices": (lambda r: str(r.environment.launch.world_size), ("devices",), False),
    "dataset": (lambda r: setup_of(r).dataset, ("dataset",), True),
}


@dataclass(frozen=True)
class Selection:
    """What one side of a comparison is: a run id, a repeat group, a night, or filters (``key=value,...``)."""

    text: str
    filters: tuple[tuple[str, str], ...] = ()
    everything: bool = False  # a git ref of the results repository: every result as of that commit

    @classmethod
    def parse(cls, text: str) -> Selection:
        if "=" not in text:
            return cls(text)
        filters = []
        for part in text.split(","):
            key, _, value = part.partition("=")
            key, value = key.strip(), value.strip()
            if key not in FILTERS:
                raise CompareError(f"{text}: unknown filter {key!r}; filters: {', '.join(FILTERS)}")
            if not value:
                raise CompareError(f"{text}: filter {key!r} has no value")
            filters.append((key, value))
        return cls(text, tuple(filters))

    @property
    def set_apart(self) -> set[str]:
        """The Setup fields this side's filters choose, which pairing must therefore ignore."""
        return {name for key, _ in self.filters for name in FILTERS[key][1]}

    def matches(self, result: Result) -> bool:
        if self.everything:
            return True
        if self.filters:
            return all(_filter_matches(key, value, result) for key, value in self.filters)
        if NIGHT.match(self.text):
            return result.run.started_utc.date() == date.fromisoformat(self.text)
        return self.text in (result.run.id, result.run.repeat.group)

    def select(self, results: Iterable[LoadedResult]) -> list[LoadedResult]:
        chosen = [r for r in results if self.matches(r.result)]
        if not chosen:
            raise CompareError(f"{self.text}: matches no result (a run id, repeat group, night YYYY-MM-DD, git ref or key=value)")
        return chosen


def _filter_matches(key: str, value: str, result: Result) -> bool:
    read, _, substring = FILTERS[key]
    actual = read(result)
    return value.lower() in actual.lower() if substring else actual == value


# --- reducing a side to numbers -----------------------------------------------------


@dataclass(frozen=True)
class Side:
    """The numbers of one setup, metric and variant on one side: the newest repeat group's values."""

    setup: Setup
    values: tuple[float, ...]
    samples: tuple[float, ...]
    runs: tuple[str, ...]

    @property
    def summary(self) -> Summary:
        return Summary.of(self.values)


RowKey = tuple[Setup, str, str]  # (pairing key, metric, variant)


def reduce_side(results: Iterable[LoadedResult], metrics: Sequence[Metric], set_apart: set[str]) -> dict[RowKey, Side]:
    """Per pairing key, metric and variant, the successful runs of the newest repeat group."""
    grouped: dict[RowKey, list[tuple[Result, Observation]]] = defaultdict(list)
    for loaded in sorted(results, key=lambda r: r.result.run.started_utc):
        result = loaded.result
        if result.run.status is not Status.success:
            continue
        key = _pairing_key(setup_of(result), set_apart)
        for metric in metrics:
            for variant, value, samples in metric.observe(result):
                grouped[(key, metric.name, variant)].append((result, Observation(metric.name, variant, value, tuple(samples))))
    sides = {}
    for row_key, runs in grouped.items():
        newest = runs[-1][0].run.repeat.group
        latest = [(r, o) for r, o in runs if r.run.repeat.group == newest]
        sides[row_key] = Side(
            setup_of(latest[-1][0]),
            tuple(o.value for _, o in latest),
            tuple(s for _, o in latest for s in o.samples) if all(o.samples for _, o in latest) else (),
            tuple(r.run.id for r, _ in latest),
        )
    return sides


def _pairing_key(setup: Setup, set_apart: set[str]) -> Setup:
    blanks: dict[str, object] = {name: "*" for name in set_apart}
    if "devices" in blanks:
        blanks["devices"] = 0
    return dataclasses.replace(setup, **blanks)


# --- the verdict ------------------------------------------------------------------


@dataclass(frozen=True)
class Test:
    """A significance test's p-value and what it ran on."""

    p: float
    method: str


def significance(a: Side, b: Side) -> Test | None:
    """Mann-Whitney U on both sides' raw samples when stored, else Welch's t-test on repeats; None when n < 2 a side."""
    if a.samples and b.samples:
        p = stats.mannwhitneyu(a.samples, b.samples, alternative="two-sided").pvalue
        return Test(float(p), f"Mann-Whitney U, {len(a.samples)} vs {len(b.samples)} samples")
    if len(a.values) < 2 or len(b.values) < 2:
        return None
    if a.summary.stdev == 0 and b.summary.stdev == 0:  # no spread at all: any difference is beyond noise
        return Test(0.0 if a.summary.mean != b.summary.mean else 1.0, f"no spread, {len(a.values)} vs {len(b.values)} repeats")
    p = stats.ttest_ind(a.values, b.values, equal_var=False).pvalue
    return Test(float(p), f"Welch t-test, {len(a.values)} vs {len(b.values)} repeats")


@dataclass(frozen=True)
class Pair:
    metric: Metric
    variant: str
    a: Side
    b: Side
    threshold: float

    @property
    def ratio(self) -> float:
        """B over A of the metric itself (for a time, above 1 means B took longer)."""
        return self.b.summary.mean / self.a.summary.mean

    @property
    def speedup(self) -> float:
        """How much better B is than A: above 1 is faster, below 1 slower, whatever the metric's direction."""
        return self.ratio if self.metric.higher_is_better else 1 / self.ratio

    @functools.cached_property
    def test(self) -> Test | None:
        """The significance test, run once per pair (verdict, reason and output all read it)."""
        return significance(self.a, self.b)

    @property
    def beyond_threshold(self) -> bool:
        return abs(math.log(self.speedup)) > math.log1p(self.threshold)

    @property
    def changed(self) -> bool:
        """Beyond the threshold and significant (or untestable: the factor alone decides)."""
        test = self.test
        return self.beyond_threshold and (test is None or test.p < ALPHA)

    @property
    def regressed(self) -> bool:
        return self.changed and self.speedup < 1

    @property
    def verdict(self) -> str:
        """'1.11x slower', '1.06x faster' or 'no change'."""
        if not self.changed:
            return "no change"
        if self.speedup < 1:
            return f"{1 / self.speedup:.2f}x slower"
        return f"{self.speedup:.2f}x faster"

    @property
    def why(self) -> str:
        test = self.test
        tested = "untested: a single run a side, the factor alone decides" if test is None else f"p={test.p:.3g} ({test.method})"
        if not self.beyond_threshold:
            return f"within {self.threshold:.0%}; {tested}"
        return tested


@dataclass(frozen=True)
class Comparison:
    a: Selection
    b: Selection
    pairs: list[Pair]
    only_a: list[tuple[RowKey, Side]]
    only_b: list[tuple[RowKey, Side]]

    @property
    def regressions(self) -> list[Pair]:
        return [p for p in self.pairs if p.regressed]


def compare(
    a: Selection,
    a_results: Iterable[LoadedResult],
    b: Selection,
    b_results: Iterable[LoadedResult],
    metrics: Sequence[Metric] = METRICS,
    threshold: float = 0.05,
) -> Comparison:
    """Pair the two sides' rows by setup and judge each pair; rows on one side only are kept apart, never dropped.

    A row whose newest runs are the very same on both sides (``HEAD~1`` against ``HEAD`` for a setup that did not run
    since) is no comparison and is left out.
    """
    set_apart = a.set_apart | b.set_apart
    sides_a = reduce_side(a_results, metrics, set_apart)
    sides_b = reduce_side(b_results, metrics, set_apart)
    by_name = {m.name: m for m in metrics}
    both = sorted(key for key in sides_a.keys() & sides_b.keys() if sides_a[key].runs != sides_b[key].runs)  # same runs: nothing to compare
    pairs = [Pair(by_name[key[1]], key[2], sides_a[key], sides_b[key], threshold) for key in both]
    only_a = [(key, sides_a[key]) for key in sorted(sides_a.keys() - sides_b.keys())]
    only_b = [(key, sides_b[key]) for key in sorted(sides_b.keys() - sides_a.keys())]
    return Comparison(a, b, pairs, only_a, only_b)


# --- output ------------------------------------------------------------------------


def _number(value: float) -> str:
    """A measured number at a sensible precision: 40985, 2873, 15.2, 0.912."""
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _value(side: Side, unit: str) -> str:
    s = side.summary
    spread = f" ± {_number(s.stdev)}" if s.stdev else ""
    return f"{_number(s.mean)}{spread} {unit} (n={s.n})"


def _setup_name(pair_a: Setup, pair_b: Setup) -> str:
    if pair_a == pair_b:
        return setup_label(pair_a)
    return f"{setup_label(pair_a)} -> {setup_label(pair_b)}"


def rows(comparison: Comparison) -> list[dict[str, object]]:
    """One plain record per pair and one-sided row: what every output format prints."""
    records: list[dict[str, object]] = []
    for pair in comparison.pairs:
        test = pair.test
        records.append(
            {
                "setup": _setup_name(pair.a.setup, pair.b.setup),
                "metric": pair.metric.name,
                "variant": pair.variant,
                "unit": pair.metric.unit,
                "a": pair.a.summary.mean,
                "a_n": pair.a.summary.n,
                "a_text": _value(pair.a, pair.metric.unit),
                "b": pair.b.summary.mean,
                "b_n": pair.b.summary.n,
                "b_text": _value(pair.b, pair.metric.unit),
                "ratio": pair.ratio,
                "verdict": pair.verdict,
                "regressed": pair.regressed,
                "p": None if test is None else test.p,
                "test": None if test is None else test.method,
                "why": pair.why,
                "a_runs": list(pair.a.runs),
                "b_runs": list(pair.b.runs),
            }
        )
    for side_name, one_sided in (("A", comparison.only_a), ("B", comparison.only_b)):
        for (_, metric, variant), side in one_sided:
            unit = metric_named(metric).unit
            records.append(
                {
                    "setup": setup_label(side.setup),
                    "metric": metric,
                    "variant": variant,
                    "unit": unit,
                    side_name.lower(): side.summary.mean,
                    f"{side_name.lower()}_text": _value(side, unit),
                    "verdict": f"only in {side_name}",
                    "regressed": False,
                    f"{side_name.lower()}_runs": list(side.runs),
                }
            )
    return records


TEXT_COLUMNS = ("change", "B/A", "p", "A", "B", "metric", "setup")
LEGEND = (
    "p: Welch's t-test on the repeats, or Mann-Whitney U on raw latency samples where both runs stored them; "
    f"'{MISSING}': a single run a side, the factor alone decides (as asv compare does)."
)


def _cells(record: dict[str, object]) -> list[str]:
    p = record.get("p")
    return [
        str(record["verdict"]),
        f"{record['ratio']:.3f}" if "ratio" in record else MISSING,
        f"{p:.2g}" if isinstance(p, float) else MISSING,
        str(record.get("a_text", MISSING)),
        str(record.get("b_text", MISSING)),
        f"{record['metric']} ({record['variant']})",
        str(record["setup"]),
    ]


def render(comparison: Comparison, fmt: str = "text") -> str:
    """The comparison as an aligned text table (asv compare's order: change first), a Markdown table or JSON."""
    records = rows(comparison)
    if fmt == "json":
        return json.dumps({"a": comparison.a.text, "b": comparison.b.text, "alpha": ALPHA, "rows": records}, indent=2)
    table = [_cells(r) for r in records]
    title = (
        f"A = {comparison.a.text}, B = {comparison.b.text}: {len(comparison.pairs)} pair(s), "
        f"{len(comparison.regressions)} regression(s), {len(comparison.only_a) + len(comparison.only_b)} row(s) on one side only"
    )
    if fmt == "markdown":
        lines = [f"**{title}**", "", "| " + " | ".join(TEXT_COLUMNS) + " |", "|" + "---|" * len(TEXT_COLUMNS)]
        lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in table]
        return "\n".join([*lines, "", LEGEND])
    widths = [max(len(row[i]) for row in [list(TEXT_COLUMNS), *table]) for i in range(len(TEXT_COLUMNS))]
    lines = [title, "", "  ".join(h.ljust(w) for h, w in zip(TEXT_COLUMNS, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in table]
    return "\n".join([*lines, "", LEGEND])


# --- the command: each side from the results folders or from a git ref of their repository --------------------------


def _at_ref(ref: str, roots: Sequence[Path], scratch: Path) -> list[Path] | None:
    """The results folders as of git ``ref`` of their repository, extracted under ``scratch``; None if ``ref`` is no commit."""
    extracted = []
    for root in roots:
        repo = repo_root(root)
        if git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False).returncode != 0:
            return None
        relative = root.resolve().relative_to(repo).as_posix()
        archive = subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", ref, "--", relative], capture_output=True)
        if archive.returncode != 0:
            raise CompareError(f"{ref}: {relative} is not in the results repository at that commit")
        target = scratch / ref.replace("/", "_") / str(len(extracted))
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            members = [m for m in tar.getmembers() if m.isfile() or m.isdir()]  # git archive holds files and folders only
            tar.extractall(target, members=members)  # noqa: S202 - members are plain files and folders from git itself
        extracted.append(target / relative)
    return extracted


def load_side(text: str, roots: Sequence[Path], working: list[LoadedResult], scratch: Path) -> tuple[Selection, list[LoadedResult]]:
    """One side: a filter, a night, a run id or repeat group of the results folders, else a git ref of their repository."""
    selection = Selection.parse(text)
    if selection.filters or NIGHT.match(text) or any(selection.matches(r.result) for r in working):
        return selection, selection.select(working)
    try:
        folders = _at_ref(text, roots, scratch)
    except GitError:
        folders = None
    if folders is None:
        raise CompareError(f"{text}: matches no run id, repeat group or night, and is no git ref of the results repository")
    report = load_results(folders)
    for problem in report.problems:
        print(f"{text}: {problem}", file=sys.stderr)
    return Selection(text, everything=True), report.results


def run_compare(a: str, b: str, roots: Sequence[Path], metrics: Sequence[str], threshold: float, fmt: str) -> tuple[str, bool]:
    """Compare ``a`` with ``b``; return the rendered comparison and whether anything regressed."""
    chosen = [metric_named(name) for name in metrics] if metrics else list(METRICS)
    report = load_results(roots)
    for problem in report.problems:
        print(problem, file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="benchsite-compare-") as scratch:
        side_a, results_a = load_side(a, roots, report.results, Path(scratch))
        side_b, results_b = load_side(b, roots, report.results, Path(scratch))
    comparison = compare(side_a, results_a, side_b, results_b, chosen, threshold)
    return render(comparison, fmt), bool(comparison.regressions)
