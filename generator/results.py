"""Load and validate result files: every problem collected, the good files kept."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from runners.schema import Problem, Result, ResultFileError, iter_result_files, read_result


@dataclass(frozen=True)
class LoadedResult:
    """A valid result and the file it came from (relative to the results root when possible)."""

    path: Path
    source: str
    result: Result
    stamp: tuple[int, int] | None = None  # (size, mtime_ns) of the file when read, where the loader knew it


@dataclass
class LoadReport:
    results: list[LoadedResult] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files: int = 0

    @property
    def bad_files(self) -> list[str]:
        return sorted({p.path for p in self.problems})


def unsafe_entry_problem(path: Path) -> Problem | None:
    """A problem for a path under a results folder that is a symlink or not a regular file; it is never followed or read."""
    try:
        mode = path.lstat().st_mode
    except OSError as exc:
        return Problem(path, "<file>", f"cannot read: {exc.strerror or exc}")
    if stat.S_ISLNK(mode):
        return Problem(path, "<file>", "is a symbolic link; result files must be regular files")
    if not stat.S_ISREG(mode):
        return Problem(path, "<file>", "not a regular file; result files must be regular files")
    return None


def _source_name(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix() if root.is_dir() else path.name
    except ValueError:
        return path.as_posix()


def result_files(root: Path) -> Iterator[Path]:
    """Every result file under root (a file or a folder), sorted: the one listing both loaders use.

    Raises FileNotFoundError when root does not exist.
    """
    yield from iter_result_files(root)


def load_results(
    roots: Iterable[str | os.PathLike[str]],
    progress: Callable[[int, Path], None] | None = None,
) -> LoadReport:
    """Read every result file under ``roots``; a bad file adds problems, never stops the rest."""
    report = LoadReport()
    for root in map(Path, roots):
        try:
            paths = list(result_files(root))
        except FileNotFoundError as exc:
            report.problems.append(Problem(root, "<path>", str(exc).split(": ", 1)[-1]))
            continue
        for path in paths:
            report.files += 1
            if progress:
                progress(report.files, path)
            if problem := unsafe_entry_problem(path):
                report.problems.append(problem)
                continue
            try:
                result = read_result(path)
            except ResultFileError as exc:
                report.problems.extend(exc.problems)
                continue
            report.results.append(LoadedResult(path, _source_name(path, root), result))
    return report
