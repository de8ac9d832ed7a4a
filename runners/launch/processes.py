"""The worker processes of one run: start them, stream their output, enforce the wall-clock limit, record a death.

Every launcher (local, torchrun, tf.distribute) runs its workers through
``run_workers``; the ``WorkersRun`` it returns turns into the result the
workers wrote, or into a ``timeout``/``failed`` record written for them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO

from runners.datasets import default_cache_dir
from runners.environment import redact
from runners.record import RunSpec, assemble, capture_environment, planned_dataset
from runners.schema import Status, read_result, utc_now
from runners.telemetry.nvml import accelerator_facts
from runners.writing import keep_result, run_log_path, spool_dir

OUTPUT_TAIL_LINES = 30
FAILURE_GRACE_S = 15.0  # after one worker fails, the others wait on collectives forever: stop them
POLL_S = 0.2
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class LaunchOutcome:
    status: Status
    path: Path
    seconds: float
    spooled: bool = False  # the results folder could not take the record; it is in the spool


@dataclass(frozen=True)
class Worker:
    """One process of a run: its command line, what it adds to the environment, and the prefix of its output lines."""

    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    prefix: str = ""


@dataclass(frozen=True)
class WorkersRun:
    """How the workers of one run ended: the result file they wrote, or their exit codes and last lines."""

    spec: RunSpec
    timeout_s: float
    started: datetime
    clock: float
    written: Path | None
    codes: list[int]
    timed_out: bool
    tail: deque[str]

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.clock

    def outcome(self, why_failed: str) -> LaunchOutcome:
        """Return the written result, else write a timeout record or a failed one saying ``why_failed``."""
        results_dir = self.spec.results_dir
        if self.written is not None:
            return LaunchOutcome(
                read_result(self.written).run.status, self.written, self.seconds, not self.written.is_relative_to(results_dir)
            )
        if self.timed_out:
            status, why = Status.timeout, f"run exceeded its wall-clock limit of {self.timeout_s:g}s and was killed"
        else:
            status, why = Status.failed, why_failed
        result = assemble(
            self.spec,
            status=status,
            error=why + "\n--- last lines ---\n" + "\n".join(self.tail),
            started=self.started,
            finished=utc_now(),
            environment=capture_environment(self.spec, self.spec.device, accelerator_facts()),
            dataset=planned_dataset(self.spec),
        )
        path = keep_result(result, results_dir, spool_dir(self.spec.cache_dir or default_cache_dir()))
        return LaunchOutcome(status, path, self.seconds, not path.is_relative_to(results_dir))


class RunLog:
    """Every line of a run's workers, in the run's log file; what reaches the console is chosen per stream."""

    def __init__(self, path: Path | None, tail: deque[str], print_line: Callable[[str], None], verbose: bool) -> None:
        self.tail, self.print_line, self.verbose = tail, print_line, verbose
        self.lock = threading.Lock()
        self.file = None
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                self.file = path.open("a", encoding="utf-8", errors="replace")
            except OSError:  # no log file: nothing is hidden then, every line goes to the console
                self.verbose = True

    def add(self, line: str, progress: bool) -> None:
        """Keep ``line`` in the tail and the log file; print it if it is progress (stdout) or the run is verbose."""
        with self.lock:  # one writer at a time: print() writes the line and its newline apart, so two workers' lines could merge
            self.tail.append(line)
            if self.file is not None:
                with contextlib.suppress(OSError):
                    self.file.write(line + "\n")
                    self.file.flush()
            if progress or self.verbose:
                self.print_line(line)

    def close(self) -> None:
        if self.file is not None:
            with contextlib.suppress(OSError):
                self.file.close()


def _stream(pipe: IO[str], prefix: str, log: RunLog, progress: bool) -> None:
    for line in iter(pipe.readline, ""):
        log.add(redact(prefix + line.rstrip("\n")), progress)


def _start(worker: Worker, log: RunLog) -> tuple[subprocess.Popen, list[threading.Thread]]:
    """Start the worker in its own process group and threads that stream its output: stdout is progress, stderr chatter."""
    proc = subprocess.Popen(
        worker.command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **worker.env},
        start_new_session=True,
        cwd=REPO_ROOT,
    )
    readers = [
        threading.Thread(target=_stream, args=(proc.stdout, worker.prefix, log, True), daemon=True),
        threading.Thread(target=_stream, args=(proc.stderr, worker.prefix, log, False), daemon=True),
    ]
    for reader in readers:
        reader.start()
    return proc, readers


def _wait(procs: list[subprocess.Popen], timeout_s: float) -> bool:
    """Wait for every process; kill all on the deadline or soon after one fails. True when the deadline passed."""
    deadline = time.monotonic() + timeout_s
    failed_at: float | None = None
    while running := [p for p in procs if p.poll() is None]:
        now = time.monotonic()
        if failed_at is None and any(p.returncode not in (None, 0) for p in procs):
            failed_at = now
        if now >= deadline or (failed_at is not None and now - failed_at > FAILURE_GRACE_S):
            for proc in procs:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            return now >= deadline
        with contextlib.suppress(subprocess.TimeoutExpired):
            running[0].wait(timeout=min(POLL_S, deadline - now))
    return False


def run_workers(
    spec: RunSpec,
    workers: Callable[[Path], list[Worker]],
    timeout_s: float,
    print_line: Callable[[str], None] = print,
    tmp_prefix: str = "benchsite-run-",
) -> WorkersRun:
    """Write ``spec`` to a file, run the workers ``workers`` makes from its path, and collect how they ended.

    Their output goes to the run's log file (named in its record); the console
    gets their stdout (benchsite's progress), and their stderr too when verbose.
    """
    started, clock = utc_now(), time.monotonic()
    tail: deque[str] = deque(maxlen=OUTPUT_TAIL_LINES)
    spec = spec.model_copy(update={"log_path": run_log_path(spec.cache_dir or default_cache_dir(), spec.run_id, started)})
    log = RunLog(spec.log_path, tail, print_line, spec.verbose)
    if log.file is None:
        spec = spec.model_copy(update={"log_path": None})
    with tempfile.TemporaryDirectory(prefix=tmp_prefix) as tmp:
        spec_path = Path(tmp) / "spec.json"
        spec_path.write_text(spec.model_dump_json())
        started_workers = [_start(worker, log) for worker in workers(spec_path)]
        procs = [proc for proc, _ in started_workers]
        timed_out = _wait(procs, timeout_s)
        for _, readers in started_workers:
            for reader in readers:
                reader.join(timeout=5)
        log.close()
        out_file = spec_path.with_name(spec_path.name + ".out")
        written = Path(out_file.read_text()) if out_file.is_file() else None
    return WorkersRun(spec, timeout_s, started, clock, written, [p.returncode for p in procs], timed_out, tail)
