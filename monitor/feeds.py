"""Feed parsing: RSS/Atom/RDF bytes → `ParsedFeed` (issue #2, issue #7).

`parse_feed` works on bytes the fetcher already has (STYLE.md 30) and never
touches the network or the file system.  Steps:

1. **Sniff**: an empty body, an HTML page or a JSON document is not a feed →
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
   (bozo) gives its items and ``ParsedFeed.warning``.

Items: ``entry_id`` is the guid/id, else the link, else ``sha:`` + a hash of
title and published date.  Links are resolved against ``base_url`` and must be
http(s).  Title, summary and content become plain text; content keeps its
paragraph breaks (blank lines).  Duplicate ids keep the first item.

Dates (all timezone-aware UTC):

- missing → None (the pipeline then uses the first-seen time);
- without a time zone → taken as UTC;
- malformed → None;
- more than `FUTURE_TOLERANCE` (1 day) after ``fetched_at`` → clamped to
  ``fetched_at``, and logged.

``published`` is the entry's published date, else its updated date, else its
created date.
"""

from __future__ import annotations

import calendar
import email.utils
import io
import json
import logging
import re
import time
import zlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
import lxml.html
from lxml import etree

from .exceptions import FeedError
from .lang import decode_text, strip_controls
from .models import FeedItem, ParsedFeed, stable_hash

logger = logging.getLogger(__name__)

MAX_FEED_BYTES = 20_000_000  # the fetcher caps bodies too; this guards direct callers
FUTURE_TOLERANCE = timedelta(days=1)
_SNIFF_BYTES = 4096
_XML_DECL_RE = re.compile(r"^\s*<\?xml[^>]*\?>")
_XML_DECL_ENC_RE = re.compile(rb"^\s*<\?xml[^>]*encoding\s*=\s*[\"']([\w.:-]+)", re.I)
_CHARSET_RE = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.I)
_PROLOG_SKIP_RE = re.compile(r"\s*(?:<\?.*?\?>|<!--.*?-->)", re.S)
_SAFE_ENTITY_RE = re.compile(r"<!ENTITY\s+([\w.-]+)\s+(\"[^\"&%<]*\"|'[^'&%<]*')\s*>")
_HTML_ROOTS = frozenset({"html", "head", "body"})
_FEED_ROOTS = frozenset({"rss", "feed", "rdf:rdf", "rdf", "channel"})
_NETSCAPE_ID = "-//Netscape Communications//DTD RSS 0.91//EN"  # marks RSS 0.91n
_GZIP_MAGIC = b"\x1f\x8b"
_TITLE_RE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)
_UTF16_32_RE = re.compile(rb"^(?:\x00\x00\x00<|<\x00\x00\x00|\x00<\x00\?|<\x00\?\x00)")
_WS_RE = re.compile(r"[ \t\r\f\v\u00a0\u2028\u2029]+")
_BLOCK_TAGS = frozenset(
    "p div br li ul ol h1 h2 h3 h4 h5 h6 blockquote pre table tr section article "
    "header footer figure figcaption dd dt dl hr".split()
)


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
    data = _prepare(body, feed_name=feed_name, content_type=content_type)
    result = _run_feedparser(data, feed_name=feed_name, base_url=base_url)
    entries = _get(result, "entries") or []
    if not _get(result, "version") and not entries and not _is_feed_root(data):
        raise FeedError(_not_a_feed_message(result, data), resource=feed_name)
    items = _items(entries, feed_name, base_url, fetched_at, lang_hint)
    warning = _warning(result)
    feed = _get(result, "feed") or {}
    title = _detail_text(feed, "title")
    logger.info(
        "parsed feed=%s items=%d warning=%s", feed_name, len(items), warning is not None
    )
    return ParsedFeed(title=title, items=items, warning=warning)


# --------------------------------------------------------------------- bytes


def _prepare(body: bytes, *, feed_name: str, content_type: str | None) -> bytes:
    """Sniff, decode and defuse; return UTF-8 XML (or UTF-16/32 untouched)."""
    if len(body) > MAX_FEED_BYTES:
        raise FeedError(
            f"feed too large: {len(body)} bytes > {MAX_FEED_BYTES}", resource=feed_name
        )
    if body.startswith(_GZIP_MAGIC):
        body = _gunzip(body, feed_name)
    if _UTF16_32_RE.match(body):
        return body  # BOM-less UTF-16/32: only feedparser's own sniffing knows it
    declared = [_xml_declared(body), _header_charset(content_type)]
    text, codec = decode_text(body, declared)
    text = strip_controls(text)
    _sniff(text, feed_name=feed_name, content_type=content_type)
    text = defuse_xml(text)
    text = _XML_DECL_RE.sub("", text, count=1).lstrip()
    logger.debug("feed=%s decoded as %s", feed_name, codec)
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + text).encode("utf-8")


def _gunzip(body: bytes, feed_name: str) -> bytes:
    """A gzip file served without Content-Encoding (e.g. ``feed.xml.gz``)."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, MAX_FEED_BYTES)
    except zlib.error as exc:
        raise FeedError(
            f"not a feed: broken gzip data ({exc})", resource=feed_name
        ) from exc
    if inflater.unconsumed_tail:
        raise FeedError(
            f"feed too large: gzip expands beyond {MAX_FEED_BYTES} bytes",
            resource=feed_name,
        )
    return data


def _xml_declared(body: bytes) -> str | None:
    match = _XML_DECL_ENC_RE.match(body[:200])
    return match.group(1).decode("ascii") if match else None


def _header_charset(content_type: str | None) -> str | None:
    match = _CHARSET_RE.search(content_type or "")
    return match.group(1) if match else None


def _sniff(text: str, *, feed_name: str, content_type: str | None) -> None:
    head = _skip_prolog(text[:_SNIFF_BYTES]).lstrip()
    ctype = f" (Content-Type: {content_type})" if content_type else ""
    if not head:
        raise FeedError(f"not a feed: empty body{ctype}", resource=feed_name)
    if head[0] in "{[":
        raise FeedError(
            f"not a feed: got JSON{ctype}: {_json_hint(text)}", resource=feed_name
        )
    if (_root_tag(head) or "").lower() in _HTML_ROOTS:
        title = _TITLE_RE.search(text[:65536])
        page = f" titled {_squash(title.group(1))[:80]!r}" if title else ""
        raise FeedError(
            f"not a feed: got an HTML page{page}{ctype}", resource=feed_name
        )
    if not head.startswith("<"):
        raise FeedError(
            f"not a feed: not XML, starts with {head[:40]!r}{ctype}", resource=feed_name
        )


def _root_tag(head: str) -> str | None:
    """The first element's name, after a DOCTYPE if any."""
    if head[:9].upper() == "<!DOCTYPE":
        end, _ = _doctype_end(head, 0)
        head = _skip_prolog(head[end:]) if end > 0 else ""
    match = re.match(r"\s*<([\w:.-]+)", head)
    return match.group(1) if match else None


def _skip_prolog(text: str) -> str:
    pos = 0
    while match := _PROLOG_SKIP_RE.match(text, pos):
        if match.end() == pos:
            break
        pos = match.end()
    return text[pos:]


def _json_hint(text: str) -> str:
    try:
        data = json.loads(text[:100_000])
    except ValueError:
        return repr(_squash(text[:80]))
    if isinstance(data, dict):
        keys = ", ".join(list(map(str, data))[:5])
        return f"object with keys {keys}"
    return f"{type(data).__name__}"


def defuse_xml(text: str) -> str:
    """Rewrite a DOCTYPE so that no entity can expand or load anything.

    Keeps only internal ``<!ENTITY name "plain text">`` declarations (see the
    module docstring).  Documents without a DOCTYPE are returned unchanged.

    Raises:
        FeedError: the DOCTYPE never ends (nothing safe can be parsed).
    """
    start = len(text) - len(_skip_prolog(text))
    if text[start : start + 9].upper() != "<!DOCTYPE":
        return text
    end, subset = _doctype_end(text, start)
    if end < 0:
        raise FeedError("malformed DOCTYPE: no closing '>'")
    head = text[start:end]
    safe = _SAFE_ENTITY_RE.findall(subset)
    if len(safe) != subset.count("<!ENTITY"):
        logger.warning(
            "dropped %d unsafe ENTITY declaration(s)",
            subset.count("<!ENTITY") - len(safe),
        )
    root = re.match(r"<!DOCTYPE\s+([\w.:-]+)", head, re.I)
    name = root.group(1) if root else "feed"
    replacement = ""
    if "netscape" in head.lower():
        replacement = f'\n<!DOCTYPE {name} PUBLIC "{_NETSCAPE_ID}" "">\n'
    elif safe:
        # one declaration per line: the layout feedparser's own DOCTYPE code reads
        decls = "".join(f"\n<!ENTITY {n} {v}>" for n, v in safe)
        replacement = f"\n<!DOCTYPE {name} [{decls}\n]>\n"
    return text[:start] + replacement + text[end:]


def _doctype_end(text: str, start: int) -> tuple[int, str]:
    """Index just past the DOCTYPE's closing '>' and its internal subset text."""
    quote: str | None = None
    subset_start = -1
    i = start + len("<!DOCTYPE")
    n = len(text)
    while i < n:
        c = text[i]
        if quote:
            quote = None if c == quote else quote
        elif c in "\"'":
            quote = c
        elif c == "[" and subset_start < 0:
            subset_start = i + 1
        elif c == "<" and subset_start >= 0 and text.startswith("<!--", i):
            close = text.find("-->", i + 4)
            if close < 0:
                return -1, ""
            i = close + 2
        elif c == "]" and subset_start >= 0:
            subset = text[subset_start:i]
            close = text.find(">", i)
            return (close + 1 if close >= 0 else -1), subset
        elif c == ">" and subset_start < 0:
            return i + 1, ""
        i += 1
    return -1, ""


# --------------------------------------------------------------------- feedparser


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
    if not _get(result, "bozo"):
        return None
    exc = _get(result, "bozo_exception")
    if isinstance(exc, feedparser.CharacterEncodingOverride):
        return None  # we decoded it ourselves; feedparser's view is moot
    return f"{type(exc).__name__}: {exc}" if exc else "malformed feed (recovered)"


def _is_feed_root(data: bytes) -> bool:
    """An empty channel (no items yet) is still a feed."""
    head = _skip_prolog(data[:_SNIFF_BYTES].decode("utf-8", "replace")).lstrip()
    return (_root_tag(head) or "").lower() in _FEED_ROOTS


def _not_a_feed_message(result: Mapping[str, Any], data: bytes) -> str:
    head = _skip_prolog(data[:_SNIFF_BYTES].decode("utf-8", "replace")).lstrip()
    tag = _root_tag(head)
    what = f"XML with root <{tag}>" if tag else "no recognisable feed"
    exc = _get(result, "bozo_exception")
    detail = f" ({type(exc).__name__}: {exc})" if exc else ""
    return f"not a feed: got {what}, no RSS/Atom/RDF entries{detail}"


# --------------------------------------------------------------------- items


def _items(
    entries: list[Any],
    feed_name: str,
    base_url: str,
    fetched_at: datetime,
    lang: str | None,
) -> tuple[FeedItem, ...]:
    items: dict[str, FeedItem] = {}
    for index, entry in enumerate(entries):
        item = _item(entry, feed_name, base_url, fetched_at, lang)
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
    title = _detail_text(entry, "title")
    summary = _detail_text(entry, "summary")
    content = _content_text(entry)
    published = _entry_date(entry, fetched_at, feed_name)
    entry_id = _text(_get(entry, "id")).strip() or link
    if not entry_id:
        if not (title or summary or content):
            return None
        stamp = published.isoformat() if published else ""
        entry_id = "sha:" + stable_hash(title, stamp, summary if not title else "")
    author = _squash(_text(_get(entry, "author"))) or None
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


def _get(node: Any, key: str) -> Any:
    """Read a stored key without FeedParserDict's deprecated key aliasing."""
    return dict.get(node, key) if isinstance(node, dict) else None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _entry_link(entry: Mapping[str, Any], base_url: str) -> str:
    candidates = [_text(_get(entry, "link"))]
    for link in _get(entry, "links") or []:
        if (
            isinstance(link, Mapping)
            and (_get(link, "rel") or "alternate") == "alternate"
        ):
            candidates.append(_text(_get(link, "href")))
    for raw in candidates:
        url = _safe_url(raw.strip(), base_url)
        if url:
            return url
    return ""


def _safe_url(raw: str, base_url: str) -> str:
    if not raw:
        return ""
    try:
        url = urljoin(base_url, raw)
        parts = urlsplit(url)
    except ValueError:
        return ""
    return url if parts.scheme in ("http", "https") and parts.netloc else ""


def _detail_text(node: Mapping[str, Any], key: str) -> str:
    value = _text(_get(node, key))
    detail = _get(node, f"{key}_detail")
    kind = _text(_get(detail, "type")) if isinstance(detail, Mapping) else ""
    if "html" in kind:
        return _squash(html_to_text(value).replace("\n\n", " "))
    return _squash(value)


def _content_text(entry: Mapping[str, Any]) -> str:
    best = ""
    for part in _get(entry, "content") or []:
        if not isinstance(part, Mapping):
            continue
        value = _text(_get(part, "value"))
        kind = _text(_get(part, "type"))
        text = html_to_text(value) if "html" in kind else _paragraphs(value)
        if len(text) > len(best):
            best = text
    return best


def _entry_date(
    entry: Mapping[str, Any], fetched_at: datetime, feed_name: str
) -> datetime | None:
    for key in ("published", "updated", "created"):
        parsed = _get(entry, f"{key}_parsed")
        if isinstance(parsed, time.struct_time):
            return _clamp(_to_utc(parsed), fetched_at, feed_name)
        raw = _parse_raw_date(_text(_get(entry, key)))
        if raw is not None:
            return _clamp(raw, fetched_at, feed_name)
    return None


def _parse_raw_date(raw: str) -> datetime | None:
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


def _clamp(value: datetime, fetched_at: datetime, feed_name: str) -> datetime:
    if value > fetched_at + FUTURE_TOLERANCE:
        logger.info(
            "feed=%s future date %s clamped to %s", feed_name, value, fetched_at
        )
        return fetched_at.astimezone(UTC)
    return value


# --------------------------------------------------------------------- HTML → text


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment; block elements become blank-line breaks."""
    if "<" not in html and "&" not in html:
        return _paragraphs(html)
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (etree.ParserError, ValueError):
        return _paragraphs(re.sub(r"<[^>]*>", " ", html))
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
    return _paragraphs(root.text_content())


def _paragraphs(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    paras = (_squash(p) for p in re.split(r"\n\s*\n", text))
    return "\n\n".join(p for p in paras if p)


def _squash(text: str) -> str:
    return " ".join(_WS_RE.sub(" ", text).split())
