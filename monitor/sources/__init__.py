"""Source kinds behind one registry of adapters (issue #14).

A source is one ``[[feed]]`` of feeds.toml.  Its ``kind`` picks the adapter
that turns the bytes the fetcher returned into `FeedItem`s, as reader mounts
parsers by MIME type (STYLE.md "Adapters mounted by kind")::

    kind       adapter                      items need a page fetch?
    feed       monitor.feeds (RSS/Atom/…)   fetch_pages (default true)
    telegram   sources.telegram (t.me/s/)   only linked articles (fetch_linked)
    sitemap    sources.sitemap              fetch_pages (the sitemap has no text)
    page       sources.page (courlan)       fetch_pages

The pipeline calls `parse_page`, `select_items` and `needs_page` and never
branches on kind.  An adapter never touches the network: when it needs more
documents (older Telegram pages, a sitemap index's children) it names them in
`Parsed.follow`, and the pipeline fetches them through the same fetcher as
everything else (politeness, SSRF checks, size caps, failure recording), at
most `MAX_FOLLOW` per poll, never the same URL twice.

Every title and text an adapter produces passes through `_clean`, the one
place that normalises text at this boundary.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from ..models import FeedItem, FeedSpec, Page
from ..text import clean_text, clean_title

__all__ = [
    "MAX_FOLLOW",
    "MAX_TITLE_CHARS",
    "Adapter",
    "Parsed",
    "get_adapter",
    "kinds",
    "needs_page",
    "parse_page",
    "register",
    "select_items",
]

MAX_FOLLOW = 40  # follow-up documents fetched per poll, whatever an adapter asks
MAX_DEPTH = 20  # rounds of follow-ups (pagination depth, index nesting)
MAX_TITLE_CHARS = 300

_TAG_RE = re.compile(r"</?[A-Za-z][^<>]{0,500}>")
_SPACE_RE = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")


@dataclass(frozen=True, slots=True, kw_only=True)
class Parsed:
    """What an adapter found in one document."""

    title: str
    items: tuple[FeedItem, ...]
    follow: tuple[str, ...] = ()  # absolute URLs the pipeline should fetch next
    warning: str | None = None  # recovered from a malformed document
    skipped: tuple[str, ...] = ()  # entries left out, with why (issue #11)


class Adapter(Protocol):
    """One source kind: bytes → items, and whether those items need their page."""

    kind: str

    def parse(
        self, page: Page, spec: FeedSpec, *, depth: int, first_poll: bool
    ) -> Parsed:
        """Parse one fetched document (depth 0: the source's own URL).

        Raises:
            FeedError: the document is not what this kind expects, with a
                message that says what it got.
        """

    def select(self, spec: FeedSpec, items: list[FeedItem]) -> tuple[FeedItem, ...]:
        """Choose what one poll stores from everything its documents gave."""

    def needs_page(self, spec: FeedSpec, url: str) -> bool:
        """Should the extract stage fetch `url` (an item's link) for its text?"""


_ADAPTERS: dict[str, Adapter] = {}


def register(adapter: Adapter) -> None:
    """Mount an adapter under its kind (a later one replaces an earlier one)."""
    _ADAPTERS[adapter.kind] = adapter


def get_adapter(kind: str) -> Adapter:
    """The adapter for `kind`; config validation guarantees it exists."""
    if not _ADAPTERS:
        _register_builtin()
    return _ADAPTERS[kind]


def kinds() -> tuple[str, ...]:
    """Every mounted kind."""
    get_adapter("feed")
    return tuple(_ADAPTERS)


def parse_page(page: Page, spec: FeedSpec, *, depth: int, first_poll: bool) -> Parsed:
    """Parse one fetched document of `spec` with its kind's adapter."""
    return get_adapter(spec.kind).parse(page, spec, depth=depth, first_poll=first_poll)


def select_items(spec: FeedSpec, items: list[FeedItem]) -> tuple[FeedItem, ...]:
    """What one poll of `spec` stores, from the items of all its documents."""
    return get_adapter(spec.kind).select(spec, items)


def needs_page(spec: FeedSpec, url: str) -> bool:
    """Whether an item of `spec` linking to `url` needs its page fetched."""
    return url.startswith(("http://", "https://")) and get_adapter(
        spec.kind
    ).needs_page(spec, url)


def unique_items(items: Iterable[FeedItem]) -> list[FeedItem]:
    """Items with duplicate entry ids dropped (the first wins)."""
    seen: set[str] = set()
    out = []
    for item in items:
        if item.entry_id not in seen:
            seen.add(item.entry_id)
            out.append(item)
    return out


def _clean(text: str | None, *, limit: int | None = None) -> str:
    """Plain text safe to store: `monitor.text.clean_text`, NFC, no markup.

    Line breaks are kept as paragraph breaks, other runs of space folded;
    `limit` cuts at a word boundary with "…".
    """
    if not text:
        return ""
    text = unicodedata.normalize("NFC", clean_text(text))
    text = _TAG_RE.sub("", text)  # text is never markup, even when a post spells it
    lines = [_SPACE_RE.sub(" ", line).strip() for line in text.splitlines()]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    if limit is not None and len(text) > limit:
        cut = text[:limit].rsplit(" ", 1)[0] or text[:limit]
        text = cut.rstrip(" ,.;:") + "…"
    return text


def _clean_title(text: str | None) -> str:
    """A one-line title (`monitor.text.clean_title`), capped at `MAX_TITLE_CHARS`."""
    return _clean(clean_title(text or ""), limit=MAX_TITLE_CHARS)


def _register_builtin() -> None:
    from . import _feed, page, sitemap, telegram

    for adapter in (
        _feed.FeedAdapter(),
        telegram.TelegramAdapter(),
        sitemap.SitemapAdapter(),
        page.PageAdapter(),
    ):
        register(adapter)
