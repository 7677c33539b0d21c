"""The README's schema section is generated from collector.schema and must stay in step."""

from __future__ import annotations

from pathlib import Path

from collector.schema import markdown_reference

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_schema_matches_code() -> None:
    text = README.read_text()
    section = text.split("<!-- schema:start -->\n", 1)[1].split("\n<!-- schema:end -->", 1)[0]
    assert section.strip() == markdown_reference().strip(), (
        "README schema is stale: paste the output of `python -m collector.schema`"
    )


def test_readme_tardis_table_matches_code() -> None:
    """The README's tardis id table is ``collector.formats.tardis.VENUES``, row for row."""
    from collector.formats.tardis import VENUES

    text = README.read_text()
    section = text.split("<!-- tardis:start -->\n", 1)[1].split("\n<!-- tardis:end -->", 1)[0]
    rows = [line.split(" | ") for line in section.splitlines()[2:]]
    assert [(r[0].strip("| `"), r[1].strip("`")) for r in rows] == [
        (tardis_id, venue.slug) for tardis_id, venue in VENUES.items()
    ]
    for row, venue in zip(rows, VENUES.values(), strict=True):
        assert f"`{venue.url}`" in row[2]
