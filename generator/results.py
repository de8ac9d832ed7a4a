"""Load and validate result files: every problem collected, the good files kept."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from generator.facts import RunFacts, facts_of
from runners.schema import Problem, Result, ResultFileError, read_result, result_file_folders


class ResultSource(Protocol):
    """Where a LoadedResult reads its full result from when first asked for it (generator.cache.ResultStore)."""

    reads: int  # full results read so far

    def result(self, key: str, stamp: tuple[int, int] | None) -> Result: ...


class LoadedResult:
    """A valid result and the file it came from (relative to the results root when possible).

    Its ``facts`` (generator.facts) are what every walk over all runs reads. Its full ``result`` is held, or, when the
    parse cache loaded it, read back from the cache each time it is asked for (``store``, which keeps the most
    recently read): a build then holds the facts of every run and the full results of those its pages show.
    """

    __slots__ = ("_key", "_path", "_result", "_store", "facts", "file", "source", "stamp")

    def __init__(
        self,
        path: Path | str,  # a string as a Path of it prints (the scan's): no Path is made until one is asked for
        source: str,
        result: Result | None = None,
        stamp: tuple[int, int] | None = None,  # (size, mtime_ns) of the file when read, where the loader knew it
        *,
        facts: RunFacts | None = None,
        store: ResultSource | None = None,
        key: str = "",  # the file's key in the store: its absolute path
    ) -> None:
        if result is None and (store is None or facts is None):
            raise ValueError("a LoadedResult needs its result, or its facts and a store to read the result from")
        self.file, self.source, self.stamp = str(path), source, stamp
        self._path = path if isinstance(path, Path) else None
        self.facts: RunFacts = facts if facts is not None else facts_of(result)
        self._result, self._store, self._key = result, store, key

    @property
    def path(self) -> Path:
        """The file as a Path (``file`` is its string)."""
        if self._path is None:
            self._path = Path(self.file)
        return self._path

    @property
    def result(self) -> Result:
        return self._result if self._result is not None else self._store.result(self._key, self.stamp)

    def __repr__(self) -> str:
        return f"LoadedResult({self.file!r}, {self.source!r})"


@dataclass
class LoadReport:
    results: list[LoadedResult] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files: int = 0
    store: ResultSource | None = None  # where the results' full results are read from (the parse cache), if not held

    @property
    def bad_files(self) -> list[str]:
        return sorted({p.path for p in self.problems})


def unsafe_entry_problem(path: str | os.PathLike[str], mode: int) -> Problem | None:
    """A problem for a path under a results folder (``mode``: its lstat mode) that is a symlink or not a regular file;
    it is never followed or read."""
    if stat.S_ISLNK(mode):
        return Problem(path, "<file>", "is a symbolic link; result files must be regular files")
    if not stat.S_ISREG(mode):
        return Problem(path, "<file>", "not a regular file; result files must be regular files")
    return None


def _source_name(path: Path, root: Path) -> str:
    """The file's name for the site: relative to its results root, or as given when it is not under one."""
    try:
        return path.relative_to(root).as_posix() if root.is_dir() else path.name
    except ValueError:
        return path.as_posix()


class SourceNames:
    """_source_name() of the files of a scan, without a Path (and a stat of its root) per file: the walk names
    each file of a folder root as the root's path, a separator and the rest."""

    def __init__(self) -> None:
        self.prefixes: dict[Path, str] = {}

    def __call__(self, path: str, root: Path) -> str:
        if (prefix := self.prefixes.get(root)) is None:
            prefix = self.prefixes[root] = os.path.join(str(root), "") if root.is_dir() else ""
        if prefix and path.startswith(prefix):
            return path[len(prefix) :].replace(os.sep, "/")
        return _source_name(Path(path), root)


def _stat_key(folder: str, name: str, st: os.stat_result, folders: dict[str, str]) -> tuple[str, int, int]:
    """(absolute path, size, mtime_ns) of a regular file (not a link: see unsafe_entry_problem), from its lstat.
    ``folders`` keeps each folder resolved once, not once per file."""
    if (real := folders.get(folder)) is None:
        real = folders[folder] = os.path.join(os.path.realpath(folder or "."), "")
    return real + name, st.st_size, st.st_mtime_ns


@dataclass
class Scan:
    """The result files under some roots, each with its (absolute path, size, mtime_ns); missing roots and entries that
    are not regular files are problems (counted among the files found, never followed or read)."""

    # (root, path, key); each path a string, as the walk gives it (a Path of each of 100,000 files costs seconds)
    files: list[tuple[Path, str, tuple[str, int, int] | None]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    refused: int = 0  # entries that are not regular files


def scan_results(roots: Iterable[str | os.PathLike[str]]) -> Scan:
    """List and stat every result file under the roots: the one walk of the results roots that every loader uses."""
    scan = Scan()
    folders: dict[str, str] = {}
    for root in map(Path, roots):
        try:
            listed = result_file_folders(root)  # raises FileNotFoundError when root does not exist
        except FileNotFoundError as exc:
            scan.problems.append(Problem(root, "<path>", str(exc).split(": ", 1)[-1]))
            continue
        for folder, name in listed:
            path = folder + name
            try:
                st = os.lstat(path)  # one stat per file: what it is, its size and mtime
            except OSError:  # gone since the walk: the loader reports it
                scan.files.append((root, path, None))
                continue
            if problem := unsafe_entry_problem(path, st.st_mode):
                scan.problems.append(problem)
                scan.refused += 1
            else:
                scan.files.append((root, path, _stat_key(folder, name, st, folders)))
    return scan


def load_results(roots: Iterable[str | os.PathLike[str]]) -> LoadReport:
    """Read every result file under ``roots``; a bad file adds problems, never stops the rest."""
    scan = scan_results(roots)
    report = LoadReport(problems=list(scan.problems), files=len(scan.files) + scan.refused)
    source_name = SourceNames()
    for root, path, _ in scan.files:
        try:
            result = read_result(path)
        except ResultFileError as exc:
            report.problems.extend(exc.problems)
            continue
        report.results.append(LoadedResult(path, source_name(path, root), result))
    return report
