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
from runners.writing import keep_result, spool_dir

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


def _stream(pipe: IO[str], prefix: str, tail: deque[str], print_line: Callable[[str], None]) -> None:
    for line in iter(pipe.readline, ""):
        line = redact(prefix + line.rstrip("\n"))
        tail.append(line)
        print_line(line)


def _start(worker: Worker, tail: deque[str], print_line: Callable[[str], None]) -> tuple[subprocess.Popen, threading.Thread]:
    """Start the worker in its own process group and a thread that streams its output."""
    proc = subprocess.Popen(
        worker.command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **worker.env},
        start_new_session=True,
        cwd=REPO_ROOT,
    )
    reader = threading.Thread(target=_stream, args=(proc.stdout, worker.prefix, tail, print_line), daemon=True)
    reader.start()
    return proc, reader


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
    """Write ``spec`` to a file, run the workers ``workers`` makes from its path, and collect how they ended."""
    started, clock = utc_now(), time.monotonic()
    tail: deque[str] = deque(maxlen=OUTPUT_TAIL_LINES)
    with tempfile.TemporaryDirectory(prefix=tmp_prefix) as tmp:
        spec_path = Path(tmp) / "spec.json"
        spec_path.write_text(spec.model_dump_json())
        started_workers = [_start(worker, tail, print_line) for worker in workers(spec_path)]
        procs = [proc for proc, _ in started_workers]
        timed_out = _wait(procs, timeout_s)
        for _, reader in started_workers:
            reader.join(timeout=5)
        out_file = spec_path.with_name(spec_path.name + ".out")
        written = Path(out_file.read_text()) if out_file.is_file() else None
    return WorkersRun(spec, timeout_s, started, clock, written, [p.returncode for p in procs], timed_out, tail)
