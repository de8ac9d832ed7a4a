"""Reading a built site in tests: a page's text, a section under a heading, a table's body rows."""

import re
from pathlib import Path

DATA = Path(__file__).parent / "data"
ROOTS = [DATA / "valid", DATA / "site", DATA / "ranked", DATA / "history"]  # what the ranked_site fixture builds


def page(site: Path, name: str) -> str:
    return (site / name).read_text(encoding="utf-8")


def section(html: str, heading_id: str) -> str:
    start = html.index(f'id="{heading_id}"')
    end = html.find("<h2", start)
    return html[start : end if end > 0 else None]


def body_rows(html: str) -> list[list[str]]:
    """Cells (tags stripped) of every body row of the first table in html."""
    table = html[html.index("<tbody>") : html.index("</tbody>")]
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)] for row in table.split("<tr")[1:]]
