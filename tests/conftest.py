"""Shared fixtures: paths of the committed test data."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

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
