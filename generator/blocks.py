"""Raw HTML blocks set aside from the Markdown that mkdocs parses, and put back into the pages it writes.

A generated page is mostly HTML (tables, figures, notes) between a few Markdown headings and admonitions.
Python-Markdown passes a raw HTML block through unchanged, but only after its HTML parser has read every tag,
and Material's search plugin reads every tag of every page again: at 1,000 results (260 pages, 4 MB of
Markdown) that was 14.4 s of the mkdocs build's 31 s in Markdown and 8.9 s in the search index. So each
top-level HTML block of a page (a paragraph, as Markdown splits them, that opens with a block-level tag and
closes it) is replaced by a comment naming a hash of it, kept in ``blocks/<page>.json`` beside the docs
folder, and ``on_post_page`` (an mkdocs hook, see ``build.write_config``) puts it back into the written page.
The pages come out byte for byte as before; the search index holds each page's headings, admonitions and
prose, not the cells of its tables.

A placeholder names its block's hash, so a page whose blocks change has new Markdown too, and mkdocs' dirty
build renders it again.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

FOLDER = "blocks"  # beside the docs folder, so mkdocs never copies it into the site
MARK = "<!--benchsite-block:"  # a placeholder is MARK + the block's hash + "-->"
PLACEHOLDER = re.compile(re.escape(MARK) + r"([0-9a-f]{32})-->")
_TAB_INDENT = "    "  # a block inside a content tab (pymdownx.tabbed) is indented by four spaces
BLOCK_TAGS = ("table", "figure", "div", "p", "ul", "ol", "pre", "dl", "details", "section", "nav", "form", "blockquote")
_PARAGRAPHS = re.compile(r"(\n[ \t]*\n)")
_OPENS = re.compile(r"<(" + "|".join(BLOCK_TAGS) + r")[\s>]")


def set_aside(markdown: str) -> tuple[str, dict[str, str]]:
    """Return the page's Markdown with each HTML block replaced by a placeholder, and the blocks by hash.

    A block is a paragraph (text between blank lines) that opens with a block-level tag at its start and ends
    with its closing tag, at the top level or, indented by four spaces, inside a content tab (where
    Python-Markdown would wrap HTML in a paragraph; the placeholder, a comment, comes out on its own)."""
    blocks: dict[str, str] = {}
    parts = _PARAGRAPHS.split(markdown)
    fenced = False  # inside a fenced code block, HTML is text to show
    in_tab = False  # inside a content tab (=== "label"); elsewhere an indented paragraph is a code block
    for i in range(0, len(parts), 2):  # the odd parts are the blank lines between paragraphs
        para = parts[i]
        fences = sum(1 for line in para.splitlines() if line.lstrip().startswith(("```", "~~~")))
        was_fenced, fenced = fenced, fenced != (fences % 2 == 1)
        if was_fenced or fences:
            continue
        body = para.lstrip("\n")  # more than one blank line: the rest stay in front of the paragraph
        block = body.rstrip()
        lines = block.split("\n")
        if body and not body.startswith(" "):
            in_tab = body.startswith("=== ")
        indent = _TAB_INDENT if in_tab and all(line.startswith(_TAB_INDENT) for line in lines) else ""
        if indent:
            block = "\n".join(line[len(indent) :] for line in lines)
        opened = _OPENS.match(block)
        if opened is None or not block.endswith(f"</{opened.group(1)}>"):
            continue
        key = hashlib.blake2b(block.encode(), digest_size=16).hexdigest()
        blocks[key] = block
        parts[i] = f"{para[: len(para) - len(body)]}{indent}{MARK}{key}-->{body[len(body.rstrip()) :]}"
    return "".join(parts), blocks


def blocks_name(page: str) -> str:
    """A page's blocks file, relative to the blocks folder: <page path>.json."""
    return f"{page}.json"


def blocks_file(work_dir: Path, page: str) -> Path:
    """Where a page's blocks are kept: <work dir>/blocks/<page path>.json."""
    return work_dir / FOLDER / blocks_name(page)


def encode(blocks: dict[str, str]) -> bytes:
    return json.dumps(blocks, sort_keys=True, ensure_ascii=False).encode()


def restore(text: str, blocks: dict[str, str]) -> str:
    """Put the blocks back in place of their placeholders."""
    return PLACEHOLDER.sub(lambda m: blocks[m.group(1)], text)


def read_page(work_dir: Path, page: str) -> str:
    """A page's Markdown as the generator wrote it, its HTML blocks back in place (to read a page before mkdocs)."""
    markdown = (work_dir / "docs" / page).read_text(encoding="utf-8")
    path = blocks_file(work_dir, page)
    return restore(markdown, json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {})


def on_post_page(output: str, page: Any, config: Any, **_: Any) -> str:
    """mkdocs hook: put a page's HTML blocks back in place of their placeholders."""
    if MARK not in output:
        return output
    from mkdocs.exceptions import PluginError

    path = blocks_file(Path(config.config_file_path).parent, page.file.src_uri)
    try:
        blocks = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PluginError(f"{path}: cannot read the page's HTML blocks ({exc.__class__.__name__}); run benchsite build again") from None
    return restore(output, blocks)
