"""The little reStructuredText the grade rubric uses, as HTML (no docutils needed).

The rubric lives once, in ``collector.quality.grade``'s docstring, where a reader of
the code sees it next to the thresholds; the HTML report shows the same text. It
uses four constructs only: paragraphs, a simple table (``====`` borders),
footnotes (``[1] ...`` with indented continuation lines) and inline ``literal`` and
**strong** text. Anything else comes out as a paragraph, still escaped.
"""

from __future__ import annotations

import re
from html import escape

_BORDER = re.compile(r"^=+( +=+)*$")
_FOOTNOTE = re.compile(r"^\[(\d+)\]\s+(.*)$")
_INLINE = re.compile(r"``(.+?)``|\*\*(.+?)\*\*")


def inline(text: str) -> str:
    """Escaped ``text`` with its literals as <code> and its strong words as <strong>."""
    out, pos = [], 0
    for m in _INLINE.finditer(text):
        out.append(escape(text[pos : m.start()]))
        literal, strong = m.groups()
        out.append(
            f"<code>{escape(literal)}</code>"
            if literal is not None
            else f"<strong>{escape(strong)}</strong>"
        )
        pos = m.end()
    out.append(escape(text[pos:]))
    return "".join(out)


def _table(lines: list[str]) -> str:
    """A simple table: borders of ``=`` runs set the columns; the rows between the
    first two borders are the header."""
    starts = [m.start() for m in re.finditer(r"=+", lines[0])]
    bounds = [*starts[1:], None]
    head: list[list[str]] = []
    body: list[list[str]] = []
    borders = 0
    for line in lines:
        if _BORDER.match(line):
            borders += 1
            continue
        cells = [line[a:b].strip() for a, b in zip(starts, bounds, strict=True)]
        (head if borders == 1 else body).append(cells)

    def row(cells: list[str], tag: str) -> str:
        return "<tr>" + "".join(f"<{tag}>{inline(c)}</{tag}>" for c in cells) + "</tr>"

    return (
        "<table><thead>"
        + "".join(row(r, "th") for r in head)
        + "</thead><tbody>"
        + "".join(row(r, "td") for r in body)
        + "</tbody></table>"
    )


def _footnotes(lines: list[str]) -> str:
    items: list[tuple[str, list[str]]] = []
    for line in lines:
        m = _FOOTNOTE.match(line)
        if m:
            items.append((m[1], [m[2]]))
        else:
            items[-1][1].append(line.strip())
    return (
        "<dl>"
        + "".join(f"<dt>[{n}]</dt><dd>{inline(' '.join(text))}</dd>" for n, text in items)
        + "</dl>"
    )


def to_html(text: str) -> str:
    """HTML for ``text`` (a dedented docstring), block by block."""
    blocks: list[list[str]] = [[]]
    for line in text.strip().splitlines():
        if line.strip():
            blocks[-1].append(line.rstrip())
        elif blocks[-1]:
            blocks.append([])
    html = []
    for block in filter(None, blocks):
        if _BORDER.match(block[0]):
            html.append(_table(block))
        elif _FOOTNOTE.match(block[0]):
            html.append(_footnotes(block))
        else:
            html.append(f"<p>{inline(' '.join(line.strip() for line in block))}</p>")
    return "\n".join(html)
