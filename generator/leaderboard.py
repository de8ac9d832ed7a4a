"""The top-N leaderboard: per task, boards by precision, dataset releases compared, per-subject results."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from generator.aggregate import Aggregate, BenchmarkAggregate, InferenceTable, LatencyRow
from generator.derived import Summary
from generator.results import LoadedResult
from generator.settings import Board, Settings
from runners.schema import Mode, Result, SubjectMetrics

MAX_SUBJECTS_SHOWN = 1000  # per run: ImageNet's classes; a larger list is in the run's file, not on the page


@dataclass
class Entry:
    """One model on one setup: the latest inference run of an inference table, with what the board shows."""

    bench: BenchmarkAggregate
    table: InferenceTable
    metric: str
    primary: Summary | None  # the timed model's quality, mean over the setup's latest repeat group
    fps: LatencyRow | None  # throughput at the stated batch size
    peak: LatencyRow  # the highest throughput over batch sizes
    memory_mib: float | None
    subjects: list[SubjectMetrics] = field(default_factory=list)  # at most MAX_SUBJECTS_SHOWN of them
    subjects_source: LoadedResult | None = None
    subjects_total: int = 0
    mismatch: bool = False

    @property
    def primary_missing(self) -> str:
        """Why there is no primary result, shown beside the dash in its place."""
        return self.table.quality_missing(self.metric)

    @property
    def result(self) -> Result:
        return self.table.latest.result

    @property
    def dataset_version(self) -> str:
        return self.result.dataset.version

    @property
    def released_utc(self) -> datetime | None:
        return self.result.dataset.released_utc


@dataclass
class LeaderBoard:
    board: Board
    entries: list[Entry]  # the top N, best first
    candidates: int  # entries admitted before the cut to N
    version: str | None
    released_utc: datetime | None

    @property
    def mismatched(self) -> list[Entry]:
        return [e for e in self.entries if e.mismatch]


@dataclass
class TaskBoards:
    task: str
    dataset: str
    metric: str
    boards: list[LeaderBoard]

    @property
    def versions_differ(self) -> bool:
        """True when the boards of this task were evaluated on different dataset releases."""
        return len({b.version for b in self.boards if b.entries}) > 1


def peak_memory_mib(result: Result) -> float | None:
    """Return the peak GPU memory of a run: NVML's max used over devices, else the framework's peak reserved."""
    used = [g.memory_used_max_mib for g in result.telemetry.gpus if g.memory_used_max_mib is not None]
    return max(used) if used else result.telemetry.framework_peak_reserved_mib


def _training_runs(bench: BenchmarkAggregate, table: InferenceTable) -> list[LoadedResult]:
    """Successful convergence runs of exactly this inference setup (setup_of decides), newest last."""
    return bench.successful.get((Mode.convergence, table.setup), [])


def entry_of(bench: BenchmarkAggregate, table: InferenceTable, metric: str, batch_size: int) -> Entry:
    """Collect what the leaderboard shows for one inference setup: every figure from that setup's own runs."""
    latest_rows = [row for row in table.rows if row.source is table.latest]
    with_subjects = [r for r in _training_runs(bench, table) if r.facts.subjects]
    return Entry(
        bench=bench,
        table=table,
        metric=metric,
        primary=table.quality(metric),
        fps=next((row for row in latest_rows if row.point.batch_size == batch_size), None),
        peak=max(latest_rows, key=lambda row: row.point.samples_per_s),
        memory_mib=peak_memory_mib(table.latest.result),
        subjects=with_subjects[-1].result.training.per_subject[:MAX_SUBJECTS_SHOWN] if with_subjects else [],
        subjects_source=with_subjects[-1] if with_subjects else None,
        subjects_total=len(with_subjects[-1].result.training.per_subject) if with_subjects else 0,
    )


def board_release(entries: list[Entry]) -> tuple[str | None, datetime | None]:
    """Return the dataset release a board is on: the one most of its entries were evaluated on, the newer on a tie."""
    if not entries:
        return None, None
    counts = Counter(e.dataset_version for e in entries)
    newest = datetime.min.replace(tzinfo=UTC)
    chosen = max(entries, key=lambda e: (counts[e.dataset_version], e.released_utc or newest))
    return chosen.dataset_version, chosen.released_utc


def _rank_key(entry: Entry) -> tuple:
    quality = entry.primary.mean if entry.primary else 0
    return (entry.primary is None, -quality, -(entry.fps.point.samples_per_s if entry.fps else 0))


def leaderboards(agg: Aggregate, settings: Settings) -> list[TaskBoards]:
    """Build the boards of every task and dataset from the data as it is now: recomputed on every build."""
    by_task: dict[tuple[str, str], list[Entry]] = {}
    for bench in agg.benchmarks:
        for table in bench.inference:
            result = table.latest.result
            target = settings.quality_target(result.run.task, result.dataset.name)
            entry = entry_of(bench, table, target.metric if target else "top1", settings.inference_batch_size)
            by_task.setdefault((result.run.task, result.dataset.name), []).append(entry)
    tasks = []
    for (task, dataset), entries in sorted(by_task.items()):
        boards = []
        for board in settings.leaderboard.boards:
            admitted = sorted((e for e in entries if board.admits(e.table.setup.precision)), key=_rank_key)
            top = [_copy(e) for e in admitted[: settings.leaderboard.top_n]]
            version, released = board_release(top)
            for e in top:
                e.mismatch = e.dataset_version != version
            boards.append(LeaderBoard(board, top, len(admitted), version, released))
        tasks.append(TaskBoards(task, dataset, entries[0].metric, boards))
    return tasks


def _copy(entry: Entry) -> Entry:
    """A board's own copy of an entry, since the mismatch flag depends on the board."""
    return Entry(**{**entry.__dict__})
