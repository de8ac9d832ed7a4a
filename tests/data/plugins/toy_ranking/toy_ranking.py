"""A toy ranking for tests/test_architecture.py: models by how many result files they have, most first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from generator.pages.base import SiteContext, ranking


@ranking("result-files", "Toy: result files per model", "toy_ranking.md.j2", Path(__file__).parent)
def files_per_model(site: SiteContext) -> dict[str, Any]:
    """Rank the models by their number of result files, most first."""
    return {"counts": sorted(((len(b.runs), b.slug) for b in site.agg.benchmarks), key=lambda c: (-c[0], c[1]))}
