"""Parse cache: each result file is parsed and validated once per (path, size, mtime_ns).

The cache lives under the build work dir (``build/<site>/cache/results.sqlite``): one
row per file, so a build adds or replaces the rows of new and changed files only,
and reads the rest back one at a time (never all pickles and all results in memory
at once). It is written only by this module and only ever read back from there,
never from ``results/``. A cache written under another schema version, set of
migrations, schema module, benchsite version or format is emptied, as is an
unreadable one: the cost of a bad cache is one full parse, never a wrong number.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import sqlite3
import sys
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import runners.schema
from generator.results import LoadedResult, LoadReport, Scan, _source_name, scan_results
from runners import __version__
from runners.schema import Problem, Result, ResultFileError, read_result

CACHE_FORMAT = 3
PARALLEL_MIN_FILES = 200  # below this, starting worker processes costs more than it saves
CHUNK = 64
PUT_BATCH = 1000  # parses saved to the cache per transaction


def _schema_stamp() -> str:
    """Fingerprint what a cached entry depends on: the schema (its version, migrations and module source), benchsite's
    version, this format. A parse of an older file is its migrated Result, so it is kept only under the same migrations."""
    source = Path(runners.schema.__file__).read_bytes()
    schema = f"v{runners.schema.SCHEMA_VERSION}+{len(runners.schema.MIGRATIONS)}"
    return hashlib.sha256(source + f"|{schema}|{__version__}|{CACHE_FORMAT}|{sys.version_info[:2]}".encode()).hexdigest()


@dataclass
class Entry:
    """What one file held the last time it was read: a pickled Result, or its problems as (field, message)."""

    size: int
    mtime_ns: int
    blob: bytes | None
    problems: list[tuple[str, str]] = field(default_factory=list)


SHARED_PARTS = ("environment", "dataset")  # the same for most runs of one machine: one object in memory for all of them


def _parse(path: str) -> tuple[bytes | None, list[tuple[str, str]]]:
    """Read and validate one file (in a worker); return the pickled Result or its problems.

    The pickle holds the Result without its SHARED_PARTS, and each of them pickled on its own, so that
    the loader can give every run with an identical environment the same object (Results are never changed).
    """
    try:
        result = read_result(path)
    except ResultFileError as exc:
        return None, [(p.field, p.message) for p in exc.problems]
    parts = {name: pickle.dumps(getattr(result, name), protocol=pickle.HIGHEST_PROTOCOL) for name in SHARED_PARTS}
    rest = result.model_copy(update=dict.fromkeys(SHARED_PARTS))
    return pickle.dumps((rest, parts), protocol=pickle.HIGHEST_PROTOCOL), []


class _Unpickler:
    """Turn cached blobs back into Results, sharing one object per distinct environment (and dataset)."""

    def __init__(self) -> None:
        self.shared: dict[bytes, Any] = {}

    def load(self, blob: bytes) -> Result:
        rest, parts = pickle.loads(blob)  # noqa: S301 - written by this module under the build work dir
        update = {}
        for name, part in parts.items():
            if (obj := self.shared.get(part)) is None:
                obj = self.shared[part] = pickle.loads(part)  # noqa: S301 - as above
            update[name] = obj
        return rest.model_copy(update=update)


def _parse_all(paths: list[str]) -> Iterator[tuple[bytes | None, list[tuple[str, str]]]]:
    """Parse files, in order, across processes when there are enough of them to pay for the workers."""
    workers = min(os.cpu_count() or 1, 8)
    if len(paths) < PARALLEL_MIN_FILES or workers < 2:
        yield from map(_parse, paths)
        return
    # fork: the workers inherit the imported schema module instead of importing it again
    context = get_context("fork") if sys.platform.startswith("linux") else None
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        yield from pool.map(_parse, paths, chunksize=CHUNK)


class ParseCache:
    """Validated results by absolute path in SQLite, valid while the file's size and mtime_ns are unchanged."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = self._open()
        except sqlite3.DatabaseError:  # not a database (or a broken one): start again
            for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
                stale.unlink(missing_ok=True)
            self.db = self._open()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE IF NOT EXISTS meta (stamp TEXT)")
        db.execute("CREATE TABLE IF NOT EXISTS entries (path TEXT PRIMARY KEY, size INT, mtime_ns INT, blob BLOB, problems TEXT)")
        stamp = _schema_stamp()
        if db.execute("SELECT stamp FROM meta").fetchall() != [(stamp,)]:
            db.execute("DELETE FROM entries")
            db.execute("DELETE FROM meta")
            db.execute("INSERT INTO meta VALUES (?)", (stamp,))
        return db

    def stats(self) -> dict[str, tuple[int, int]]:
        """(size, mtime_ns) of every cached file."""
        return {path: (size, mtime) for path, size, mtime in self.db.execute("SELECT path, size, mtime_ns FROM entries")}

    def get(self, path: str) -> Entry:
        size, mtime, blob, problems = self.db.execute("SELECT size, mtime_ns, blob, problems FROM entries WHERE path=?", (path,)).fetchone()
        return Entry(size, mtime, blob, [tuple(p) for p in json.loads(problems)])

    def put(self, entries: dict[str, Entry]) -> None:
        rows = [(k, e.size, e.mtime_ns, e.blob, json.dumps(e.problems)) for k, e in entries.items()]
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?)", rows)

    def forget(self, paths: Iterable[str]) -> None:
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany("DELETE FROM entries WHERE path=?", [(p,) for p in paths])

    def close(self) -> None:
        self.db.close()


def load_scan(scan: Scan, cache_file: Path) -> LoadReport:
    """Load the scanned files, parsing only those that are new or changed since the cached build."""
    cache = ParseCache(cache_file)
    try:
        return _load(scan, cache)
    finally:
        cache.close()


def _load(scan: Scan, cache: ParseCache) -> LoadReport:
    # One pass in the scan's order: a new or changed file's parse is turned into its Result as it arrives and
    # saved in batches, so a cold build never holds the pickles of every file at once.
    report = LoadReport(problems=list(scan.problems), files=scan.refused)
    unpickler = _Unpickler()
    known = cache.stats()

    def cached(key: tuple[str, int, int]) -> bool:  # parsed before, and unchanged since
        return known.get(key[0]) == (key[1], key[2])

    misses = [key for _, _, key in scan.files if key and not cached(key)]
    parsed = zip(misses, _parse_all([k[0] for k in misses]), strict=True)
    fresh: dict[str, Entry] = {}
    for root, path, key in scan.files:
        report.files += 1
        if key is None:
            report.problems.append(Problem(path, "<file>", "cannot read: file vanished while building"))
            continue
        if cached(key):
            entry = cache.get(key[0])
        else:
            (path_str, size, mtime_ns), (blob, problems) = next(parsed)
            entry = Entry(size, mtime_ns, blob, problems)
            # a file that could not be read may be fixed without a new mtime: never cached
            if not any(m.startswith("cannot read") for _, m in problems):
                fresh[path_str] = entry
            if len(fresh) >= PUT_BATCH:
                cache.put(fresh)
                fresh = {}
        if entry.blob is None:
            report.problems += [Problem(path, f, m) for f, m in entry.problems]
            continue
        result, file = unpickler.load(entry.blob), Path(path)
        report.results.append(LoadedResult(file, _source_name(file, root), result, (key[1], key[2])))
    cache.put(fresh)
    cache.forget(set(known) - {key[0] for _, _, key in scan.files if key})
    return report


def load_results_cached(roots: Iterable[str | os.PathLike[str]], cache_file: Path) -> LoadReport:
    """Like load_results(), but parse only files that are new or changed since the cached build."""
    return load_scan(scan_results(roots), cache_file)
