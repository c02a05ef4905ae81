"""Bytes before parsing: size cap, gzip, charset repair, sniffing, DOCTYPE defusing."""

from __future__ import annotations

import json
import logging
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..exceptions import FeedError
from ..lang import decode_text, strip_controls
from ._entries import get_key, squash
from ._text import c1_to_cp1252

logger = logging.getLogger(__name__)

MAX_FEED_BYTES = 20_000_000  # the fetcher caps bodies too; this guards direct callers

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


@dataclass(frozen=True, slots=True)
class Prepared:
    """A body ready for parsing: XML bytes for feedparser, or a JSON Feed object."""

    xml: bytes = b""
    json_feed: Mapping[str, Any] | None = None


def prepare(body: bytes, *, feed_name: str, content_type: str | None) -> Prepared:
    """Sniff, decode and defuse; UTF-8 XML (UTF-16/32 untouched) or a JSON Feed."""
    if len(body) > MAX_FEED_BYTES:
        raise FeedError(
            f"feed too large: {len(body)} bytes > {MAX_FEED_BYTES}", resource=feed_name
        )
    if body.startswith(_GZIP_MAGIC):
        body = _gunzip(body, feed_name)
    if _UTF16_32_RE.match(body):
        return Prepared(xml=body)  # BOM-less UTF-16/32: feedparser's sniffing knows it
    declared = [_xml_declared(body), _header_charset(content_type)]
    text, codec = decode_text(body, declared)
    text = strip_controls(c1_to_cp1252(text))  # cp1252 punctuation, not controls
    json_feed = _sniff(text, feed_name=feed_name, content_type=content_type)
    if json_feed is not None:
        return Prepared(json_feed=json_feed)
    text = defuse_xml(text)
    text = _XML_DECL_RE.sub("", text, count=1).lstrip()
    logger.debug("feed=%s decoded as %s", feed_name, codec)
    return Prepared(xml=('<?xml version="1.0" encoding="utf-8"?>\n' + text).encode())


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


def _sniff(
    text: str, *, feed_name: str, content_type: str | None
) -> Mapping[str, Any] | None:
    """Raise FeedError for what is not a feed; return a JSON Feed's object."""
    head = _skip_prolog(text[:_SNIFF_BYTES]).lstrip()
    ctype = f" (Content-Type: {content_type})" if content_type else ""
    if not head:
        raise FeedError(f"not a feed: empty body{ctype}", resource=feed_name)
    if head[0] in "{[":
        return _json_feed(text, feed_name=feed_name, ctype=ctype)
    if (_root_tag(head) or "").lower() in _HTML_ROOTS:
        title = _TITLE_RE.search(text[:65536])
        page = f" titled {squash(title.group(1))[:80]!r}" if title else ""
        raise FeedError(
            f"not a feed: got an HTML page{page}{ctype}", resource=feed_name
        )
    if not head.startswith("<"):
        raise FeedError(
            f"not a feed: not XML, starts with {head[:40]!r}{ctype}", resource=feed_name
        )
    return None


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


def _json_feed(text: str, *, feed_name: str, ctype: str) -> Mapping[str, Any]:
    """A JSON Feed (jsonfeed.org) object; any other JSON is not a feed."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise FeedError(
            f"not a feed: got malformed JSON{ctype}: {squash(text[:80])!r}",
            resource=feed_name,
        ) from exc
    if isinstance(data, dict) and "jsonfeed.org" in str(data.get("version", "")):
        return data
    if isinstance(data, dict):
        what = "object with keys " + ", ".join(list(map(str, data))[:5])
    else:
        what = type(data).__name__
    raise FeedError(f"not a feed: got JSON{ctype}: {what}", resource=feed_name)


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


def is_feed_root(data: bytes) -> bool:
    """An empty channel (no items yet) is still a feed."""
    head = _skip_prolog(data[:_SNIFF_BYTES].decode("utf-8", "replace")).lstrip()
    return (_root_tag(head) or "").lower() in _FEED_ROOTS


def not_a_feed_message(result: Mapping[str, Any], data: bytes) -> str:
    head = _skip_prolog(data[:_SNIFF_BYTES].decode("utf-8", "replace")).lstrip()
    tag = _root_tag(head)
    what = f"XML with root <{tag}>" if tag else "no recognisable feed"
    exc = get_key(result, "bozo_exception")
    detail = f" ({type(exc).__name__}: {exc})" if exc else ""
    return f"not a feed: got {what}, no RSS/Atom/RDF entries{detail}"
