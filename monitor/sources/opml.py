"""OPML subscription lists: lenient import (listparser) and OPML 2.0 export.

Import reads what Feedly, Inoreader, Flym, AntennaPod and hand-edited files
produce, malformed ones included (unescaped quotes, undefined entities, missing
titles or versions): listparser parses leniently.  Folder nesting and
``category`` attributes become `OpmlFeed.tags`.  ``type="include"`` outlines
(links to other lists) are not followed.

Export writes every configured source as an ``<outline type="rss">`` with its
``xmlUrl``, outlet as ``text``/``title``, tags as ``category`` and the source
kind as ``monitor:kind`` when it is not a feed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from xml.etree import ElementTree

import listparser

from ..exceptions import FeedError
from ..models import FeedSpec
from . import _clean_title

MAX_OPML_BYTES = 10_000_000
MONITOR_NS = "https://example.org/monitor/opml"


@dataclass(frozen=True, slots=True, kw_only=True)
class OpmlFeed:
    """One subscription of an OPML file."""

    url: str
    title: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class OpmlList:
    """What an OPML file holds."""

    title: str
    feeds: tuple[OpmlFeed, ...]
    warning: str | None = None  # the file was malformed and read leniently


def parse_opml(body: bytes) -> OpmlList:
    """Read an OPML subscription list, leniently.

    Raises:
        FeedError: too large, or not an OPML list at all (no feeds, no lists).
    """
    if len(body) > MAX_OPML_BYTES:
        raise FeedError(f"OPML file too large: {len(body)} bytes")
    result = listparser.parse(body)
    feeds = []
    for entry in result.get("feeds", []):
        url = str(entry.get("url") or "").strip()
        if not url.startswith(("http://", "https://")):
            continue
        tags = [p for path in entry.get("categories", []) for p in path]
        tags += list(entry.get("tags", []))
        feeds.append(
            OpmlFeed(
                url=url,
                title=_clean_title(entry.get("title")),
                tags=tuple(dict.fromkeys(t.strip() for t in tags if t.strip())),
            )
        )
    if not feeds and not result.get("lists") and not result.get("version"):
        problem = result.get("bozo_exception") or "no <outline xmlUrl=…> found"
        raise FeedError(f"not an OPML subscription list: {problem}")
    meta = result.get("meta", {})
    warning = str(result.get("bozo_exception")) if result.get("bozo") else None
    return OpmlList(
        title=_clean_title(meta.get("title")), feeds=tuple(feeds), warning=warning
    )


def render_opml(specs: Iterable[FeedSpec], *, title: str, now: datetime) -> bytes:
    """An OPML 2.0 document listing `specs`."""
    ElementTree.register_namespace("monitor", MONITOR_NS)
    root = ElementTree.Element("opml", version="2.0")
    head = ElementTree.SubElement(root, "head")
    ElementTree.SubElement(head, "title").text = title
    ElementTree.SubElement(head, "dateCreated").text = format_datetime(now)
    body = ElementTree.SubElement(root, "body")
    for spec in specs:
        attrs = {
            "type": "rss",
            "text": spec.outlet or spec.name,
            "title": spec.outlet or spec.name,
            "xmlUrl": spec.url,
        }
        if spec.tags:
            attrs["category"] = ",".join(spec.tags)
        if spec.kind != "feed":
            attrs[f"{{{MONITOR_NS}}}kind"] = spec.kind
        ElementTree.SubElement(body, "outline", attrs)
    ElementTree.indent(root)
    data = ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
    return bytes(data) + b"\n"
