"""The local launcher: one worker subprocess per run, a wall-clock limit, and a record even when it dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from runners.record import RunSpec, assemble, capture_environment, planned_dataset
from runners.schema import Status, read_result, utc_now
from runners.telemetry.nvml import accelerator_facts
from runners.writing import write_result

OUTPUT_TAIL_LINES = 30


@dataclass(frozen=True)
class LaunchOutcome:
    status: Status
    path: Path
    seconds: float


def _stream(pipe, tail: deque[str], print_line: Callable[[str], None]) -> None:
    for line in iter(pipe.readline, ""):
        line = line.rstrip("\n")
        tail.append(line)
        print_line(line)


def worker_command(spec_path: Path) -> list[str]:
    """The command that runs one spec in a fresh interpreter: the suite's python for its framework, else this one."""
    spec = RunSpec.model_validate_json(spec_path.read_text())
    python = spec.benchmark.python.get(spec.framework) or sys.executable
    if not os.access(python, os.X_OK):  # fails at once; the launcher's failure record then says why
        return [sys.executable, "-c", "import sys; sys.exit(sys.argv[1])", f"python for {spec.framework} is not an executable: {python}"]
    return [python, "-m", "runners.worker", str(spec_path)]


def launch_local(
    spec: RunSpec,
    timeout_s: float,
    print_line: Callable[[str], None] = print,
    command: Callable[[Path], list[str]] = worker_command,
) -> LaunchOutcome:
    """Run ``spec`` in a subprocess (``command`` builds its command line, torchrun's for several processes).

    If it dies or times out without a result, write one for it.
    """
    started = utc_now()
    clock = time.monotonic()
    tail: deque[str] = deque(maxlen=OUTPUT_TAIL_LINES)
    with tempfile.TemporaryDirectory(prefix="benchsite-run-") as tmp:
        spec_path = Path(tmp) / "spec.json"
        spec_path.write_text(spec.model_dump_json())
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen(
            command(spec_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            start_new_session=True,
            cwd=Path(__file__).resolve().parents[2],
        )
        reader = threading.Thread(target=_stream, args=(proc.stdout, tail, print_line), daemon=True)
        reader.start()
        timed_out = False
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        reader.join(timeout=5)
        out_file = spec_path.with_name(spec_path.name + ".out")
        if out_file.is_file():
            path = Path(out_file.read_text())
            return LaunchOutcome(read_result(path).run.status, path, time.monotonic() - clock)
    if timed_out:
        status, why = Status.timeout, f"run exceeded its wall-clock limit of {timeout_s:g}s and was killed"
    else:
        status, why = Status.failed, f"worker exited with code {proc.returncode} without writing a result"
    error = why + "\n--- last lines ---\n" + "\n".join(tail)
    result = assemble(
        spec,
        status=status,
        error=error,
        started=started,
        finished=utc_now(),
        environment=capture_environment(spec, spec.device, accelerator_facts()),
        dataset=planned_dataset(spec),
    )
    return LaunchOutcome(status, write_result(result, spec.results_dir), time.monotonic() - clock)
