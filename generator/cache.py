"""Parse cache: each result file is parsed and validated once per (path, size, mtime_ns).

The cache lives under the build work dir (``build/<site>/cache/results.sqlite``): one
row per file, so a build adds or replaces the rows of new and changed files only.
A row holds the file's full result and its facts (generator.facts); the environment
and dataset it shares with other runs are kept once for all of them. A build reads
back the facts of every file, and a full result only when a page asks for it
(ResultStore): it never holds 100,000 parsed documents. The cache is written only
by this module and only ever read back from there, never from ``results/``. A cache
written under another schema version, set of migrations, schema module, facts module,
benchsite version or format is emptied, as is an unreadable one: the cost of a bad
cache is one full parse, never a wrong number.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import pickle
import sqlite3
import sys
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import generator.facts
import runners.schema
from generator.facts import RunFacts, facts_of
from generator.results import LoadedResult, LoadReport, Scan, SourceNames, scan_results
from runners import __version__
from runners.schema import Problem, Result, ResultFileError, atomic_path, read_result

CACHE_FORMAT = 4
PARALLEL_MIN_FILES = 200  # below this, starting worker processes costs more than it saves
CHUNK = 64
PUT_BATCH = 1000  # parses saved to the cache per transaction
KEPT_RESULTS = 2048  # full results a store keeps after reading them (most recently read first)


def _schema_stamp() -> str:
    """Fingerprint what a cached entry depends on: the schema (its version, migrations and module source), the facts'
    module, benchsite's version, this format. A parse of an older file is its migrated Result, so it is kept only
    under the same migrations."""
    source = Path(runners.schema.__file__).read_bytes() + Path(generator.facts.__file__).read_bytes()
    schema = f"v{runners.schema.SCHEMA_VERSION}+{len(runners.schema.MIGRATIONS)}"
    return hashlib.sha256(source + f"|{schema}|{__version__}|{CACHE_FORMAT}|{sys.version_info[:2]}".encode()).hexdigest()


@dataclass
class Entry:
    """What one file held the last time it was read: its pickled Result without the SHARED_PARTS, its pickled facts
    and the keys of its shared parts; or its problems as (field, message)."""

    size: int
    mtime_ns: int
    blob: bytes | None
    problems: list[tuple[str, str]] = field(default_factory=list)
    facts: bytes | None = None
    parts: tuple[bytes, ...] = ()  # the keys of its SHARED_PARTS, in that order


SHARED_PARTS = ("environment", "dataset")  # the same for most runs of one machine: one object in memory for all of them


def _parse(path: str) -> tuple[Entry, dict[bytes, bytes]]:
    """Read and validate one file (in a worker); return its entry (size and mtime left 0) and its shared parts by key.

    The pickle holds the Result without its SHARED_PARTS; each part is pickled on its own and keyed by its digest,
    so that the cache holds it once and the loader gives every run with an identical environment the same object
    (Results are never changed).
    """
    try:
        result = read_result(path)
    except ResultFileError as exc:
        return Entry(0, 0, None, [(p.field, p.message) for p in exc.problems]), {}
    parts = {}
    for name in SHARED_PARTS:
        blob = pickle.dumps(getattr(result, name), protocol=pickle.HIGHEST_PROTOCOL)
        parts[hashlib.sha1(blob, usedforsecurity=False).digest()] = blob
    rest = result.model_copy(update=dict.fromkeys(SHARED_PARTS))
    facts = pickle.dumps(facts_of(result).dump(), protocol=pickle.HIGHEST_PROTOCOL)
    return Entry(0, 0, pickle.dumps(rest, protocol=pickle.HIGHEST_PROTOCOL), [], facts, tuple(parts)), parts


def _parse_all(paths: list[str]) -> Iterator[tuple[Entry, dict[bytes, bytes]]]:
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
        stamp = _schema_stamp()
        if db.execute("SELECT stamp FROM meta").fetchall() != [(stamp,)]:
            db.execute("DROP TABLE IF EXISTS entries")  # another format: its columns may differ too
            db.execute("DROP TABLE IF EXISTS parts")
            db.execute("DELETE FROM meta")
            db.execute("INSERT INTO meta VALUES (?)", (stamp,))
        columns = "path TEXT PRIMARY KEY, size INT, mtime_ns INT, blob BLOB, problems TEXT, facts BLOB, parts BLOB"
        db.execute(f"CREATE TABLE IF NOT EXISTS entries ({columns})")
        db.execute("CREATE TABLE IF NOT EXISTS parts (key BLOB PRIMARY KEY, blob BLOB)")
        return db

    def facts(self) -> dict[str, tuple[str, int, int, bytes | None, bytes, str | None]]:
        """(path, size, mtime_ns, pickled facts, keys of the shared parts, problems as JSON) of every cached file, by
        path; no full result."""
        return {row[0]: row for row in self.db.execute("SELECT path, size, mtime_ns, facts, parts, problems FROM entries")}

    def facts_of(self, paths: list[str]) -> dict[str, tuple[str, int, int, bytes | None, bytes, str | None]]:
        """``facts()`` of these files only (those cached), for a rebuild that needs a few rows."""
        found = {}
        for i in range(0, len(paths), 500):
            chunk = paths[i : i + 500]
            marks = ",".join("?" * len(chunk))  # placeholders only: the paths are bound, never spliced in
            query = f"SELECT path, size, mtime_ns, facts, parts, problems FROM entries WHERE path IN ({marks})"  # noqa: S608
            found |= {row[0]: row for row in self.db.execute(query, chunk)}
        return found

    def put(self, entries: dict[str, Entry], parts: dict[bytes, bytes]) -> None:
        rows = [
            (k, e.size, e.mtime_ns, e.blob, json.dumps(e.problems) if e.problems else None, e.facts, b"".join(e.parts))
            for k, e in entries.items()
        ]
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            self.db.executemany("INSERT OR IGNORE INTO parts VALUES (?, ?)", parts.items())

    def forget(self, paths: Iterable[str]) -> None:
        gone = [(p,) for p in paths]
        if not gone:
            return
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany("DELETE FROM entries WHERE path=?", gone)
            used = {key for (parts,) in self.db.execute("SELECT parts FROM entries") for key in _part_keys(parts)}
            unused = [(key,) for (key,) in self.db.execute("SELECT key FROM parts") if key not in used]
            self.db.executemany("DELETE FROM parts WHERE key=?", unused)

    def close(self) -> None:
        self.db.close()


def _stamp(row: tuple | None) -> tuple[int, int] | None:
    """The (size, mtime_ns) of a cached file's row, if it has one."""
    return None if row is None else (row[1], row[2])


KEY_SIZE = 20  # bytes of a shared part's key (sha1)


def _part_keys(parts: bytes | None) -> list[bytes]:
    """The keys of an entry's SHARED_PARTS, in that order, from its ``parts`` column (the keys one after another)."""
    return [parts[i : i + KEY_SIZE] for i in range(0, len(parts or b""), KEY_SIZE)]


class ResultStore:
    """The full results of a build's runs, read back from the parse cache when a page first asks for one; the
    KEPT_RESULTS most recently read are kept. Every run with one environment (and dataset) gets the same object."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = sqlite3.connect(path, check_same_thread=False)
        self.parts = {key: pickle.loads(blob) for key, blob in self.db.execute("SELECT key, blob FROM parts")}  # noqa: S301 - written by this module under the build work dir
        self.kept: OrderedDict[str, Result] = OrderedDict()
        self.reads = 0  # full results read from the cache (benchmarks/build_speed.py's check that walks read facts only)

    def result(self, key: str, stamp: tuple[int, int] | None) -> Result:
        """The full result of the file at key (absolute path), as parsed when its size and mtime were ``stamp``."""
        if (found := self.kept.get(key)) is not None:
            self.kept.move_to_end(key)
            return found
        row = self.db.execute("SELECT size, mtime_ns, blob, parts FROM entries WHERE path=?", (key,)).fetchone()
        if row is None or row[2] is None or (row[0], row[1]) != stamp:  # the cache moved on (another build): read the file
            result = read_result(key)
        else:
            rest = pickle.loads(row[2])  # noqa: S301 - as above
            shared = [self.parts[key] for key in _part_keys(row[3])]
            result = rest.model_copy(update=dict(zip(SHARED_PARTS, shared, strict=True)))
        self.reads += 1
        self.kept[key] = result
        if len(self.kept) > KEPT_RESULTS:
            self.kept.popitem(last=False)
        return result

    def reopen(self) -> None:
        """Read through a connection of this process's own: a forked process must not use its parent's (nor close it)."""
        self.db = sqlite3.connect(self.path, check_same_thread=False)

    def close(self) -> None:
        self.db.close()


def load_scan(scan: Scan, cache_file: Path) -> LoadReport:
    """Load the scanned files, parsing only those that are new or changed since the cached build."""
    cache = ParseCache(cache_file)
    try:
        return _load(scan, cache, FactsSnapshot(cache_file.with_name(SNAPSHOT_NAME)))
    finally:
        cache.close()


SNAPSHOT_NAME = "facts.pickle"  # beside the parse cache
SNAPSHOT_FORK_MIN = 2000  # files from which the snapshot is written by a forked process, while the build goes on


UNREADABLE_PICKLE = (OSError, EOFError, ValueError, TypeError, pickle.UnpicklingError, AttributeError, ImportError, IndexError)


def read_pickle(path: Path) -> Any:
    """What this package pickled under a build work dir (its caches), or None when the file is missing or unreadable:
    a lost cache costs work, never a wrong figure."""
    try:
        with path.open("rb") as fh:
            return pickle.load(fh)  # noqa: S301 - written by benchsite under the build work dir, read back only there
    except UNREADABLE_PICKLE:
        return None


def write_pickle(path: Path, value: Any) -> None:
    """Pickle value to path atomically: what read_pickle reads back."""
    with atomic_path(path) as tmp, tmp.open("xb") as fh:
        pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)


class FactsSnapshot:
    """Every file's facts (or problems) as the last build loaded them, in one pickle beside the parse cache, by path
    with the size and mtime_ns they were read at. A rebuild takes the facts of each unchanged file from it: one
    unpickling of 100,000 runs' facts, ~1 s, where a row each from SQLite and its facts made again took ~3.5 s.
    Only an entry whose stamp is the file's is used, under the same schema stamp as the parse cache; anything
    else (no snapshot, another stamp, an unreadable one) falls back to the cache's rows. A full result is never in
    it: ResultStore reads those from the parse cache, or the file itself when the cache has moved on."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> dict[str, tuple[int, int, RunFacts | None, str | None]]:
        collecting = gc.isenabled()
        gc.disable()  # unpickling makes millions of objects, none of them garbage: a collection among them is 0.5 s lost
        try:
            saved = read_pickle(self.path)
        finally:
            if collecting:
                gc.enable()
        ok = isinstance(saved, tuple) and len(saved) == 2 and saved[0] == _schema_stamp() and isinstance(saved[1], dict)
        return saved[1] if ok else {}

    def write(self, entries: dict[str, tuple[int, int, RunFacts | None, str | None]]) -> None:
        """Replace the snapshot: in a forked process when it is large (pickling 100,000 facts takes ~2 s), here
        otherwise. A process still writing when the build ends is waited for as Python exits (multiprocessing joins
        its children); one that never finished leaves the previous snapshot, whose entries are checked file by file."""
        if len(entries) >= SNAPSHOT_FORK_MIN and sys.platform.startswith("linux"):
            get_context("fork").Process(target=self._write, args=(entries,), name="benchsite facts snapshot").start()
        else:
            self._write(entries)

    def _write(self, entries: dict[str, tuple[int, int, RunFacts | None, str | None]]) -> None:
        write_pickle(self.path, (_schema_stamp(), entries))


def _load(scan: Scan, cache: ParseCache, snapshot: FactsSnapshot | None = None) -> LoadReport:
    # The facts of unchanged files come from the snapshot; the stamps and facts of every other cached file are
    # read in one query. New and changed files are parsed across processes and saved in batches as their parses
    # arrive (a cold build never holds every parse at once; it keeps their facts); then each file's facts are
    # loaded, in the scan's order.
    report = LoadReport(problems=list(scan.problems), files=scan.refused)
    held = snapshot.read() if snapshot is not None else {}
    current = {key[0] for _, _, key in scan.files if key and (e := held.get(key[0])) is not None and (e[0], e[1]) == (key[1], key[2])}
    others = [key[0] for _, _, key in scan.files if key and key[0] not in current]
    known = cache.facts_of(others) if held and len(others) <= SNAPSHOT_FORK_MIN else cache.facts() if others else {}
    misses = [key for _, _, key in scan.files if key and key[0] not in current and _stamp(known.get(key[0])) != (key[1], key[2])]
    unreadable: dict[str, list[tuple[str, str]]] = {}  # a file that could not be read may be fixed without a new mtime: never cached
    fresh: dict[str, Entry] = {}
    parts: dict[bytes, bytes] = {}
    for (path, size, mtime_ns), (entry, mine) in zip(misses, _parse_all([k[0] for k in misses]), strict=True):
        if any(m.startswith("cannot read") for _, m in entry.problems):
            unreadable[path] = entry.problems
            continue
        entry.size, entry.mtime_ns = size, mtime_ns
        fresh[path] = entry
        known[path] = (path, size, mtime_ns, entry.facts, b"".join(entry.parts), json.dumps(entry.problems) if entry.problems else None)
        parts |= mine
        if len(fresh) >= PUT_BATCH:
            cache.put(fresh, parts)
            fresh, parts = {}, {}
    cache.put(fresh, parts)
    cache.forget((set(known) | set(held)) - {key[0] for _, _, key in scan.files if key})
    store = report.store = ResultStore(cache.path)
    kept: dict[str, tuple[int, int, RunFacts | None, str | None]] = {}
    shared: dict[Any, Any] = {}
    pairs: dict[bytes, tuple[Any, Any]] = {}  # the runs of one machine share their parts' keys: split each once
    source_name = SourceNames()
    for root, path, key in scan.files:
        report.files += 1
        if key is None:
            report.problems.append(Problem(path, "<file>", "cannot read: file vanished while building"))
            continue
        if key[0] in unreadable:
            report.problems += [Problem(path, f, m) for f, m in unreadable[key[0]]]
            continue
        if key[0] in current:
            mine, problems = held[key[0]][2:]
        else:
            _, _, _, facts, keys, problems = known[key[0]]
            if facts is not None:
                if (pair := pairs.get(keys)) is None:
                    pair = pairs[keys] = tuple(store.parts[k] for k in _part_keys(keys))  # SHARED_PARTS: environment, dataset
                mine = RunFacts.load(pickle.loads(facts), *pair, shared)  # noqa: S301 - as above
            else:
                mine = None
        kept[key[0]] = (key[1], key[2], mine, problems)
        if mine is None:
            report.problems += [Problem(path, f, m) for f, m in json.loads(problems)] if problems else []
            continue
        report.results.append(LoadedResult(path, source_name(path, root), stamp=(key[1], key[2]), facts=mine, store=store, key=key[0]))
    if snapshot is not None and (len(current) != len(kept) or len(held) != len(kept)):
        snapshot.write(kept)
    return report


def load_results_cached(roots: Iterable[str | os.PathLike[str]], cache_file: Path) -> LoadReport:
    """Like load_results(), but parse only files that are new or changed since the cached build."""
    return load_scan(scan_results(roots), cache_file)
