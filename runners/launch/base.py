"""What a launcher provides: its command-line options, the configuration they make, and how it starts a run.

Launchers are registered by engine in runners.registry (built-ins, then the
``benchsite.launchers`` entry points); ``benchsite run`` offers each one's
options, and a framework's descriptor names the engine of its multi-process runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, Protocol

from runners.launch.processes import LaunchOutcome
from runners.record import RunSpec
from runners.schema import Launch


class LaunchConfig(Protocol):
    """A launcher's configuration for a suite: what it records as the runs' launch."""

    engine: str

    @property
    def launch(self) -> Launch: ...


class Launcher(Protocol):
    engine: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Add this launcher's options to ``benchsite run`` (nothing for the local launcher)."""

    def config(self, args: argparse.Namespace) -> LaunchConfig | None:
        """The configuration the parsed options ask for, or None when they ask for none; ValueError naming the option."""

    def launch(self, spec: RunSpec, config: Any, timeout_s: float, print_line: Callable[[str], None]) -> LaunchOutcome:
        """Start one run; it always ends in a result file."""


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value
