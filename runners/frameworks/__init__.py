"""Framework backends, looked up by name; each is imported only inside the worker that uses it."""

from __future__ import annotations

from importlib import import_module

from runners.frameworks.base import Backend

_REGISTRY = {
    "pytorch": "runners.frameworks.pytorch:PyTorchBackend",
    "tensorflow": "runners.frameworks.tensorflow:TensorFlowBackend",
}


def list_frameworks() -> list[str]:
    """Names of the frameworks benchsite can run."""
    return sorted(_REGISTRY)


def get_backend(name: str) -> type[Backend]:
    """Import and return the backend class registered as ``name``."""
    try:
        module_name, _, attr = _REGISTRY[name].partition(":")
    except KeyError:
        raise ValueError(f"unknown framework {name!r}; known: {', '.join(list_frameworks())}") from None
    return getattr(import_module(module_name), attr)
