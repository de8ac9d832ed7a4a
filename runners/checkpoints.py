"""Where a convergence run keeps its checkpoint and trained weights, so --resume and INT8 runs can find them."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from runners.datasets import default_cache_dir
from runners.record import RunSpec
from runners.suites import config_hash


def _key(spec: RunSpec, **override: Any) -> str:
    config = spec.resolved_config() | override
    return f"{spec.benchmark.name}-{spec.framework}-{config['precision']}-{config_hash(config)[7:19]}"


def checkpoint_dir(spec: RunSpec) -> Path:
    """The checkpoint folder of this exact configuration (same config hash => same folder)."""
    return (spec.cache_dir or default_cache_dir()) / "checkpoints" / _key(spec)


def weights_dir(spec: RunSpec) -> Path:
    """Where a successful fp32 convergence run of this benchmark leaves its trained weights."""
    return (spec.cache_dir or default_cache_dir()) / "weights" / f"{spec.suite}-{spec.benchmark.name}-{spec.framework}"


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write JSON to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle)
    os.replace(tmp, path)


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON at ``path``, or None when there is none."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
