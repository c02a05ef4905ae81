"""``kind = "page"``: a section or home page whose article links are the items.

Links are filtered by courlan (trafilatura's link filter, the one its spider
uses): internal links only; navigation, tag, login and non-HTML pages
dropped; URLs normalised.  The anchor text becomes the item's title
until the page's own title replaces it at extraction.  Items keep the page's
order (section pages list the newest first); one poll stores at most
``max_urls_per_poll`` of them.  Each item's page is fetched and extracted like
a feed article's.
"""

from __future__ import annotations

import logging
from urllib.parse import urljoin, urlsplit

import courlan
import lxml.etree
import lxml.html

from ..exceptions import FeedError
from ..lang import decode_text
from ..models import FeedItem, FeedSpec, Page
from . import Parsed, _clean_title, unique_items

logger = logging.getLogger(__name__)

MAX_PAGE_BYTES = 5_000_000
MAX_LINKS = 2000  # anchors read per page
STAND_IN_HOST = "section.example.com"


class PageAdapter:
    """Article links of an HTML page become items."""

    kind = "page"

    def parse(
        self, page: Page, spec: FeedSpec, *, depth: int, first_poll: bool
    ) -> Parsed:
        """Find the article links of one HTML page."""
        if len(page.body) > MAX_PAGE_BYTES:
            raise FeedError(
                f"page too large: {len(page.body)} bytes > {MAX_PAGE_BYTES}",
                resource=spec.name,
            )
        html, _ = decode_text(page.body, [page.charset])
        if "<" not in html[:4096]:
            raise FeedError("not an HTML page", resource=spec.name)
        root = _root(html, spec.name)
        base = _base_url(root, page.final_url)
        items = [
            FeedItem(
                feed_name=spec.name, entry_id=url, link=url, title=title, lang=spec.lang
            )
            for url, title in _anchors(root, base)
            if urlsplit(url).path.strip("/")  # not the home page
            and url.rstrip("/") != page.final_url.rstrip("/")
        ]
        title = _clean_title(root.findtext(".//title"))
        logger.info("parsed page=%s items=%d", spec.name, len(items))
        return Parsed(title=title, items=tuple(unique_items(items)))

    def select(self, spec: FeedSpec, items: list[FeedItem]) -> tuple[FeedItem, ...]:
        """The first ``max_urls_per_poll`` links, in page order."""
        return tuple(unique_items(items)[: spec.max_urls_per_poll])

    def needs_page(self, spec: FeedSpec, url: str) -> bool:
        """The linked page is the article (unless ``fetch_pages = false``)."""
        return spec.fetch_pages


def _root(html: str, feed_name: str) -> lxml.html.HtmlElement:
    try:
        return lxml.html.document_fromstring(html)
    except (lxml.etree.ParserError, ValueError) as exc:
        raise FeedError(f"not an HTML page: {exc}", resource=feed_name) from exc


def _base_url(root: lxml.html.HtmlElement, page_url: str) -> str:
    hrefs = root.xpath("//base/@href")
    return urljoin(page_url, str(hrefs[0]).strip()) if hrefs else page_url


def _anchors(root: lxml.html.HtmlElement, base: str) -> list[tuple[str, str]]:
    """(URL, anchor text) of every internal article link, in document order.

    courlan decides what is an article link (`courlan.check_url` with
    ``strict=True, with_nav=False``: navigation, tag, archive, login and
    non-HTML links are dropped).  It judges the path, on a stand-in host:
    courlan refuses IP addresses and ``localhost``, which `allow_private`
    sources (and the tests' server) use; the fetcher does the address checks.
    """
    host = urlsplit(base).netloc.lower()
    out: dict[str, str] = {}  # a link repeated (image, then headline) keeps its text
    for n, a in enumerate(root.iter("a")):
        if n >= MAX_LINKS:
            break
        url = urljoin(base, (a.get("href") or "").strip()).split("#", 1)[0]
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or parts.netloc.lower() != host:
            continue  # external links are another site's articles
        checked = courlan.check_url(
            parts._replace(netloc=STAND_IN_HOST).geturl(), strict=True, with_nav=False
        )
        if checked is None:
            continue
        url = urlsplit(checked[0])._replace(scheme=parts.scheme, netloc=parts.netloc)
        text = _clean_title(a.text_content())
        key = url.geturl()
        if len(text) > len(out.get(key, "")):
            out[key] = text
        out.setdefault(key, text)
    return list(out.items())
