"""A toy page kind for tests/test_architecture.py: hosts.md, the hosts that ran benchmarks and how many runs each."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from generator.pages.base import Page, SiteContext, page_kind


@page_kind("hosts")
def hosts_page(site: SiteContext) -> list[Page]:
    """Render hosts.md: each host and how many of the runs it made."""
    hosts = Counter(r.result.environment.host.hostname for r in site.agg.runs)
    text = site.render("toy_page.md.j2", "hosts.md", template_dir=Path(__file__).parent, hosts=sorted(hosts.items()))
    return [Page("hosts.md", "Hosts", text)]
