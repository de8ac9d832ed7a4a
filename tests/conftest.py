"""Shared fixtures: paths of the committed test data."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from runners.schema import Mode, Result, iter_result_files, read_result

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def dataset_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One prepared-datasets folder shared by every runner test in the session."""
    return tmp_path_factory.mktemp("benchsite-cache")


def benchsite(*args: str) -> list[str]:
    """The command line of the real CLI in this interpreter."""
    return [sys.executable, "-m", "generator.cli", *args]


def run_cli(args: list[str], cache: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the real CLI with datasets prepared under ``cache``."""
    env = {**os.environ, "BENCHSITE_CACHE": str(cache)}
    return subprocess.run(benchsite(*args), capture_output=True, text=True, env=env, timeout=timeout)


@dataclass(frozen=True)
class TinyRun:
    proc: subprocess.CompletedProcess[str]
    results_dir: Path
    files: list[Path]
    by_mode: dict[Mode, Result]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, dataset_cache: Path) -> TinyRun:
    """One real run of the tiny suite (seconds on a CPU), shared by the runner and end-to-end tests."""
    results = tmp_path_factory.mktemp("results")
    proc = run_cli(["run", "--suite", str(data_dir / "suites" / "tiny.yaml"), "--results", str(results)], dataset_cache)
    files = list(iter_result_files(results))
    return TinyRun(proc, results, files, {read_result(p).run.mode: read_result(p) for p in files})
