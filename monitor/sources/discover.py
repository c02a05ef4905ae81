"""What kind of source is at a URL (`monitor feeds add`, issue #14).

`discover_source` takes the URL and an injected ``fetch(url) -> Page`` (the
CLI passes the normal fetcher, so SSRF checks and size caps apply) and tries,
in order:

1. a ``t.me`` / ``telegram.me`` URL → a telegram source on ``/s/<channel>``;
2. the document itself: a feed (RSS/Atom/RDF/JSON Feed) or a sitemap;
3. an HTML page: its ``<link rel="alternate">`` feeds (relative hrefs resolved
   against ``<base href>`` or the page URL), then feed-looking ``<a>`` links;
   each candidate is fetched and must parse as a feed.

With nothing found, `DiscoveryError` says so and lists what was seen.
`find_candidates` is the pure HTML part, also used by `monitor feeds check`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import lxml.etree
import lxml.html

from ..exceptions import FeedError, FetchError, MonitorError
from ..lang import decode_text
from ..models import FeedSpec, Page, SourceKind
from . import _clean_title, get_adapter

FEED_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/feed+json",
        "application/json",
        "text/xml",
        "application/xml",
    }
)
MAX_CANDIDATES = 6  # candidates fetched per `feeds add`
_FEEDISH_RE = re.compile(r"(?:^|[/._-])(?:rss|atom|feed)s?(?:[/._-]|$)|\.xml$", re.I)
_SITEMAP_RE = re.compile(rb"<(?:\w+:)?(?:urlset|sitemapindex)[\s>]")
Fetch = Callable[[str], Page]


class DiscoveryError(MonitorError):
    """No source found at a URL; the message lists what was seen."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Discovered:
    """A verified source: what to write into feeds.toml."""

    kind: SourceKind
    url: str
    title: str
    lang: str | None = None  # what the page or feed declares, if anything


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidates:
    """Feed links an HTML page offers, best first."""

    title: str
    lang: str | None
    alternate: tuple[tuple[str, str], ...]  # (url, title) from <link rel=alternate>
    anchors: tuple[str, ...]  # feed-looking <a href> links


def discover_source(url: str, fetch: Fetch, *, check: bool = True) -> Discovered:
    """Find and verify the source at `url` (see the module docstring).

    Raises:
        DiscoveryError: nothing usable found; the message lists what was seen.
        FetchError: the URL itself could not be fetched.
    """
    channel = telegram_channel(url)
    if channel is not None:
        found = Discovered(kind="telegram", url=f"https://t.me/s/{channel}", title="")
        return verify_source(found, fetch) if check else found
    page = fetch(url)
    direct = _as_source(page)
    if direct is not None:
        return direct
    cands = find_candidates(page.body, page.final_url, page.charset)
    tried: list[str] = []
    urls = [u for u, _ in cands.alternate] + list(cands.anchors)
    for candidate in list(dict.fromkeys(urls))[:MAX_CANDIDATES]:
        try:
            source = _as_source(fetch(candidate), lang=cands.lang)
        except (FetchError, FeedError) as e:
            tried.append(f"{candidate} ({e})")
            continue
        if source is not None and source.kind == "feed":
            return source
        tried.append(f"{candidate} (not a feed)")
    raise DiscoveryError(_nothing_found(page, cands, tried))


def telegram_channel(url: str) -> str | None:
    """The channel name of a t.me URL (``t.me/name``, ``t.me/s/name``, a post)."""
    parts = urlsplit(url if "//" in url else f"https://{url}")
    if parts.hostname not in ("t.me", "telegram.me", "www.t.me"):
        return None
    segments = [s for s in parts.path.split("/") if s]
    if segments[:1] == ["s"]:
        segments = segments[1:]
    return segments[0] if segments and re.match(r"^\w{4,32}$", segments[0]) else None


def find_candidates(
    body: bytes, base_url: str, charset: str | None = None
) -> Candidates:
    """Feed links of an HTML page: ``<link rel=alternate>`` first, then anchors."""
    text, _ = decode_text(body[:5_000_000], [charset])
    try:
        root = lxml.html.document_fromstring(text)
    except (lxml.etree.ParserError, ValueError):
        return Candidates(title="", lang=None, alternate=(), anchors=())
    bases = root.xpath("//base/@href")
    base = urljoin(base_url, str(bases[0]).strip()) if bases else base_url
    alternate = []
    for link in root.iter("link"):
        rels = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").lower().split(";")[0].strip()
        href = (link.get("href") or "").strip()
        if "alternate" in rels and kind in FEED_TYPES and href:
            alternate.append((urljoin(base, href), _clean_title(link.get("title"))))
    anchors = []
    for a in root.iter("a"):
        href = (a.get("href") or "").strip()
        if href and _FEEDISH_RE.search(urlsplit(href).path):
            anchors.append(urljoin(base, href))
    lang = (root.get("lang") or "").split("-")[0].lower() or None
    return Candidates(
        title=_clean_title(root.findtext(".//title")),
        lang=lang if lang and re.match(r"^[a-z]{2,3}$", lang) else None,
        alternate=tuple(dict.fromkeys(alternate)),
        anchors=tuple(u for u in dict.fromkeys(anchors) if _is_http(u))[:20],
    )


def _as_source(page: Page, lang: str | None = None) -> Discovered | None:
    """A feed or a sitemap, if that is what `page` holds."""
    head = page.body[:2048].lstrip()
    sitemap = _SITEMAP_RE.search(head) or head[:2] == b"\x1f\x8b"
    kind: SourceKind = "sitemap" if sitemap else "feed"
    spec = FeedSpec(
        name="candidate",
        url=page.final_url,
        outlet="",
        lang="en",
        country="",
        kind=kind,
    )
    try:
        parsed = get_adapter(kind).parse(page, spec, depth=0, first_poll=False)
    except FeedError:
        if kind == "sitemap":
            raise
        return None
    return Discovered(kind=kind, url=page.final_url, title=parsed.title, lang=lang)


def verify_source(found: Discovered, fetch: Fetch) -> Discovered:
    """Fetch `found.url` and parse it as `found.kind`; FeedError when it is not."""
    page = fetch(found.url)
    spec = FeedSpec(
        name=found.url, url=found.url, outlet="", lang="", country="", kind=found.kind
    )
    parsed = get_adapter(found.kind).parse(page, spec, depth=0, first_poll=False)
    return Discovered(kind=found.kind, url=found.url, title=parsed.title)


def _nothing_found(page: Page, cands: Candidates, tried: list[str]) -> str:
    lines = [f"no feed found at {page.final_url}"]
    lines.append(f"  page title: {cands.title or '(none)'}")
    lines.append(
        f"  <link rel=alternate> feeds: {len(cands.alternate)}"
        + "".join(f"\n    {u} {t!r}" for u, t in cands.alternate)
    )
    lines.append(f"  feed-looking links: {len(cands.anchors)}")
    lines += [f"  tried {t}" for t in tried]
    lines.append(
        "  add it as a section page instead: monitor feeds add URL --kind page"
    )
    return "\n".join(lines)


def _is_http(url: str) -> bool:
    return urlsplit(url).scheme in ("http", "https")
