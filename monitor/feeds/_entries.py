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

from ..dates import check_date
from ..models import FeedItem, stable_hash
from ..text import clean_text, clean_title

logger = logging.getLogger(__name__)

FUTURE_TOLERANCE = timedelta(days=1)
AUTHOR_MAX_CHARS = 200

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
) -> tuple[tuple[FeedItem, ...], tuple[str, ...]]:
    """Items (the richest copy of each id) and notes on values dropped at the boundary.

    The notes say why a value was not believed (a date outside 1990 … fetch +
    2 days, issue #11); the caller folds them into `ParsedFeed.warning`.  Each
    entry is also a boundary: one whose values still break the conversion is
    left out, its reason appended to `skipped`, and the other entries are kept.
    """
    items: dict[str, FeedItem] = {}
    notes: list[str] = []
    for index, entry in enumerate(entries):
        try:
            item = _item(entry, feed_name, base_url, fetched_at, lang, notes)
        except (ValueError, OverflowError, RecursionError) as e:
            logger.warning("feed=%s entry %d skipped: %r", feed_name, index, e)
            if skipped is not None:
                skipped.append(f"entry {index}: {type(e).__name__}: {e}")
            continue
        if item is None:
            logger.debug(
                "feed=%s entry %d skipped: no id, link or title", feed_name, index
            )
        else:
            keep_richest(items, item)
    return tuple(items.values()), tuple(notes)


def keep_richest(items: dict[str, FeedItem], item: FeedItem) -> None:
    """Add ``item``, or let it replace an earlier copy with the same id or link
    when it carries more text (a feed may repeat a link with an empty
    description first and the full one later)."""
    key = item.entry_id
    if key not in items and item.link:
        key = next((k for k, v in items.items() if v.link == item.link), key)
    old = items.get(key)
    if old is None:
        items[key] = item
        return
    logger.debug("feed=%s duplicate entry id=%s", item.feed_name, item.entry_id)
    if _richness(item) > _richness(old):
        items[key] = item


def _richness(item: FeedItem) -> tuple[int, int]:
    return (len(item.content), len(item.summary))


def _item(
    entry: Mapping[str, Any],
    feed_name: str,
    base_url: str,
    fetched_at: datetime,
    lang: str | None,
    notes: list[str],
) -> FeedItem | None:
    link = _entry_link(entry, base_url)
    title = clean_title(detail_text(entry, "title"))
    summary = detail_text(entry, "summary")
    content = max(_content_text(entry), full_text(entry), key=len)
    published, reason = _entry_date(entry, fetched_at, feed_name)
    if reason:
        notes.append(reason)
        logger.info("feed=%s entry=%r %s", feed_name, title[:80], reason)
    entry_id = _text(get_key(entry, "id")).strip() or link
    if not entry_id:
        if not (title or summary or content):
            return None
        stamp = published.isoformat() if published else ""
        entry_id = "sha:" + stable_hash(title, stamp, summary if not title else "")
    author = clean_title(_text(get_key(entry, "author")), AUTHOR_MAX_CHARS) or None
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
    """A parser's string, normalised (`monitor.text.clean_text`); else ""."""
    return clean_text(value) if isinstance(value, str) else ""


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


# Full article text some feeds carry outside <content:encoded>: Yandex.News
# ``<yandex:full-text>`` and a bare ``<full-text>`` (feedparser's key names).
FULL_TEXT_KEYS = ("yandex_full-text", "full-text", "yandex_fulltext", "fulltext")


def full_text(entry: Mapping[str, Any]) -> str:
    """The longest full-text field of an entry, as plain text (or "")."""
    found = (_text(get_key(entry, k)) for k in FULL_TEXT_KEYS)
    return max((html_to_text(v) for v in found if v), key=len, default="")


def _entry_date(
    entry: Mapping[str, Any], fetched_at: datetime, feed_name: str
) -> tuple[datetime | None, str | None]:
    """The first plausible date of published/updated/created, and why one was not.

    A date outside 1990 … fetch + 2 days (`monitor.dates.check_date`) counts
    as missing; the next key is tried, and the reason is returned.
    """
    reason: str | None = None
    for key in ("published", "updated", "created"):
        value = _read_date(entry, key)
        if value is None:
            continue
        checked, why = check_date(value, fetched_at)
        if checked is not None:
            return clamp(checked, fetched_at, feed_name), None
        reason = reason or f"{key} {why}"
    return None, reason


def _read_date(entry: Mapping[str, Any], key: str) -> datetime | None:
    """One date field, aware; None when missing or malformed."""
    raw = _text(get_key(entry, key))
    parsed = get_key(entry, f"{key}_parsed")
    if isinstance(parsed, time.struct_time):
        if _out_of_range(raw):
            return None  # malformed, whatever feedparser rolled it over to
        try:
            return _to_utc(parsed)
        except (ValueError, OverflowError, OSError):
            pass  # year 0 or 10000 after feedparser's UTC shift: read the text
    return parse_raw_date(raw)


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
    return value  # aware; check_date converts to UTC (which can overflow)


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
    text = clean_text(text)  # entities decoded by lxml can bring controls back
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    paras = (squash(p) for p in re.split(r"\n\s*\n", text))
    return "\n\n".join(p for p in paras if p)


def squash(text: str) -> str:
    return " ".join(_WS_RE.sub(" ", text).split())
