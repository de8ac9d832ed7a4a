"""The performance page: training and inference tables of every model."""

from __future__ import annotations

from generator.pages.base import Page, SiteContext, page_kind, tabs


@page_kind("performance")
def performance_page(site: SiteContext) -> list[Page]:
    """Render performance.md: training and inference tables of every model, one content tab per accelerator and precision."""
    benches = site.agg.benchmarks
    titles = {b.slug: site.title(b) for b in benches}
    context = {
        "titles": titles,
        "convergence": tabs([(b, row) for b in benches for row in b.convergence]),
        "throughput": tabs([(b, row) for b in benches for row in (b.throughput or b.convergence_throughput)]),
        "inference": tabs([(b, table) for b in benches for table in b.inference]),
    }
    return [Page("performance.md", "Performance", site.render("performance.md.j2", "performance.md", **context))]
