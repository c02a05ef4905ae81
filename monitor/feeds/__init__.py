"""Feed parsing: RSS/Atom/RDF bytes → `ParsedFeed` (issue #2, issue #7).

`parse_feed` works on bytes the fetcher already has (STYLE.md 30) and never
touches the network or the file system.  Steps:

1. **Sniff**: an empty body, an HTML page or a non-feed JSON document →
   `FeedError` naming what it got ("not a feed: got an HTML page ...").
2. **Decode** (`monitor.lang.decode_text`): BOM, then valid UTF-8, then the
   XML declaration and the HTTP charset, with cp1251-labelled-utf-8, KOI8-R and
   undeclared single-byte Cyrillic repaired.  The text is re-encoded as UTF-8
   and feedparser is told so, which keeps its own charset guessing out of it.
3. **Defuse**: a DOCTYPE internal subset is rewritten before any XML parser
   sees it.  Only ``<!ENTITY name "plain text">`` declarations survive;
   parameter entities, external (SYSTEM/PUBLIC) entities and entities that
   reference other entities are dropped, as is the external DTD id.  So
   billion-laughs cannot expand and ``file://`` / ``http://`` entities are
   never read, whatever feedparser, expat or sgmllib would do.  (feedparser
   6.0 only strips ``<!ENTITY`` at the start of a line and relies on expat's
   defaults for the rest.)
4. **Parse** with feedparser on a ``BytesIO`` (a bare ``bytes`` argument is
   tried as a *file name* by feedparser).  A malformed but recoverable feed
   (bozo) gives its items and ``ParsedFeed.warning``.  JSON Feed documents
   (jsonfeed.org 1/1.1) are read directly (`_jsonfeed`); other JSON is not
   a feed.

Modules: `_xml` (bytes → safe UTF-8 XML), `_entries` (entries → items, dates,
HTML → text), `_jsonfeed` (JSON Feed → entries).

Items: ``entry_id`` is the guid/id, else the link, else ``sha:`` + a hash of
title and published date.  Links are resolved against ``base_url`` and must be
http(s).  Title, summary and content become plain text; content keeps its
paragraph breaks (blank lines).  Content is the longest of ``content:encoded``
and the full-text fields (``yandex:full-text``, ``<full-text>``).  Copies of
one id or link keep the richest (most content, then summary; `_entries`).
C1 controls are read as the cp1252 punctuation they stand for (`_text`).

Dates (all timezone-aware UTC):

- missing → None (the pipeline then uses the first-seen time);
- without a time zone → taken as UTC;
- malformed → None;
- before 1990-01-01 or more than 2 days after ``fetched_at`` → not believed
  (`monitor.dates.check_date`), the reason in ``ParsedFeed.warning``;
- more than `FUTURE_TOLERANCE` (1 day) after ``fetched_at`` → clamped to
  ``fetched_at``, and logged.

``published`` is the entry's first believable published date, else its updated
date, else its created date.

Boundary rules (issue #11): every string an entry yields goes through
`monitor.text.clean_text` (titles through `clean_title`, capped at 500
characters); XML-illegal character references (``&#xD800;``) are removed
before parsing, with a warning; at most `MAX_ENTRIES` entries per document in
every format (namespaced Atom and JSON Feed included), else `FeedError`.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import feedparser

from ..exceptions import FeedError
from ..models import ParsedFeed
from ..text import clean_title
from ._entries import (
    FUTURE_TOLERANCE,
    detail_text,
    entries_to_items,
    get_key,
    html_to_text,
)
from ._jsonfeed import json_feed_entries, json_feed_title
from ._xml import MAX_FEED_BYTES, defuse_xml, is_feed_root, not_a_feed_message, prepare

__all__ = [
    "FUTURE_TOLERANCE",
    "MAX_ENTRIES",
    "MAX_FEED_BYTES",
    "defuse_xml",
    "html_to_text",
    "parse_feed",
]

logger = logging.getLogger(__name__)

# More entries than this in one document is refused (see _check_entry_count).
MAX_ENTRIES = 5000

# An RSS/RDF <item> or Atom <entry> start tag, with or without a namespace
# prefix (<a:entry>, <rss:item>): the cap must not be walked around (issue #11).
_ENTRY_TAG_RE = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s>/]")


def parse_feed(
    body: bytes,
    *,
    feed_name: str,
    base_url: str,
    content_type: str | None,
    fetched_at: datetime,
    lang_hint: str | None = None,
) -> ParsedFeed:
    """Parse one feed document.

    Args:
        body: the response body, as fetched.
        feed_name: the feed's name (becomes ``FeedItem.feed_name``).
        base_url: the final URL of the feed, for relative links.
        content_type: the Content-Type header, if any (its charset is a hint).
        fetched_at: when the body was fetched (timezone-aware); future dates
            are clamped to it.
        lang_hint: the feed's configured language, copied to each item.

    Returns:
        The feed title and its items (possibly none), with a warning when the
        document was malformed but recoverable.

    Raises:
        FeedError: the body is empty, too large, not a feed (HTML, JSON, other
            XML) or cannot be parsed at all.
    """
    prepared = prepare(body, feed_name=feed_name, content_type=content_type)
    if prepared.json_feed is not None:
        _check_json_count(prepared.json_feed, feed_name)
        entries = json_feed_entries(prepared.json_feed)
        title, warning = json_feed_title(prepared.json_feed), None
    else:
        _check_entry_count(prepared.xml, feed_name)
        entries, title, warning = _parse_xml(prepared.xml, feed_name, base_url)
    skipped: list[str] = []
    items, notes = entries_to_items(
        entries, feed_name, base_url, fetched_at, lang_hint, skipped
    )
    warning = _join_warnings(warning, prepared.note, notes)
    logger.info(
        "parsed feed=%s items=%d warning=%s", feed_name, len(items), warning is not None
    )
    return ParsedFeed(
        title=clean_title(title), items=items, warning=warning, skipped=tuple(skipped)
    )


def _join_warnings(
    bozo: str | None, repaired: str | None, notes: tuple[str, ...]
) -> str | None:
    """One warning line: feedparser's, the repairs, and dates not believed."""
    parts = [p for p in (bozo, repaired) if p]
    if notes:
        more = f" (and {len(notes) - 1} more)" if len(notes) > 1 else ""
        parts.append(f"{len(notes)} item date(s) not believed: {notes[0]}{more}")
    return "; ".join(parts) or None


def _check_entry_count(data: bytes, feed_name: str) -> None:
    """Refuse feeds with absurdly many entries before feedparser builds them all.

    Parsing cost grows with the entry count, not just the byte count: a 9 MB feed
    of 320,000 tiny entries took 450 MB and 30 s (docs/reliability.md).  Real news
    feeds carry tens to a few hundred items.  Start tags are counted with any
    namespace prefix (``<a:entry>``); feedparser's own count is checked again
    after parsing, for whatever this estimate misses.
    """
    count = sum(1 for _ in _ENTRY_TAG_RE.finditer(data))
    _refuse_count(count, feed_name, exact=False)


def _check_json_count(feed: Mapping[str, Any], feed_name: str) -> None:
    """The same cap for a JSON Feed, before any item is turned into an entry."""
    items = feed.get("items")
    _refuse_count(len(items) if isinstance(items, list) else 0, feed_name, exact=True)


def _refuse_count(count: int, feed_name: str, *, exact: bool) -> None:
    if count > MAX_ENTRIES:
        about = "" if exact else "about "
        raise FeedError(
            f"refused: {about}{count} entries (more than {MAX_ENTRIES}); "
            "not a news feed or a hostile one",
            resource=feed_name,
        )


def _parse_xml(
    data: bytes, feed_name: str, base_url: str
) -> tuple[list[Any], str, str | None]:
    """feedparser's entries, the feed title and the bozo warning."""
    result = _run_feedparser(data, feed_name=feed_name, base_url=base_url)
    entries = get_key(result, "entries") or []
    if not get_key(result, "version") and not entries and not is_feed_root(data):
        raise FeedError(not_a_feed_message(result, data), resource=feed_name)
    feed = get_key(result, "feed") or {}
    return entries, detail_text(feed, "title"), _warning(result)


def _run_feedparser(data: bytes, *, feed_name: str, base_url: str) -> Any:
    headers = {
        "content-type": "application/xml; charset=utf-8",
        "content-location": base_url,
    }
    if not data.startswith(b"<?xml"):
        headers = {"content-location": base_url}  # UTF-16/32: let feedparser sniff
    try:
        return feedparser.parse(
            io.BytesIO(data), response_headers=headers, sanitize_html=True
        )
    except (
        ValueError,
        TypeError,
        LookupError,
        AttributeError,
        IndexError,
        RecursionError,
    ) as exc:
        # feedparser's loose (sgmllib) parser can trip over pathological markup
        raise FeedError(
            f"feed could not be parsed: {exc!r}", resource=feed_name
        ) from exc


def _warning(result: Mapping[str, Any]) -> str | None:
    if not get_key(result, "bozo"):
        return None
    exc = get_key(result, "bozo_exception")
    if isinstance(exc, feedparser.CharacterEncodingOverride):
        return None  # we decoded it ourselves; feedparser's view is moot
    return f"{type(exc).__name__}: {exc}" if exc else "malformed feed (recovered)"
