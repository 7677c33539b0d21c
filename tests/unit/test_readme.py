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
