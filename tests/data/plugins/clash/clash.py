"""A page kind for tests/test_architecture.py whose name a built-in kind has."""

from __future__ import annotations

from generator.pages.base import Page, SiteContext, page_kind


@page_kind("home")
def second_home(site: SiteContext) -> list[Page]:
    """Render nothing: the build refuses this kind before it renders."""
    return []
