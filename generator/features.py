"""The feature support matrix of a model page: what the results show a model was run with."""

from __future__ import annotations

from dataclasses import dataclass

from generator.facts import FEATURES
from generator.results import LoadedResult
from runners.schema import Status


@dataclass(frozen=True)
class FeatureSupport:
    """One row of the matrix: measured (with the first run that shows it), declared by the suite, or neither."""

    name: str
    evidence: LoadedResult | None
    declared: bool

    @property
    def status(self) -> str:
        return "Yes" if self.evidence else "Declared by the suite, not yet measured" if self.declared else "Not measured"


def feature_support(runs: list[LoadedResult], suite_precisions: list[str]) -> list[FeatureSupport]:
    """Return the matrix for a model from its successful runs, newest evidence first, and the suite's training and inference precisions."""
    ok = [r for r in reversed(runs) if r.facts.status is Status.success]
    declared = {p.lower() for p in suite_precisions}
    return [
        FeatureSupport(
            f.name, next((r for r in ok if f.name in r.facts.features), None), f.precision is not None and f.precision in declared
        )
        for f in FEATURES
    ]
