"""Extensions from other installed packages: what they list under the entry-point groups benchsite.pages and benchsite.rankings."""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import sys
from importlib.metadata import EntryPoint, EntryPoints, entry_points
from typing import Any

from generator.errors import BuildError

GROUPS = ("benchsite.pages", "benchsite.rankings")


@functools.lru_cache(maxsize=4)
def _installed(path: tuple[str, ...]) -> EntryPoints:
    """Every entry point of the distributions on this import path: reading them means reading every installed
    package's metadata (~30 ms with torch and TensorFlow installed), and a build asks ~16 times."""
    return entry_points()


def _listed(group: str) -> list[EntryPoint]:
    return sorted(_installed(tuple(sys.path)).select(group=group), key=lambda ep: (ep.name, ep.value))


def extensions(group: str, kind: type) -> list[Any]:
    """Load the objects listed under an entry-point group, by entry-point name; BuildError names a bad one."""
    found = []
    for ep in _listed(group):
        try:
            obj = ep.load()
        except (ImportError, AttributeError) as exc:
            raise BuildError(f"entry point {group}: {ep.name} = {ep.value}: {type(exc).__name__}: {exc}") from None
        if not isinstance(obj, kind):
            raise BuildError(f"entry point {group}: {ep.name} = {ep.value}: is a {type(obj).__name__}, not a {kind.__name__}")
        found.append(obj)
    return found


def with_extensions(built_in: tuple[Any, ...], group: str, name: str) -> tuple[Any, ...]:
    """The built-in entries, then the extensions of a group; BuildError when two share a name (attribute ``name``)."""
    entries = (*built_in, *extensions(group, type(built_in[0])))
    seen: set[str] = set()
    for entry in entries:
        if getattr(entry, name) in seen:
            raise BuildError(f"entry point {group}: the {name} {getattr(entry, name)!r} is taken")
        seen.add(getattr(entry, name))
    return entries


def fingerprint() -> bytes:
    """Identify the extensions without importing them: each entry point and its module's source, for the build's stamps."""
    digest = hashlib.sha256()
    for group in GROUPS:
        for ep in _listed(group):
            digest.update(f"{group}|{ep.name}|{ep.value}\n".encode())
            spec = importlib.util.find_spec(ep.module) if "." not in ep.module else None
            if spec and spec.origin and spec.has_location:
                with open(spec.origin, "rb") as fh:
                    digest.update(fh.read())
    return digest.digest()
