"""Parse cache: each result file is parsed and validated once per (path, size, mtime_ns).

The cache lives under the build work dir (``build/cache/results.pickle``). It is
written only by this module and only ever read back from there, never from
``results/``. A cache written by another schema module, benchsite version or
format is ignored, as is an unreadable one: the cost of a bad cache is one
full parse, never a wrong number.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import runners.schema
from generator.results import LoadedResult, LoadReport, _source_name, unsafe_entry_problem
from runners import __version__
from runners.schema import Problem, ResultFileError, iter_result_files, read_result

CACHE_FORMAT = 1
PARALLEL_MIN_FILES = 200  # below this, starting worker processes costs more than it saves
CHUNK = 64


def _schema_stamp() -> str:
    """Fingerprint what a cached entry depends on: the schema module's source, benchsite's version, this format."""
    source = Path(runners.schema.__file__).read_bytes()
    return hashlib.sha256(source + f"|{__version__}|{CACHE_FORMAT}|{sys.version_info[:2]}".encode()).hexdigest()


@dataclass
class Entry:
    """What one file held the last time it was read: a pickled Result, or its problems as (field, message)."""

    size: int
    mtime_ns: int
    blob: bytes | None
    problems: list[tuple[str, str]] = field(default_factory=list)


def _parse(path: str) -> tuple[bytes | None, list[tuple[str, str]]]:
    """Read and validate one file (in a worker); return the pickled Result or its problems."""
    try:
        return pickle.dumps(read_result(path), protocol=pickle.HIGHEST_PROTOCOL), []
    except ResultFileError as exc:
        return None, [(p.field, p.message) for p in exc.problems]


def _parse_all(paths: list[str]) -> list[tuple[bytes | None, list[tuple[str, str]]]]:
    """Parse files, across processes when there are enough of them to pay for the workers."""
    workers = min(os.cpu_count() or 1, 8)
    if len(paths) < PARALLEL_MIN_FILES or workers < 2:
        return [_parse(p) for p in paths]
    # fork: the workers inherit the imported schema module instead of importing it again
    context = get_context("fork") if sys.platform.startswith("linux") else None
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        return list(pool.map(_parse, paths, chunksize=CHUNK))


class ParseCache:
    """Validated results by absolute path, valid while the file's size and mtime_ns are unchanged."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.stamp = _schema_stamp()
        self.entries: dict[str, Entry] = self._read()
        self.changed = False

    def _read(self) -> dict[str, Entry]:
        try:
            with self.path.open("rb") as fh:
                stamp, entries = pickle.load(fh)  # noqa: S301 - written by this module under the build work dir
        except (OSError, EOFError, ValueError, TypeError, pickle.UnpicklingError, AttributeError, ImportError):
            return {}
        return entries if stamp == self.stamp and isinstance(entries, dict) else {}

    def save(self, keep: Iterable[str]) -> None:
        """Write the entries of the files seen in this build (atomically); drop the rest."""
        keep = set(keep)
        if not self.changed and keep == set(self.entries):
            return
        entries = {k: v for k, v in self.entries.items() if k in keep}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with tmp.open("wb") as fh:
            pickle.dump((self.stamp, entries), fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, self.path)


def _stat_key(path: Path) -> tuple[str, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return str(path.resolve()), st.st_size, st.st_mtime_ns


@dataclass
class Scan:
    """The result files under some roots, each with its (absolute path, size, mtime_ns), and roots that are missing."""

    files: list[tuple[Path, Path, tuple[str, int, int] | None]] = field(default_factory=list)  # (root, path, key)
    problems: list[Problem] = field(default_factory=list)

    def fingerprint(self) -> list[list]:
        """Return what identifies this set of files: the stat keys in order, and the missing roots."""
        return [[str(path), *(key or ())] for _, path, key in self.files] + [[str(p)] for p in self.problems]


def scan_results(roots: Iterable[str | os.PathLike[str]]) -> Scan:
    """List and stat every result file under the roots."""
    scan = Scan()
    for root in map(Path, roots):
        try:
            paths = list(iter_result_files(root))
        except FileNotFoundError as exc:
            scan.problems.append(Problem(root, "<path>", str(exc).split(": ", 1)[-1]))
            continue
        for path in paths:
            if problem := unsafe_entry_problem(path):
                scan.problems.append(problem)
            else:
                scan.files.append((root, path, _stat_key(path)))
    return scan


def load_scan(scan: Scan, cache_file: Path) -> LoadReport:
    """Load the scanned files, parsing only those that are new or changed since the cached build."""
    cache = ParseCache(cache_file)
    report = LoadReport(problems=list(scan.problems))
    misses = [
        key for _, _, key in scan.files if key and not ((e := cache.entries.get(key[0])) and (e.size, e.mtime_ns) == (key[1], key[2]))
    ]
    fresh: dict[str, Entry] = {}
    for (path_str, size, mtime_ns), (blob, problems) in zip(misses, _parse_all([k[0] for k in misses]), strict=True):
        fresh[path_str] = Entry(size, mtime_ns, blob, problems)
        if not any(message.startswith("cannot read") for _, message in problems):  # may be fixed without a new mtime
            cache.entries[path_str] = fresh[path_str]
            cache.changed = True
    for root, path, key in scan.files:
        report.files += 1
        if key is None:
            report.problems.append(Problem(path, "<file>", "cannot read: file vanished while building"))
            continue
        entry = fresh.get(key[0]) or cache.entries[key[0]]
        if entry.blob is None:
            report.problems += [Problem(path, f, m) for f, m in entry.problems]
            continue
        result = pickle.loads(entry.blob)  # noqa: S301 - see _read
        report.results.append(LoadedResult(path, _source_name(path, root), result))
    cache.save(key[0] for _, _, key in scan.files if key)
    return report


def load_results_cached(roots: Iterable[str | os.PathLike[str]], cache_file: Path) -> LoadReport:
    """Like load_results(), but parse only files that are new or changed since the cached build."""
    return load_scan(scan_results(roots), cache_file)
