"""``kind = "sitemap"``: a sitemap, a sitemap index or a Google News sitemap.

Accepted documents (plain or gzip; the magic bytes ``1f 8b`` decide, never the
file name):

- ``<urlset>``: each ``<url>`` is an item.  Google News entries
  (``<news:news>``) give the title (``news:title``), date
  (``news:publication_date``) and language (``news:publication/news:language``);
  otherwise the date is ``<lastmod>`` and the title comes from the page.
- ``<sitemapindex>``: its children (``<loc>``, or the element's own text in
  the common malformed form) are followed, newest ``lastmod`` first, at most
  `MAX_CHILDREN` per index and `MAX_INDEX_DEPTH` levels deep; an index that
  lists itself is not followed again (the pipeline never fetches a URL twice
  per poll).
- a plain-text sitemap: one URL per line (a BOM is dropped).

Namespaces are matched by local name, so a wrong namespace still parses (with
a warning).  XML goes through defusedxml: DTD entity declarations are refused.

Only URLs inside the window (``max_age_days`` before the fetch; undated URLs
are kept) are items, and one poll stores at most ``max_urls_per_poll``, newest
first.  ``<lastmod>`` is the item's revision: a changed lastmod re-processes a
known URL.  Broken XML, broken gzip and non-sitemaps are `FeedError`s.
"""

from __future__ import annotations

import logging
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree

from ..exceptions import FeedError
from ..models import FeedItem, FeedSpec, Page
from . import Parsed, _clean_title, unique_items

logger = logging.getLogger(__name__)

MAX_SITEMAP_BYTES = 50_000_000  # the sitemaps.org limit, uncompressed
MAX_URLS = 50_000  # the sitemaps.org limit per file
MAX_CHILDREN = 10  # child sitemaps followed per index, newest first
MAX_INDEX_DEPTH = 2  # index → index → urlset
FUTURE_TOLERANCE = timedelta(days=1)
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
_GZIP_MAGIC = b"\x1f\x8b"
_HTML_RE = re.compile(
    rb"\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)[\s>]", re.I | re.S
)
_LANG_RE = re.compile(r"^([a-z]{2,3})(?:[-_][a-z0-9]+)?$", re.I)


@dataclass(frozen=True, slots=True)
class _Entry:
    loc: str
    lastmod: str
    title: str = ""
    published: str = ""
    lang: str = ""


class SitemapAdapter:
    """URLs of a sitemap become items whose text comes from their pages."""

    kind = "sitemap"

    def parse(
        self, page: Page, spec: FeedSpec, *, depth: int, first_poll: bool
    ) -> Parsed:
        """Parse one sitemap document (see the module docstring)."""
        data = _decompress(page.body, spec.name)
        data = data.removeprefix(b"\xef\xbb\xbf").lstrip()
        if not data.startswith(b"<"):
            return self._items(page, spec, _text_entries(data), warning=None)
        if _HTML_RE.match(data[:1024]):
            raise FeedError("not a sitemap: got an HTML page", resource=spec.name)
        root = _xml_root(data, spec.name)
        kind = _local(root.tag)
        warning = _namespace_warning(root)
        if kind == "sitemapindex":
            return Parsed(
                title="",
                items=(),
                follow=_children(root, page, spec, depth),
                warning=warning,
            )
        if kind != "urlset":
            raise FeedError(
                f"not a sitemap: root element <{kind}> (expected <urlset> or "
                "<sitemapindex>)",
                resource=spec.name,
            )
        return self._items(page, spec, _url_entries(root), warning=warning)

    def _items(
        self, page: Page, spec: FeedSpec, entries: Iterator[_Entry], warning: str | None
    ) -> Parsed:
        cutoff = _cutoff(page.fetched_at, spec)
        items = []
        for entry in entries:
            item = _item(entry, spec, page.fetched_at)
            if item is None or (cutoff and item.published and item.published < cutoff):
                continue
            items.append(item)
        logger.info(
            "parsed sitemap=%s url=%s items=%d", spec.name, page.final_url, len(items)
        )
        return Parsed(title="", items=tuple(items), warning=warning)

    def select(self, spec: FeedSpec, items: list[FeedItem]) -> tuple[FeedItem, ...]:
        """Newest first, at most ``max_urls_per_poll``."""
        floor = datetime.min.replace(tzinfo=UTC)
        ordered = sorted(
            unique_items(items), key=lambda i: i.published or floor, reverse=True
        )
        return tuple(ordered[: spec.max_urls_per_poll])

    def needs_page(self, spec: FeedSpec, url: str) -> bool:
        """A sitemap carries no text: the page is the article (unless turned off)."""
        return spec.fetch_pages


# ---------------------------------------------------------------------- documents


def _decompress(body: bytes, feed_name: str) -> bytes:
    if not body.startswith(_GZIP_MAGIC):
        return body  # a ".gz" that is plain XML is read as it is
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, MAX_SITEMAP_BYTES)
    except zlib.error as exc:
        raise FeedError(f"corrupt gzip sitemap: {exc}", resource=feed_name) from exc
    if inflater.unconsumed_tail:
        raise FeedError(
            f"sitemap too large: gzip expands beyond {MAX_SITEMAP_BYTES} bytes",
            resource=feed_name,
        )
    return data


def _xml_root(data: bytes, feed_name: str) -> Element:
    try:
        root: Element = defusedxml.ElementTree.fromstring(data)
    except ParseError as exc:
        raise FeedError(f"malformed sitemap XML: {exc}", resource=feed_name) from exc
    except defusedxml.DefusedXmlException as exc:
        raise FeedError(
            f"refused sitemap: {type(exc).__name__} (DTD entities are not allowed)",
            resource=feed_name,
        ) from exc
    return root


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1]


def _namespace_warning(root: Element) -> str | None:
    tag = str(root.tag)
    ns = tag[1:].split("}", 1)[0] if tag.startswith("{") else ""
    if ns == SITEMAP_NS:
        return None
    return f"unexpected sitemap namespace {ns or '(none)'!r}; read leniently"


def _child_text(el: Element, name: str) -> str:
    for child in el:
        if _local(child.tag) == name:
            return " ".join((child.text or "").split())
    return ""


def _url_entries(root: Element) -> Iterator[_Entry]:
    for n, url in enumerate(el for el in root if _local(el.tag) == "url"):
        if n >= MAX_URLS:
            logger.warning("sitemap: more than %d URLs; the rest ignored", MAX_URLS)
            return
        news = next((c for c in url if _local(c.tag) == "news"), None)
        entry = _Entry(loc=_child_text(url, "loc"), lastmod=_child_text(url, "lastmod"))
        if news is not None:
            pub = next((c for c in news if _local(c.tag) == "publication"), None)
            entry = _Entry(
                loc=entry.loc,
                lastmod=entry.lastmod,
                title=_child_text(news, "title"),
                published=_child_text(news, "publication_date"),
                lang="" if pub is None else _child_text(pub, "language"),
            )
        yield entry


def _text_entries(data: bytes) -> Iterator[_Entry]:
    text = data.decode("utf-8", "replace")
    for line in text.splitlines()[:MAX_URLS]:
        line = line.strip().removeprefix("\ufeff")
        if line.startswith(("http://", "https://")):
            yield _Entry(loc=line, lastmod="")


def _children(root: Element, page: Page, spec: FeedSpec, depth: int) -> tuple[str, ...]:
    """Child sitemaps to fetch: inside the window, newest first, bounded."""
    if depth >= MAX_INDEX_DEPTH:
        logger.warning("sitemap=%s index nested too deep; not followed", spec.name)
        return ()
    cutoff = _cutoff(page.fetched_at, spec)
    found: list[tuple[datetime, str]] = []
    for el in root:
        if _local(el.tag) != "sitemap":
            continue
        loc = _child_text(el, "loc") or " ".join((el.text or "").split())
        when = _parse_date(_child_text(el, "lastmod"))
        if not _is_http(loc) or loc in (page.final_url, page.requested_url):
            continue
        if cutoff and when and when < cutoff:
            continue
        found.append((when or datetime.max.replace(tzinfo=UTC), loc))
    found.sort(reverse=True)
    return tuple(dict.fromkeys(loc for _, loc in found[:MAX_CHILDREN]))


# ---------------------------------------------------------------------- items


def _item(entry: _Entry, spec: FeedSpec, fetched_at: datetime) -> FeedItem | None:
    if not _is_http(entry.loc):
        return None
    published = _parse_date(entry.published) or _parse_date(entry.lastmod)
    if published and published > fetched_at + FUTURE_TOLERANCE:
        published = fetched_at
    lang = _LANG_RE.match(entry.lang.strip())
    return FeedItem(
        feed_name=spec.name,
        entry_id=entry.loc,
        link=entry.loc,
        title=_clean_title(entry.title),
        published=published,
        lang=lang.group(1).lower() if lang else spec.lang,
        revision=entry.lastmod,
    )


def _cutoff(fetched_at: datetime, spec: FeedSpec) -> datetime | None:
    if spec.max_age_days <= 0:
        return None
    return fetched_at - timedelta(days=spec.max_age_days)


def _parse_date(value: str) -> datetime | None:
    """A W3C datetime (a day, or a full timestamp); naive values are UTC."""
    value = value.strip()
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.year < 1990:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _is_http(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
