"""Modes: what is timed and how. Each takes a backend and returns what it measured as a ModeResult."""

from __future__ import annotations

from collections.abc import Callable

from runners.modes import convergence, inference, throughput
from runners.modes.base import ModeResult

ModeRunner = Callable[..., ModeResult]

_REGISTRY: dict[str, ModeRunner] = {
    "convergence": convergence.run,
    "inference": inference.run,
    "throughput": throughput.run,
}


def get_mode(name: str) -> ModeRunner:
    """Return the runner for mode ``name``."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"mode {name!r} is not implemented; available: {', '.join(sorted(_REGISTRY))}") from None
