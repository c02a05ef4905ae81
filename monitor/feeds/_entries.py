"""feedparser entries → `FeedItem`s: ids, links, plain text, dates (see package doc)."""

from __future__ import annotations

import calendar
import email.utils
import logging
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree

from ..models import FeedItem, stable_hash

logger = logging.getLogger(__name__)

FUTURE_TOLERANCE = timedelta(days=1)

_WS_RE = re.compile(r"[ \t\r\f\v\u00a0\u2028\u2029]+")

_BLOCK_TAGS = frozenset(
    "p div br li ul ol h1 h2 h3 h4 h5 h6 blockquote pre table tr section article "
    "header footer figure figcaption dd dt dl hr".split()
)


def entries_to_items(
    entries: list[Any],
    feed_name: str,
    base_url: str,
    fetched_at: datetime,
    lang: str | None,
    skipped: list[str] | None = None,
) -> tuple[FeedItem, ...]:
    """Convert feedparser/JSON Feed entries into items (one per entry id).

    Each entry is a boundary (issue #11): one whose values break the conversion
    (a date outside the calendar, ...) is left out, its reason appended to
    `skipped`, and the feed's other entries are kept.
    """
    items: dict[str, FeedItem] = {}
    for index, entry in enumerate(entries):
        try:
            item = _item(entry, feed_name, base_url, fetched_at, lang)
        except (ValueError, OverflowError, RecursionError) as e:
            logger.warning("feed=%s entry %d skipped: %r", feed_name, index, e)
            if skipped is not None:
                skipped.append(f"entry {index}: {type(e).__name__}: {e}")
            continue
        if item is None:
            logger.debug(
                "feed=%s entry %d skipped: no id, link or title", feed_name, index
            )
        elif item.entry_id in items:
            logger.debug("feed=%s duplicate entry id=%s", feed_name, item.entry_id)
        else:
            items[item.entry_id] = item
    return tuple(items.values())


def _item(
    entry: Mapping[str, Any],
    feed_name: str,
    base_url: str,
    fetched_at: datetime,
    lang: str | None,
) -> FeedItem | None:
    link = _entry_link(entry, base_url)
    title = detail_text(entry, "title")
    summary = detail_text(entry, "summary")
    content = _content_text(entry)
    published = _entry_date(entry, fetched_at, feed_name)
    entry_id = _text(get_key(entry, "id")).strip() or link
    if not entry_id:
        if not (title or summary or content):
            return None
        stamp = published.isoformat() if published else ""
        entry_id = "sha:" + stable_hash(title, stamp, summary if not title else "")
    author = squash(_text(get_key(entry, "author"))) or None
    return FeedItem(
        feed_name=feed_name,
        entry_id=entry_id,
        link=link,
        title=title,
        published=published,
        summary=summary,
        content=content,
        author=author,
        lang=lang,
    )


def get_key(node: Any, key: str) -> Any:
    """Read a stored key without FeedParserDict's deprecated key aliasing."""
    return dict.get(node, key) if isinstance(node, dict) else None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _entry_link(entry: Mapping[str, Any], base_url: str) -> str:
    candidates = [_text(get_key(entry, "link"))]
    for link in get_key(entry, "links") or []:
        if (
            isinstance(link, Mapping)
            and (get_key(link, "rel") or "alternate") == "alternate"
        ):
            candidates.append(_text(get_key(link, "href")))
    for raw in candidates:
        url = safe_url(raw.strip(), base_url)
        if url:
            return url
    return ""


def safe_url(raw: str, base_url: str) -> str:
    if not raw:
        return ""
    try:
        url = urljoin(base_url, raw)
        parts = urlsplit(url)
    except ValueError:
        return ""
    return url if parts.scheme in ("http", "https") and parts.netloc else ""


def detail_text(node: Mapping[str, Any], key: str) -> str:
    value = _text(get_key(node, key))
    detail = get_key(node, f"{key}_detail")
    kind = _text(get_key(detail, "type")) if isinstance(detail, Mapping) else ""
    if "html" in kind:
        return squash(html_to_text(value).replace("\n\n", " "))
    return squash(value)


def _content_text(entry: Mapping[str, Any]) -> str:
    best = ""
    for part in get_key(entry, "content") or []:
        if not isinstance(part, Mapping):
            continue
        value = _text(get_key(part, "value"))
        kind = _text(get_key(part, "type"))
        text = html_to_text(value) if "html" in kind else paragraphs(value)
        if len(text) > len(best):
            best = text
    return best


def _entry_date(
    entry: Mapping[str, Any], fetched_at: datetime, feed_name: str
) -> datetime | None:
    for key in ("published", "updated", "created"):
        parsed = get_key(entry, f"{key}_parsed")
        if isinstance(parsed, time.struct_time):
            if _out_of_range(_text(get_key(entry, key))):
                continue  # malformed, whatever feedparser rolled it over to
            return clamp(_to_utc(parsed), fetched_at, feed_name)
        raw = parse_raw_date(_text(get_key(entry, key)))
        if raw is not None:
            return clamp(raw, fetched_at, feed_name)
    return None


_ISO_FIELDS = re.compile(
    r"\s*(\d{4})-(\d{1,2})-(\d{1,2})(?:[Tt ](\d{1,2}):(\d{1,2})(?::(\d{1,2}))?)?"
)


def _out_of_range(raw: str) -> bool:
    """An ISO date with a field out of range (2026-02-30, 2026-00-10, 25:00).

    feedparser rolls such dates over (2026-02-30 becomes 2 March, 2026-00-10
    becomes 10 December 2025): a wrong day rather than no date (issue #7).
    """
    m = _ISO_FIELDS.match(raw)
    if m is None:
        return False
    y, mo, d, h, mi, s = (int(g) if g else 0 for g in m.groups())
    try:
        datetime(y, mo, d, h, mi, min(s, 59))  # a leap second (:60) is fine
    except ValueError:
        return True
    return False


def parse_raw_date(raw: str) -> datetime | None:
    """Dates feedparser gave up on, e.g. RFC 822 without a zone (taken as UTC)."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        value = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        try:
            value = datetime.fromisoformat(raw)
        except ValueError:
            return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _to_utc(parsed: time.struct_time) -> datetime:
    """feedparser's *_parsed values are already UTC (naive input taken as UTC)."""
    return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)


def clamp(value: datetime, fetched_at: datetime, feed_name: str) -> datetime:
    if value > fetched_at + FUTURE_TOLERANCE:
        logger.info(
            "feed=%s future date %s clamped to %s", feed_name, value, fetched_at
        )
        return fetched_at.astimezone(UTC)
    return value


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment; block elements become blank-line breaks."""
    if "<" not in html and "&" not in html:
        return paragraphs(html)
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (etree.ParserError, ValueError):
        return paragraphs(re.sub(r"<[^>]*>", " ", html))
    for bad in root.xpath(".//script|.//style|.//noscript"):
        bad.drop_tree()
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        if el.tag == "br":
            el.tail = "\n" + (el.tail or "")
        elif el.tag in _BLOCK_TAGS:
            el.text = "\n\n" + (el.text or "")
            el.tail = "\n\n" + (el.tail or "")
    return paragraphs(root.text_content())


def paragraphs(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    paras = (squash(p) for p in re.split(r"\n\s*\n", text))
    return "\n\n".join(p for p in paras if p)


def squash(text: str) -> str:
    return " ".join(_WS_RE.sub(" ", text).split())
