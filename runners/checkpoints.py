"""Where a convergence run keeps its checkpoint and trained weights, so --resume and INT8 runs can find them."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runners import testhooks
from runners.datasets import default_cache_dir
from runners.record import RunSpec
from runners.schema import write_atomic
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


UNIT_PREFIX = "epoch-"


def save_checkpoint_unit(folder: Path, state: dict[str, Any], write_weights: Callable[[Path], None]) -> Path:
    """Write one checkpoint as one unit: weights and ``state.json`` into a temporary folder, then renamed into place.

    ``write_weights`` writes the framework's files into the folder it is given.
    A kill at any point leaves the previous complete unit, or the new one: never
    one epoch's weights beside another epoch's clock.
    """
    folder.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder))
    try:
        write_weights(tmp)
        testhooks.kill_between_checkpoint_writes(state["epoch"])
        (tmp / "state.json").write_text(json.dumps(state))
        final = folder / f"{UNIT_PREFIX}{state['epoch']:06d}"
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for old in folder.glob(f"{UNIT_PREFIX}*"):
        if old != final:
            shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(folder: Path) -> tuple[Path, dict[str, Any]] | None:
    """The newest complete checkpoint unit under ``folder`` and its state, or None."""
    units = sorted(p for p in folder.glob(f"{UNIT_PREFIX}*") if (p / "state.json").is_file())
    return (units[-1], json.loads((units[-1] / "state.json").read_text())) if units else None


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write JSON to ``path`` through a temporary file and a rename."""
    write_atomic(path, json.dumps(data))


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON at ``path``, or None when there is none."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
