"""``kind = "telegram"``: a public channel's web preview, ``https://t.me/s/<channel>``.

Each ``div.tgme_widget_message[data-post="<channel>/<n>"]`` is one article:

- id: the ``data-post`` value, which names the channel's canonical username and
  need not match the name asked for (``/s/codecamp`` serves ``campcode/…``);
- link: ``https://t.me/<channel>/<n>``, or with ``fetch_linked = true`` the
  outlet article a link post points at (then fetched and extracted);
- title: the first line of the post (or a description of its media);
- content: the post's own text (never a quoted reply), then its link preview,
  its links and "Forwarded from …" as paragraphs;
- published: ``<time datetime>``; a post without one is kept undated.

Media-only posts (no text) are stored with a caption made of their media
(document names, the poll question) or skipped (``media_only = "skip"``).
Service messages are skipped.  Older pages (``<link rel="prev">``,
``?before=<id>``) are followed on the first poll only, ``backfill_pages`` deep.

A page with no posts and no channel header is an error: either Telegram's
"Contact @name" page for a channel that does not exist (or has no public
preview), or a ``t.me/<name>`` page that is not the /s/ preview at all.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import lxml.etree
import lxml.html

from ..exceptions import FeedError
from ..models import FeedItem, FeedSpec, Page
from . import Parsed, _clean, _clean_title, unique_items

logger = logging.getLogger(__name__)

MAX_PAGE_BYTES = 5_000_000  # a t.me/s page is ~100 KB; anything this big is hostile
MAX_POSTS_PER_PAGE = 200  # Telegram serves 20
MAIN_LINK_MAX_CHARS = 600  # a "link post" has at most this much text of its own
TITLE_CHARS = 160  # a post has no headline: its first line, cut at a word
TELEGRAM_HOSTS = frozenset({"t.me", "telegram.me", "telegra.ph"})
_IMAGE_RE = re.compile(r"\.(?:jpe?g|png|gif|webp|mp4)$", re.I)
_POST_RE = re.compile(r"^([A-Za-z0-9_]{1,64})/(\d{1,12})$")
_DROP = ("script", "style", "noscript", "template", "iframe", "object", "svg")


def _has_class(name: str) -> str:
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {name} ')"


_POSTS = f".//div[{_has_class('tgme_widget_message')} and @data-post]"
_TEXT = (
    f".//div[{_has_class('js-message_text')}"
    f" and not(ancestor::*[{_has_class('tgme_widget_message_reply')}])]"
)


@dataclass(frozen=True, slots=True)
class _Post:
    post_id: str
    channel: str
    text: str
    links: tuple[str, ...]
    preview: tuple[str, str, str, str]  # url, site, title, description
    forwarded: str
    media: str
    published: datetime | None
    author: str


class TelegramAdapter:
    """Posts of a t.me/s/ page become items; the text is already in the item."""

    kind = "telegram"

    def parse(
        self, page: Page, spec: FeedSpec, *, depth: int, first_poll: bool
    ) -> Parsed:
        """Parse one t.me/s page (see the module docstring)."""
        root = _html_root(page.body, spec.name)
        posts = [p for p in (_post(el) for el in root.xpath(_POSTS)) if p is not None]
        if not posts and not root.xpath(f"//*[{_has_class('tgme_channel_info')}]"):
            raise FeedError(_no_preview_message(root, page), resource=spec.name)
        items = [item for p in posts if (item := _item(p, spec)) is not None]
        follow: tuple[str, ...] = ()
        if first_poll and depth < spec.backfill_pages:
            follow = _older_page(root, page.final_url)
        title = _clean_title(
            _text_of(root, f"//*[{_has_class('tgme_channel_info_header_title')}]")
        )
        logger.info(
            "parsed telegram=%s posts=%d items=%d depth=%d",
            spec.name,
            len(posts),
            len(items),
            depth,
        )
        return Parsed(title=title, items=tuple(items), follow=follow)

    def select(self, spec: FeedSpec, items: list[FeedItem]) -> tuple[FeedItem, ...]:
        """Every post, once (a post seen on two pages keeps the newest page's copy)."""
        return tuple(unique_items(items))

    def needs_page(self, spec: FeedSpec, url: str) -> bool:
        """Only an outlet article a link post points at (``fetch_linked``)."""
        return spec.fetch_linked and urlsplit(url).hostname not in TELEGRAM_HOSTS


# ---------------------------------------------------------------------- parsing


def _html_root(body: bytes, feed_name: str) -> lxml.html.HtmlElement:
    if len(body) > MAX_PAGE_BYTES:
        raise FeedError(
            f"telegram page too large: {len(body)} bytes > {MAX_PAGE_BYTES}",
            resource=feed_name,
        )
    if not body.strip():
        raise FeedError("empty response, not a t.me/s page", resource=feed_name)
    parser = lxml.html.HTMLParser(encoding="utf-8", no_network=True, huge_tree=False)
    try:
        root = lxml.html.document_fromstring(body, parser=parser)
    except (lxml.etree.ParserError, ValueError) as exc:
        raise FeedError(f"not an HTML page: {exc}", resource=feed_name) from exc
    for el in list(root.iter(*_DROP)):
        el.drop_tree()  # markup in a post is never text (issue #14: hostile pages)
    return root


def _post(el: lxml.html.HtmlElement) -> _Post | None:
    match = _POST_RE.match(el.get("data-post", ""))
    if match is None or "service_message" in el.get("class", ""):
        return None
    if el.xpath(f".//*[{_has_class('tgme_widget_service_message')}]"):
        return None
    texts = el.xpath(_TEXT)
    text_el = texts[0] if texts else None
    return _Post(
        post_id=match.group(0),
        channel=match.group(1),
        text=_rich_text(text_el) if text_el is not None else "",
        links=_links(text_el) if text_el is not None else (),
        preview=_preview(el),
        forwarded=_text_of(
            el, f".//*[{_has_class('tgme_widget_message_forwarded_from_name')}]"
        ),
        media=_media(el),
        published=_published(el),
        author=_text_of(el, f".//*[{_has_class('tgme_widget_message_owner_name')}]"),
    )


def _rich_text(el: lxml.html.HtmlElement) -> str:
    """The element's text with ``<br>`` as line breaks."""
    for br in el.iter("br"):
        br.tail = "\n" + (br.tail or "")
    return _clean(el.text_content())


def _links(el: lxml.html.HtmlElement) -> tuple[str, ...]:
    out = []
    for a in el.iter("a"):
        href = (a.get("href") or "").strip()
        if href.startswith(("http://", "https://")) and "?q=%23" not in href:
            out.append(href)
    return tuple(dict.fromkeys(out))


def _preview(el: lxml.html.HtmlElement) -> tuple[str, str, str, str]:
    found = el.xpath(f".//a[{_has_class('tgme_widget_message_link_preview')}]")
    if not found:
        return ("", "", "", "")
    box = found[0]
    return (
        (box.get("href") or "").strip(),
        _text_of(box, f".//*[{_has_class('link_preview_site_name')}]"),
        _text_of(box, f".//*[{_has_class('link_preview_title')}]"),
        _text_of(box, f".//*[{_has_class('link_preview_description')}]"),
    )


def _media(el: lxml.html.HtmlElement) -> str:
    """A caption for what the post carries besides text."""
    parts = []
    docs = [
        _clean(d.text_content())
        for d in el.xpath(f".//*[{_has_class('tgme_widget_message_document_title')}]")
    ]
    if docs:
        parts.append("Document: " + ", ".join(d for d in docs if d))
    poll = _text_of(el, f".//*[{_has_class('tgme_widget_message_poll_question')}]")
    if poll:
        parts.append(f"Poll: {poll}")
    for cls, label in (
        ("tgme_widget_message_photo_wrap", "Photo"),
        ("tgme_widget_message_video_player", "Video"),
        ("tgme_widget_message_voice", "Voice message"),
        ("tgme_widget_message_sticker_wrap", "Sticker"),
    ):
        if el.xpath(f".//*[{_has_class(cls)}]"):
            parts.append(label)
    return "; ".join(parts)


def _published(el: lxml.html.HtmlElement) -> datetime | None:
    found = el.xpath(f".//*[{_has_class('tgme_widget_message_date')}]//time/@datetime")
    try:
        value = datetime.fromisoformat(str(found[0]).strip()) if found else None
    except ValueError:
        value = None
    if value is None:
        logger.debug("telegram post without a date: %s", el.get("data-post"))
        return None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _text_of(el: lxml.html.HtmlElement, xpath: str) -> str:
    found = el.xpath(xpath)
    return _clean(" ".join(found[0].text_content().split())) if found else ""


def _older_page(root: lxml.html.HtmlElement, base: str) -> tuple[str, ...]:
    hrefs = root.xpath("//link[@rel='prev']/@href") or root.xpath(
        f"//a[{_has_class('tme_messages_more')}]/@href"
    )
    if not hrefs:
        return ()
    url = urljoin(base, str(hrefs[0]))
    return (url,) if urlsplit(url).scheme in ("http", "https") else ()


def _no_preview_message(root: lxml.html.HtmlElement, page: Page) -> str:
    parts = urlsplit(page.final_url)
    name = parts.path.strip("/").split("/")[-1] or "?"
    title = _text_of(root, "//title")
    if root.xpath(f"//*[{_has_class('tgme_page_extra')}]") or not parts.path.startswith(
        "/s/"
    ):
        return (
            f"not a channel preview page ({title or page.final_url}): "
            f"use https://t.me/s/{name}"
        )
    if root.xpath(f"//*[{_has_class('tgme_page')}]"):
        return (
            f"telegram channel @{name} not found, or it has no public web preview "
            f"(got {title!r})"
        )
    return f"not a t.me/s page (no posts, no channel header; title {title!r})"


# ---------------------------------------------------------------------- items


def _item(post: _Post, spec: FeedSpec) -> FeedItem | None:
    own = post.text
    if not own and not post.media:
        return None  # nothing to show at all
    if not own and spec.media_only == "skip":
        return None
    first_line = (own or post.media).split("\n", 1)[0]
    title = (
        _clean(" ".join(first_line.split()), limit=TITLE_CHARS)
        or f"Post {post.post_id}"
    )
    link = f"https://t.me/{post.post_id}"
    main = _main_link(post)
    if spec.fetch_linked and main:
        link = main
    return FeedItem(
        feed_name=spec.name,
        entry_id=post.post_id,
        link=link,
        title=title,
        published=post.published,
        content=_content(post),
        author=post.forwarded or post.author or None,
        lang=spec.lang,
    )


def _content(post: _Post) -> str:
    paragraphs = [post.text or post.media]
    url, site, title, description = post.preview
    if url and (title or description):
        head = " — ".join(x for x in (site, title) if x)
        paragraphs.append(f"Link preview: {head}: {description} ({url})".strip())
    if post.links:
        paragraphs.append("Links: " + " ".join(post.links))
    if post.forwarded:
        paragraphs.append(f"Forwarded from {post.forwarded}")
    return _clean("\n\n".join(p for p in paragraphs if p))


def _main_link(post: _Post) -> str:
    """The outlet article a short post mainly points at, if exactly one."""
    if len(post.text) > MAIN_LINK_MAX_CHARS:
        return ""
    candidates = [*post.links, post.preview[0]] if post.preview[0] else [*post.links]
    outside = {
        u
        for u in candidates
        if u
        and urlsplit(u).hostname not in TELEGRAM_HOSTS
        and not _IMAGE_RE.search(urlsplit(u).path)
    }
    return outside.pop() if len(outside) == 1 else ""
