"""Write result files atomically under unique names: two runners never clobber each other."""

from __future__ import annotations

import os
import re
import secrets
import sys
import tempfile
from pathlib import Path

from runners.schema import Result, dump_result_yaml, read_result_bytes, write_atomic

SPOOL_DIR = "spool"
LOG_DIR = "logs"
PROBE_BYTES = 4096


def result_filename(result: Result) -> str:
    """``<run id>.yaml``; the run id already carries a time stamp and random suffix."""
    return f"{result.run.id}.yaml"


def new_run_id(benchmark: str, mode: str, framework: str, precision: str, when_utc) -> str:
    """A run id that sorts by time and is unique across machines (random suffix)."""
    stamp = when_utc.strftime("%Y%m%dT%H%M%SZ")
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{benchmark}-{mode}-{framework}-{precision}")
    return f"{stamp}-{slug}-{secrets.token_hex(4)}"


def result_dir(root: str | os.PathLike[str], result: Result) -> Path:
    """``root/YYYY/MM/DD``, by the run's start date (UTC)."""
    started = result.run.started_utc
    return Path(root) / f"{started:%Y}" / f"{started:%m}" / f"{started:%d}"


def write_result(result: Result, root: str | os.PathLike[str]) -> Path:
    """Write ``result`` under ``root`` atomically; never replace an existing file.

    The YAML is written to a temporary file in the target folder, fsynced,
    read back through the same validation the generator uses, and then
    hard-linked to its final name: ``link`` fails instead of overwriting, so a
    name collision raises FileExistsError rather than losing a result.
    """
    text = dump_result_yaml(result).encode("utf-8")
    final = result_dir(root, result) / result_filename(result)
    read_result_bytes(text, final)
    return write_atomic(final, text, overwrite=False, fsync=True)


def spool_dir(cache_dir: str | os.PathLike[str]) -> Path:
    """Where records go when the results folder cannot take them: ``<cache>/spool``, laid out like results/."""
    return Path(cache_dir).resolve() / SPOOL_DIR


def keep_result(result: Result, root: str | os.PathLike[str], spool: Path) -> Path:
    """Write ``result`` under ``root``; when that fails (a full or read-only disk), under ``spool``, saying so in one line.

    If the spool cannot take it either, the record is printed to stderr as YAML
    (so the measurement survives in the log) and the OSError propagates.
    """
    try:
        return write_result(result, root)
    except OSError as exc:
        why = exc.strerror or str(exc)
    try:
        path = write_result(result, spool)
    except OSError as exc:
        sys.stderr.write(dump_result_yaml(result))
        print(
            f"[{result.run.id}] cannot write its result into {root} ({why}) nor {spool} ({exc.strerror or exc}); the record is above",
            file=sys.stderr,
            flush=True,
        )
        raise
    print(f"[{result.run.id}] cannot write into {root} ({why}); the record is kept in {path}", flush=True)  # progress: on the console
    return path


def check_writable(folder: str | os.PathLike[str]) -> None:
    """Raise OSError unless a file can be created, written, synced and removed in ``folder``.

    A folder that does not exist yet is checked at its nearest existing parent,
    where it would be created; nothing is left behind either way.
    """
    folder = Path(folder).absolute()
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    if not existing.is_dir():
        raise NotADirectoryError(20, "Not a directory", str(existing))
    fd, name = tempfile.mkstemp(prefix=".benchsite-probe-", dir=existing)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(b"\0" * PROBE_BYTES)
            handle.flush()
            os.fsync(handle.fileno())
    finally:
        os.unlink(name)


def run_log_path(cache_dir: str | os.PathLike[str], run_id: str, started_utc) -> Path:
    """Where a run's full output goes: ``<cache>/logs/YYYY/MM/DD/<run id>.log``."""
    return Path(cache_dir).resolve() / LOG_DIR / f"{started_utc:%Y}" / f"{started_utc:%m}" / f"{started_utc:%d}" / f"{run_id}.log"


def recorded_path(path: str | os.PathLike[str]) -> str:
    """Name a local file in a result without the home folder's name: '~/.cache/benchsite/logs/...' (files are published)."""
    path = Path(path)
    try:
        return f"~/{path.relative_to(Path.home()).as_posix()}"
    except (ValueError, RuntimeError):  # outside the home folder, or no home folder to name
        return path.as_posix()
