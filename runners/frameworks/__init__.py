"""Framework backends, looked up by name in runners.registry; each is imported only inside the worker that uses it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from runners.registry import framework_names, get_framework

if TYPE_CHECKING:
    from runners.frameworks.base import Backend


def list_frameworks() -> list[str]:
    """Names of the frameworks benchsite can run."""
    return sorted(framework_names())


def get_backend(name: str) -> type[Backend]:
    """Import and return the backend class registered as ``name``."""
    return get_framework(name).load_backend()
