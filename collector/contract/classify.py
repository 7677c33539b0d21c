"""Small helpers the venue classifiers share."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit


def rest_path(url: str) -> str:
    """``https://host/a/b?x=1`` -> ``/a/b`` (REST bodies are classified by endpoint)."""
    return urlsplit(url).path


def shape_name(value: Any) -> str:
    """A readable type name for a frame no rule of a classifier recognised."""
    if isinstance(value, dict):
        return "object{" + ",".join(sorted(value)[:6]) + "}"
    if isinstance(value, list):
        return f"array[{len(value)}]"
    if isinstance(value, str):
        return f"text:{value[:20]}"
    return type(value).__name__
