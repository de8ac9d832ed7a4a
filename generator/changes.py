"""What differs between the run before a change point and the run after it: the lines a regression lists.

Package versions (the framework, CUDA, cuDNN, NCCL and the rest the runner
recorded), driver and its CUDA, power limit, dataset release, Python, the host,
the benchsite commit and the suite configuration: each one that differs becomes
one "name before → after" line, the framework's packages first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from generator.facts import driver_version, power_limit
from generator.formats import package_version
from runners.schema import Result

FIRST = ("torch", "torchvision", "timm", "tensorflow", "keras", "cuda", "cudnn", "nccl")  # listed first, in this order
NOT_RECORDED = "not recorded"


@dataclass(frozen=True)
class Change:
    what: str
    before: str
    after: str

    def __str__(self) -> str:
        return f"{self.what} {self.before} → {self.after}"


def _short(text: str | None, length: int = 12) -> str:
    return text[:length] if text else NOT_RECORDED


FACTS: tuple[tuple[str, Callable[[Result], str]], ...] = (
    ("GPU driver", lambda r: driver_version(r) or NOT_RECORDED),
    ("driver's CUDA", lambda r: " + ".join(sorted({d.cuda_version or NOT_RECORDED for d in r.environment.accelerators.devices}))),
    ("power limit (W)", lambda r: power_limit(r) or NOT_RECORDED),
    ("dataset release", lambda r: f"{r.dataset.name} {r.dataset.version}"),
    ("Python", lambda r: r.environment.python_version),
    ("host", lambda r: r.environment.host.hostname),
    ("benchsite commit", lambda r: _short(r.provenance.git_commit)),
    ("suite config", lambda r: _short(r.provenance.config_hash.removeprefix("sha256:"))),
)


def _package_order(name: str) -> tuple[int, str]:
    return (FIRST.index(name), "") if name in FIRST else (len(FIRST), name)


def what_changed(before: Result, after: Result) -> list[Change]:
    """Every recorded fact that differs between ``before`` and ``after``, packages first."""
    old, new = ({name: package_version(name, v) for name, v in r.environment.packages.items()} for r in (before, after))
    changes = [
        Change(name, old.get(name, NOT_RECORDED), new.get(name, NOT_RECORDED))
        for name in sorted(old.keys() | new.keys(), key=_package_order)
        if old.get(name) != new.get(name)
    ]
    versions = (before.run.framework_version, after.run.framework_version)
    if versions[0] != versions[1] and not any((c.before, c.after) == versions for c in changes):
        changes.insert(0, Change(after.run.framework, *versions))
    for what, read in FACTS:
        if (was := read(before)) != (now := read(after)):
            changes.append(Change(what, was, now))
    return changes
