"""JSON Feed (https://jsonfeed.org, versions 1 and 1.1) → feedparser-shaped entries.

Each item is mapped onto the keys feedparser produces (``id``, ``link``,
``title``, ``summary``, ``content``, ``author``, ``published``, ``updated``),
so the same item rules apply to both formats (`_entries.entries_to_items`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def json_feed_title(feed: Mapping[str, Any]) -> str:
    """The feed's title, or ""."""
    title = feed.get("title")
    return title if isinstance(title, str) else ""


def json_feed_entries(feed: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The feed's items as feedparser-style entry dicts (bad items skipped)."""
    items = feed.get("items")
    if not isinstance(items, list):
        return []
    return [_entry(item) for item in items if isinstance(item, Mapping)]


def _entry(item: Mapping[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": _str(item.get("id")),
        "link": _str(item.get("url")) or _str(item.get("external_url")),
        "title": _str(item.get("title")),
        "title_detail": {"type": "text/plain"},
        "published": _str(item.get("date_published")),
        "updated": _str(item.get("date_modified")),
        "author": _author(item),
    }
    html, text = _str(item.get("content_html")), _str(item.get("content_text"))
    if html or text:
        kind = "text/html" if html else "text/plain"
        entry["content"] = [{"value": html or text, "type": kind}]
    summary = _str(item.get("summary"))
    if summary:
        entry["summary"] = summary
        entry["summary_detail"] = {"type": "text/plain"}
    return entry


def _author(item: Mapping[str, Any]) -> str:
    authors = item.get("authors")
    if isinstance(authors, list) and authors and isinstance(authors[0], Mapping):
        return _str(authors[0].get("name"))
    author = item.get("author")
    return _str(author.get("name")) if isinstance(author, Mapping) else ""


def _str(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)  # ids are sometimes numbers
    return ""
