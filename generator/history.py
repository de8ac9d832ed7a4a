"""History over nightly runs per benchmark x configuration x metric, with change-point regression detection.

Detection keeps noise in mind: ruptures' PELT finds change points with a penalty scaled by the series' own
noise (estimated robustly from successive differences), then each change must pass Welch's t-test between
the segments around it and move the mean by at least a set fraction, in the direction that is worse.
Thresholds are data (``history`` in generator/site_settings.yaml). Pages show a bounded number of rows:
the newest points one by one and older ones averaged into buckets.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np

from generator.aggregate import Aggregate, BenchmarkAggregate, slugify
from generator.changes import Change, what_changed
from generator.facts import Metric, driver_version
from generator.helpers import Helper
from generator.results import LoadedResult
from generator.settings import HistorySettings
from runners.schema import Status, write_atomic

ATOM = "http://www.w3.org/2005/Atom"
FEED_PATH = "feeds/regressions.xml"
FEED_ENTRIES = 50
REGRESSIONS_SHOWN = 100


# --- series ---------------------------------------------------------------------------


@dataclass
class Point:
    """One run of a setup: the mean of its repeat group's values (each repeat a sample); nightly suites make one a night."""

    started_utc: datetime
    samples: list[float]
    runs: list[LoadedResult]
    mean: float | None = field(default=None, repr=False, compare=False)  # value, once read (its samples are set once)

    @property
    def value(self) -> float:
        """The mean of its samples (read a few times per point: detection, bands, pages)."""
        if self.mean is None:
            self.mean = math.fsum(self.samples) / len(self.samples)
        return self.mean

    @property
    def latest(self) -> LoadedResult:
        return self.runs[-1]


@dataclass
class Bucket:
    """Older points averaged together so that a history page stays small."""

    points: list[Point]

    @property
    def value(self) -> float:
        return math.fsum(p.value for p in self.points) / len(self.points)

    @property
    def low(self) -> float:
        return min(p.value for p in self.points)

    @property
    def high(self) -> float:
        return max(p.value for p in self.points)

    @property
    def started_utc(self) -> datetime:
        return self.points[0].started_utc

    @property
    def ended_utc(self) -> datetime:
        return self.points[-1].started_utc


@dataclass
class Regression:
    series: Series
    before: Point  # the last point of the old level
    after: Point  # the first point of the new level
    mean_before: float
    mean_after: float
    p_value: float
    results_range: tuple[str, str] | None = None  # commits of the results repository that added the runs before and after

    @property
    def changes(self) -> list[Change]:
        """What differs between the run before and the run after: packages, driver, power limit, dataset, commit, config."""
        return what_changed(self.before.latest.result, self.after.latest.result)

    @property
    def what_changed(self) -> list[str]:
        """One line per difference, and the results repository's commit range; 'nothing recorded differs' when none."""
        lines = [str(c) for c in self.changes] or ["nothing recorded differs"]
        if self.results_range:
            before, after = (commit[:12] for commit in self.results_range)
            lines.append(f"results commits {before}..{after}" if before != after else f"both runs added in results commit {before}")
        return lines

    @property
    def change(self) -> float:
        """Relative change of the mean, e.g. -0.15 for a 15 % drop."""
        return (self.mean_after - self.mean_before) / self.mean_before


@dataclass(frozen=True)
class Band:
    """One level of a series (between detected changes) and the run-to-run noise around it."""

    start: datetime
    end: datetime
    mean: float
    low: float
    high: float
    estimated: bool  # False with too few runs to estimate the noise: then only the smallest change that counts


@dataclass(eq=False)  # a series is itself: comparing two field by field walks every point
class Series:
    bench: BenchmarkAggregate
    config: str
    metric: Metric
    points: list[Point]
    shown: list[Point | Bucket] = field(default_factory=list)
    regressions: list[Regression] = field(default_factory=list)
    bands: list[Band] = field(default_factory=list)
    needed: int = 0  # runs the detector needs before it can check this series

    @property
    def checked(self) -> bool:
        """True when the series has enough runs for the detector to look for a change."""
        return len(self.points) >= self.needed

    @property
    def status(self) -> str:
        """Say what the detector could do: 'n regression(s)', 'checked, no change' or 'not enough history (n of m runs)'."""
        if not self.checked:
            return f"not enough history ({len(self.points)} of {self.needed} runs)"
        return f"{len(self.regressions)} regression(s)" if self.regressions else "checked, no change"

    @property
    def key(self) -> str:
        """A short, unique, file-safe name for the series."""
        digest = hashlib.sha256(f"{self.bench.name}|{self.config}|{self.metric.name}".encode()).hexdigest()[:8]
        return f"{slugify(self.metric.name)[:40]}-{digest}"


@dataclass(eq=False)
class HistoryPage:
    bench: BenchmarkAggregate
    config: str
    series: list[Series]

    @property
    def latest(self) -> LoadedResult:
        """The newest run of the page's series (its system is the configuration's link)."""
        return max((s.points[-1].latest for s in self.series), key=lambda r: r.facts.started_utc)

    @property
    def path(self) -> str:
        digest = hashlib.sha256(f"{self.bench.name}|{self.config}".encode()).hexdigest()[:8]
        return f"history/{self.bench.slug}-{digest}.md"


@dataclass
class History:
    pages: list[HistoryPage]
    single: list[Series] = field(default_factory=list)  # series of one run: no page, but counted as not checked

    @property
    def series(self) -> list[Series]:
        """The series with a page (two runs or more)."""
        return [s for page in self.pages for s in page.series]

    @property
    def every_series(self) -> list[Series]:
        return self.series + self.single

    @property
    def checked(self) -> list[Series]:
        """The series with enough runs for the detector to look for a change."""
        return [s for s in self.every_series if s.checked]

    @property
    def unchecked(self) -> list[Series]:
        """The series with too few runs to detect anything."""
        return [s for s in self.every_series if not s.checked]

    @property
    def regressions(self) -> list[Regression]:
        """Every regression found, newest first."""
        found = [r for s in self.series for r in s.regressions]
        return sorted(found, key=lambda r: r.after.started_utc, reverse=True)

    def page_of(self, series: Series) -> HistoryPage | None:
        """The page that shows a series; None for a series of one run, which has none."""
        if (pages := self.__dict__.get("_page_of")) is None:
            pages = self.__dict__["_page_of"] = {id(s): page for page in self.pages for s in page.series}
        return pages.get(id(series))


def _point_start(point: Point) -> datetime:
    return point.started_utc


@functools.cache
def _detector_stamp() -> str:
    """What a detection depends on besides the values and settings: this module's code, ruptures' and scipy's versions."""
    from importlib.metadata import version

    return hashlib.sha256(Path(__file__).read_bytes() + f"|{version('ruptures')}|{version('scipy')}".encode()).hexdigest()


class Detections:
    """The changes found in each series' values, by a hash of the values and the settings, kept between builds
    (``path``, JSON): a new run changes the values of its own series only, so a rebuild runs the detector (and
    imports ruptures and scipy, ~2.5 s) for those alone. None keeps them for this build only."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.saved: dict[str, list] = {}
        self.used: dict[str, list] = {}
        if path is not None:
            try:
                saved = json.loads(path.read_text(encoding="utf-8"))
                self.saved = saved if isinstance(saved, dict) else {}
            except (OSError, ValueError):
                self.saved = {}

    def detect(
        self, every: Sequence[Sequence[float]], settings: HistorySettings, helper: Helper | None = None
    ) -> list[list[tuple[int, float, float, float]]]:
        """Return each list of values' shifts(), running the detector on those not seen before: all at once, in
        ``helper`` when given (a process that imported ruptures while the build read its results)."""
        stamp, options = _detector_stamp(), settings.model_dump()
        keys = [hashlib.sha256(repr((stamp, list(values), options)).encode()).hexdigest() for values in every]
        missing = {key: list(values) for key, values in zip(keys, every, strict=True) if key not in self.used and key not in self.saved}
        if missing:
            detect = functools.partial(shifts, settings=settings)
            found = helper.map(detect, missing.values()) if helper is not None else map(detect, missing.values())
            for key, mine in zip(missing, found, strict=True):
                self.used[key] = [[int(k), float(before), float(after), float(p)] for k, before, after, p in mine]
        for key in keys:
            if key not in self.used:
                self.used[key] = self.saved[key]
        return [[(int(k), before, after, p) for k, before, after, p in self.used[key]] for key in keys]

    def save(self) -> None:
        if self.path is not None and self.used != self.saved:
            write_atomic(self.path, json.dumps(self.used).encode())


def history(agg: Aggregate, settings: HistorySettings, detections: Detections | None = None, detector: Helper | None = None) -> History:
    """Build every series, detect its regressions and choose the rows its page shows (``detections`` keeps
    what the detector found between builds; ``detector``, a helper process, runs it for new values)."""
    detections = detections or Detections()
    configs = [(bench, config, series) for bench in agg.benchmarks for config, series in _series_points(bench, settings)]
    every = [s for *_, mine in configs for s in mine]
    for s, found in zip(every, detections.detect([[p.value for p in s.points] for s in every], settings, detector), strict=True):
        s.regressions = regressions(s, found)
        s.bands = noise_bands(s.points, settings, found)
    detections.save()
    pages = [HistoryPage(bench, config, shown) for bench, config, mine in configs if (shown := [s for s in mine if len(s.points) >= 2])]
    return History(pages, [s for s in every if len(s.points) < 2])


def _series_points(bench: BenchmarkAggregate, settings: HistorySettings) -> list[tuple[str, list[Series]]]:
    """A benchmark's series with their points (one per repeat group of successful runs), by configuration: one pass
    over the runs puts each value straight into its point (266,000 values at 100,000 results)."""
    by_config: dict[str, dict[str, tuple[Metric, dict[str, Point]]]] = {}
    for loaded in bench.runs:
        facts = loaded.facts
        if facts.status is not Status.success:
            continue
        if (metrics := by_config.get(facts.config)) is None:
            metrics = by_config[facts.config] = {}
        for metric, value in facts.values:
            if (series := metrics.get(metric.name)) is None:
                series = metrics[metric.name] = (metric, {})
            if (point := series[1].get(facts.group)) is None:
                point = series[1][facts.group] = Point(facts.started_utc, [], [])
            point.samples.append(value)
            point.runs.append(loaded)
    found = []
    for config, metrics in sorted(by_config.items()):
        series = []
        for metric, groups in metrics.values():
            points = sorted(groups.values(), key=_point_start)
            if points:  # e.g. a time to target no run reached: nothing to follow
                series.append(Series(bench, config, metric, points, downsample(points, settings), needed=2 * settings.min_segment))
        found.append((config, series))
    return found


# --- detection ------------------------------------------------------------------------


def noise_sigma(values: Sequence[float]) -> float:
    """Estimate the noise's standard deviation from successive differences (robust to level shifts): MAD / 0.6745 / sqrt 2."""
    diffs = np.diff(np.asarray(values, dtype=float))
    if diffs.size == 0:
        return 0.0
    mad = float(np.median(np.abs(diffs - np.median(diffs))))
    return mad / 0.6745 / math.sqrt(2)


def change_points(values: Sequence[float], settings: HistorySettings) -> list[int]:
    """Return the indices where a new level starts, by PELT with a penalty scaled to the noise."""
    n = len(values)
    if n < 2 * settings.min_segment:
        return []
    import ruptures  # with scipy, seconds of imports: only when a series has new values

    signal = np.asarray(values, dtype=float)
    sigma = noise_sigma(values) or 1e-9 * max(1.0, float(np.abs(signal).mean()))
    penalty = settings.penalty_factor * sigma**2 * math.log(n)
    # KernelCPD with a linear kernel is PELT on the l2 cost (a shift in the mean), implemented in C
    breaks = ruptures.KernelCPD(kernel="linear", min_size=settings.min_segment, jump=1).fit(signal).predict(pen=penalty)
    return [b for b in breaks if b < n]


def shifts(values: Sequence[float], settings: HistorySettings) -> list[tuple[int, float, float, float]]:
    """Return (index, mean before, mean after, p-value) of every change that is significant and large enough."""
    from scipy import stats

    found = []
    bounds = [0, *change_points(values, settings), len(values)]
    for start, k, end in zip(bounds, bounds[1:], bounds[2:], strict=False):
        before, after = list(values[start:k]), list(values[k:end])
        mean_before, mean_after = statistics.fmean(before), statistics.fmean(after)
        if mean_before == 0 or abs(mean_after - mean_before) / abs(mean_before) < settings.min_relative_change:
            continue
        test = stats.ttest_ind(before, after, equal_var=False)
        p_value = float(test.pvalue) if math.isfinite(test.pvalue) else 0.0  # nan: both segments constant, yet different means
        if p_value < settings.alpha:
            found.append((k, mean_before, mean_after, p_value))
    return found


def regressions(series: Series, found_shifts: list[tuple[int, float, float, float]]) -> list[Regression]:
    """Return the changes of a series (its values' shifts()) that go the wrong way (slower, higher latency, lower quality)."""
    found = []
    for k, mean_before, mean_after, p_value in found_shifts:
        worse = mean_after < mean_before if series.metric.higher_is_better else mean_after > mean_before
        if worse:
            found.append(Regression(series, series.points[k - 1], series.points[k], mean_before, mean_after, p_value))
    return found


def noise_bands(points: list[Point], settings: HistorySettings, found_shifts: list[tuple[int, float, float, float]]) -> list[Band]:
    """Return each level of a series with its noise band: mean ± max(2 sigma, the smallest change that counts).

    sigma is the series' own run-to-run noise (noise_sigma); a move inside the band is noise to the detector too.
    """
    values = [p.value for p in points]
    if not values:
        return []
    estimated = len(values) >= 2 * settings.min_segment
    sigma = noise_sigma(values) if estimated else 0.0
    bounds = [0, *(k for k, *_ in found_shifts), len(values)]
    bands = []
    for start, end in itertools.pairwise(bounds):
        mean = statistics.fmean(values[start:end])
        half = max(2 * sigma, settings.min_relative_change * abs(mean))
        bands.append(Band(points[start].started_utc, points[end - 1].started_utc, mean, mean - half, mean + half, estimated))
    return bands


def downsample(points: list[Point], settings: HistorySettings) -> list[Point | Bucket]:
    """Keep the newest points as they are and average older ones into equal buckets: at most max_points rows."""
    if len(points) <= settings.max_points:
        return list(points)
    recent = min(settings.recent_points, settings.max_points - 1)
    older, newest = points[:-recent], points[-recent:]
    size = math.ceil(len(older) / (settings.max_points - recent))
    return [Bucket(older[i : i + size]) for i in range(0, len(older), size)] + list(newest)


# --- feed -----------------------------------------------------------------------------


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _feed_href(href: str) -> str:
    """A source link as seen from feeds/: a full URL as it is, a path relative to the site's root one folder up."""
    return href if "://" in href else f"../{href}"


def locate_commits(found: History, added_in: Callable[[LoadedResult], str | None]) -> None:
    """Give each regression the commits of the results repository that added its run before and its run after."""
    for r in found.regressions:
        before, after = added_in(r.before.latest), added_in(r.after.latest)
        r.results_range = (before, after) if before and after else None


def atom_feed(found: History, title_of: Callable[[BenchmarkAggregate], str], links: dict[str, str], updated: datetime | None) -> bytes:
    """Return the Atom feed of the newest regressions, each with the run before and after; links relative to the feed."""
    feed = ET.Element("feed", xmlns=ATOM)
    ET.SubElement(feed, "title").text = "benchsite regressions"
    ET.SubElement(feed, "id").text = "urn:benchsite:regressions"
    newest = found.regressions[:FEED_ENTRIES]
    ET.SubElement(feed, "updated").text = _iso(newest[0].after.started_utc if newest else updated or datetime(1970, 1, 1))
    ET.SubElement(feed, "link", rel="alternate", type="text/html", href="../regressions.html")
    ET.SubElement(feed, "link", rel="self", type="application/atom+xml", href="regressions.xml")
    for r in newest:
        s = r.series
        entry = ET.SubElement(feed, "entry")
        ET.SubElement(entry, "title").text = f"{title_of(s.bench)}: {s.metric.name} {r.change:+.1%} ({s.config})"
        ET.SubElement(entry, "id").text = f"urn:benchsite:regression:{s.key}:{r.after.latest.result.run.id}"
        ET.SubElement(entry, "updated").text = _iso(r.after.started_utc)
        page = found.page_of(s).path.removesuffix(".md") + ".html"
        ET.SubElement(entry, "link", rel="alternate", type="text/html", href=f"../{page}")
        before, after = r.before.latest, r.after.latest
        summary = (
            f"{s.metric.name} ({s.metric.unit}) moved from a mean of {r.mean_before:.4g} to {r.mean_after:.4g} "
            f"(p = {r.p_value:.2g}, Welch's t-test). Run before: {before.result.run.id} ({_iso(before.result.run.started_utc)}, "
            f"driver {driver_version(before.result) or 'none'}, {before.result.run.framework} {before.result.run.framework_version}). "
            f"Run after: {after.result.run.id} ({_iso(after.result.run.started_utc)}, driver {driver_version(after.result) or 'none'}, "
            f"{after.result.run.framework} {after.result.run.framework_version})."
        )
        ET.SubElement(entry, "summary").text = summary + " What changed: " + "; ".join(r.what_changed) + "."
        for rel, loaded in (("related", before), ("related", after)):
            ET.SubElement(entry, "link", rel=rel, type="application/yaml", href=_feed_href(links[loaded.file]))
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="unicode")).encode()
