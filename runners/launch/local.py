"""The local launcher: one worker subprocess per run, a wall-clock limit, and a record even when it dies."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from runners.launch.processes import LaunchOutcome, Worker, run_workers
from runners.record import RunSpec


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
    run = run_workers(spec, lambda spec_path: [Worker(command(spec_path))], timeout_s, print_line, tmp_prefix="benchsite-run-")
    return run.outcome(f"worker exited with code {run.codes[0]} without writing a result")


class LocalLauncher:
    """One worker process per run; no options."""

    engine = "local"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        return None

    def config(self, args: argparse.Namespace) -> None:
        return None

    def launch(self, spec: RunSpec, config: None, timeout_s: float, print_line: Callable[[str], None]) -> LaunchOutcome:
        return launch_local(spec, timeout_s=timeout_s, print_line=print_line, command=worker_command)


LOCAL = LocalLauncher()
