"""The leaderboard page: the top-N boards of every task (generator.leaderboard builds them)."""

from __future__ import annotations

from generator.leaderboard import leaderboards
from generator.pages.base import Page, SiteContext, page_kind


@page_kind("leaderboard")
def leaderboard_page(site: SiteContext) -> list[Page]:
    """Render leaderboard.md: the top-N boards of every task."""
    context = {
        "tasks": leaderboards(site.agg, site.settings),
        "settings": site.settings,
        "generated_utc": site.generated_utc,
        "latest_utc": site.agg.latest_utc,
        "titles": {b.slug: site.title(b) for b in site.agg.benchmarks},
    }
    return [Page("leaderboard.md", "Leaderboard", site.render("leaderboard.md.j2", "leaderboard.md", **context))]
