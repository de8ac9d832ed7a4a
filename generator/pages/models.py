"""The model pages (a model README each): what the suite defines, every setup measured, its charts."""

from __future__ import annotations

from generator.aggregate import BenchmarkAggregate
from generator.charts import group_label
from generator.features import feature_support
from generator.pages.base import Page, SiteContext, page_kind, suite_benchmark, tabs
from generator.pages.templates import safe_title


def precisions_measured(bench: BenchmarkAggregate) -> dict[str, list[str]]:
    """The precisions a model's successful runs contain, per kind of run ('training', 'inference')."""
    found: dict[str, set[str]] = {}
    for row in [*bench.convergence, *bench.throughput]:
        found.setdefault("training", set()).add(row.setup.precision)
    for table in bench.inference:
        found.setdefault("inference", set()).add(table.setup.precision)
    return {kind: sorted(names) for kind, names in found.items()}


@page_kind("models")
def model_pages(site: SiteContext) -> list[Page]:
    """Render models/<benchmark>.md for every benchmark."""
    pages = []
    for bench in site.agg.benchmarks:
        path, title = f"models/{bench.slug}.md", site.title(bench)
        spec = suite_benchmark(bench)
        context = {
            "bench": bench,
            "spec": spec,
            "title": title,
            "charts": site.charts[bench.slug],
            "features": feature_support(bench.runs, [*spec.precisions, *(spec.inference_precisions or [])] if spec else []),
            "precisions": precisions_measured(bench),
            "training_tabs": tabs(bench.throughput or bench.convergence_throughput, key=lambda row: group_label(row.setup.comparable)),
        }
        pages.append(Page(path, safe_title(title), site.render("model.md.j2", path, **context)))
    return pages
