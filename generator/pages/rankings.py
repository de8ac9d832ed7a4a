"""The rankings pages: one page under rankings/ per ranking, in the order of RANKINGS, then the extensions'."""

from __future__ import annotations

from generator.pages.base import Page, Ranking, SiteContext, page_kind
from generator.plugins import with_extensions
from generator.rankings.devices import devices_ranking
from generator.rankings.inference import inference_ranking
from generator.rankings.time_to_quality import time_to_quality_ranking
from generator.rankings.valid_flops import valid_flops_ranking

# The rankings in the order of the nav; those of other packages (entry points in "benchsite.rankings") follow.
RANKINGS: tuple[Ranking, ...] = (
    time_to_quality_ranking,
    inference_ranking,
    valid_flops_ranking,
    devices_ranking,
)


def rankings() -> tuple[Ranking, ...]:
    """Every ranking in page order: the built-in ones, then the extensions'."""
    return with_extensions(RANKINGS, "benchsite.rankings", "slug")


@page_kind("rankings")
def ranking_pages(site: SiteContext) -> list[Page]:
    """Render rankings/<slug>.md for every ranking: its template with its context and the benchmarks' titles."""
    titles = {b.slug: site.title(b) for b in site.agg.benchmarks}
    pages = []
    for r in rankings():
        path = f"rankings/{r.slug}.md"
        pages.append(Page(path, r.title, site.render(r.template, path, template_dir=r.template_dir, titles=titles, **r.context(site))))
    return pages
