"""Article extraction: page bytes + feed item → `Extracted` (issue #2).

trafilatura does the main-text extraction; this module adds what the pipeline
needs around it:

- **Decoding.**  trafilatura ignores declared charsets (it tries UTF-8, then
  charset-normalizer guesses).  We decode first with `monitor.lang.decode_text`
  using the HTTP charset and the ``<meta charset>``, so a correct declaration
  is respected and a wrong one (cp1251 labelled utf-8, meta/header mismatch)
  is repaired, then hand trafilatura a ``str``.  Bodies are capped at
  `MAX_HTML_CHARS`.
- **Fallback chain.**  Page text of at least ``cfg.min_chars`` wins.
  Otherwise the feed's full content (``content:encoded`` or a full-text
  field such as ``yandex:full-text``), then its summary, then the title; a
  short page text is still preferred to a shorter feed text.  `TextSource`
  records which one was used.
- **Teasers.**  ``is_teaser`` is set for summary- or title-only text, text
  shorter than ``cfg.teaser_chars``, pages with paywall markers (Russian and
  English phrases, JSON-LD ``isAccessibleForFree: false``) and texts ending in
  a "read more" link.
- **Metadata.**  Title: the feed's, else the page's.  Author: the page's, else
  the feed's.  Canonical URL: ``<link rel=canonical>``/``og:url`` as found by
  trafilatura, else the final URL, else the item link; always passed through
  `canonicalize_url`.
- **Date rule.**  The feed's ``published`` (a full timestamp written by the
  CMS) wins when present; the page date (htmldate: a day, no time) is only
  used when the feed has none, as midnight UTC of that day.  When both exist
  and differ by more than a day, the feed's is kept and the mismatch logged.
- **Language** is detected on title + text with the feed's language as hint.

`extract_article` never raises: bad HTML, a failed fetch or a trafilatura
error give the feed fallback, and the reason is logged.
"""

from __future__ import annotations

import html as htmllib
import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from .config import ExtractConfig
from .lang import decode_text, detect_language
from .models import Extracted, FeedItem, Page, TextSource
from .urls import canonicalize_url, may_merge_by_canonical

logger = logging.getLogger(__name__)

MAX_HTML_CHARS = 3_000_000  # longer pages are cut (trafilatura's cost grows with size)
_META_CHARSET_RE = re.compile(
    rb"<meta[^>]+charset\s*=\s*[\"']?\s*([\w.:-]+)", re.IGNORECASE
)
_HEADER_CHARSET_RE = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)
_NON_HTML_TYPES = ("application/pdf", "image/", "video/", "audio/", "application/zip")
PAYWALL_TAIL_CHARS = 600
PAYWALL_MARKERS = (
    "чтобы продолжить чтение",
    "доступно по подписке",
    "доступно только подписчикам",
    "только для подписчиков",
    "оформите подписку",
    "материал доступен",
    "subscribe to continue",
    "subscribe to read",
    "this article is for subscribers",
    "to continue reading",
    "already a subscriber",
)
_NOT_FREE_RE = re.compile(r"[\"']isAccessibleForFree[\"']\s*:\s*[\"']?false", re.I)
_READ_MORE_RE = re.compile(
    r"(?:читать далее|читать полностью|подробнее|продолжение следует|"
    r"read more|continue reading|full story|\[…\]|\[\.\.\.\]|…|\.\.\.)"
    r"[\s.:»>→]*$",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class PageText:
    """What trafilatura found on a page (private to this stage, but typed)."""

    text: str
    title: str | None
    author: str | None
    day: date | None
    url: str | None
    paywalled: bool


def extract_article(page: Page | None, item: FeedItem, cfg: ExtractConfig) -> Extracted:
    """Extract an article's text and metadata, falling back to the feed.

    Args:
        page: the fetched article page, or None when it could not be fetched.
        item: the feed item the page belongs to.
        cfg: thresholds (``min_chars``, ``teaser_chars``).

    Returns:
        The article; ``source`` says where the text came from.  Never raises.
    """
    found = (
        extract_page(page, headline=item.title, need_date=item.published is None)
        if page is not None
        else None
    )
    text, source = _choose_text(found, item, cfg)
    title = item.title or (found.title if found else None) or ""
    teaser = _is_teaser(text, source, found, cfg)
    lang = detect_language(f"{title}\n{text}", hint=item.lang)
    extracted = Extracted(
        text=text,
        title=title,
        author=(found.author if found else None) or item.author,
        published=_published(item, found),
        lang=lang,
        canonical_url=_canonical(page, item, found),
        source=source,
        is_teaser=teaser,
    )
    logger.debug(  # the pipeline logs the per-item summary line at INFO
        "extracted url=%s status=ok source=%s chars=%d teaser=%s lang=%s",
        item.link,
        source,
        len(text),
        teaser,
        lang,
    )
    return extracted


# --------------------------------------------------------------------- page


def extract_page(
    page: Page, *, headline: str = "", need_date: bool = True
) -> PageText | None:
    """Run trafilatura on a fetched page; None (and a log line) when unusable.

    Metadata comes from the page head (cheap) rather than trafilatura's
    metadata pass, which costs about a fifth of the extraction time; the date
    search (htmldate) runs only when ``need_date`` (the feed gave no date).

    Args:
        page: the fetched page.
        headline: the feed's title, used to drop a repeated headline.
        need_date: look for a publication date in the page.
    """
    url = page.final_url or page.requested_url
    reason = _unusable(page)
    if reason:
        logger.info("extract url=%s status=discarded reason=%s", url, reason)
        return None
    html = decode_html(page.body, page.content_type, page.charset)
    try:
        import trafilatura  # heavy: imported on the first page, not at CLI start-up

        # Parse once: htmldate reads the tree first, then trafilatura (which
        # prunes it) extracts from the same tree.
        tree = trafilatura.load_html(html)
        if tree is None:
            logger.info("extract url=%s status=discarded reason=unparsable", url)
            return None
        day = _find_day(tree, url, page.fetched_at) if need_date else None
        doc = trafilatura.bare_extraction(
            tree, url=url, include_comments=False, include_tables=True
        )
    except Exception as exc:  # lxml/trafilatura raise many types on hostile HTML
        logger.warning("extract url=%s status=error trafilatura failed: %r", url, exc)
        return None
    if doc is None:
        logger.info("extract url=%s status=discarded reason=no main text", url)
        return None
    head = head_metadata(html)
    title = head.get("title")
    text = _paragraphs(getattr(doc, "text", None) or "")
    text = _drop_heading(_drop_heading(text, headline), title)
    return PageText(
        text=text,
        title=title,
        author=head.get("author"),
        day=day,
        url=head.get("canonical") or head.get("og:url"),
        paywalled=_has_paywall(html, text),
    )


def _find_day(tree: Any, url: str, fetched_at: datetime) -> date | None:
    import htmldate  # heavy: only undated items need it

    found = htmldate.find_date(
        tree,
        url=url,
        original_date=True,
        extensive_search=False,  # 10 ms vs 200 ms a page; 22 vs 23 of 26 gold dates
        max_date=fetched_at.date().isoformat(),  # not the wall clock: pure
    )
    return _parse_day(found)


HEAD_CHARS = 200_000  # metadata is looked for in the head, or this much of the page
_TAG_RE = re.compile(r"<(?:meta|link)\b[^>]*>", re.IGNORECASE)
_ATTR_RE = re.compile(r"""([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")
_TITLE_TAG_RE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_HEAD_KEYS = {
    "canonical": "canonical",
    "og:url": "og:url",
    "author": "author",
    "article:author": "author",
    "og:title": "title",
}


def head_metadata(html: str) -> dict[str, str]:
    """``canonical``, ``og:url``, ``author`` and ``title`` from the page head.

    Values are whitespace-normalised and HTML-unescaped; an author that is a
    URL (``article:author`` often is) is ignored.
    """
    window = html[:HEAD_CHARS]
    end = window.lower().find("</head>")
    head = window[:end] if end >= 0 else window
    found: dict[str, str] = {}
    for tag in _TAG_RE.findall(head):
        attrs = {m[0].lower(): m[1] or m[2] or m[3] for m in _ATTR_RE.findall(tag)}
        key = (
            attrs.get("rel") or attrs.get("property") or attrs.get("name") or ""
        ).lower()
        value = _clean(
            htmllib.unescape(attrs.get("href") or attrs.get("content") or "")
        )
        field = _HEAD_KEYS.get(key)
        if field and value and field not in found:
            if not (field == "author" and value.startswith(("http://", "https://"))):
                found[field] = value
    if "title" not in found and (match := _TITLE_TAG_RE.search(head)):
        title = _clean(htmllib.unescape(match.group(1)))
        if title:
            found["title"] = title
    return found


def _unusable(page: Page) -> str | None:
    if not 200 <= page.status < 300:
        return f"http status {page.status}"
    if not page.body:
        return "empty body"
    ctype = (page.content_type or "").lower()
    if ctype.startswith(_NON_HTML_TYPES):
        return f"not HTML ({page.content_type})"
    return None


def decode_html(
    body: bytes, content_type: str | None, charset: str | None = None
) -> str:
    """Decode a page: header charset, then ``<meta charset>``, repaired if wrong.

    Args:
        body: the raw page bytes.
        content_type: the Content-Type header (its charset is used).
        charset: a charset the fetcher already parsed out, if any.

    Returns:
        The page as text, at most `MAX_HTML_CHARS` characters.
    """
    header = charset or _match(_HEADER_CHARSET_RE, content_type or "")
    meta = _META_CHARSET_RE.search(body[:4096])
    declared = [header, meta.group(1).decode("ascii", "replace") if meta else None]
    text, codec = decode_text(body[: MAX_HTML_CHARS * 2], declared)
    logger.debug("page decoded as %s (declared %s)", codec, declared)
    return text[:MAX_HTML_CHARS]


def _match(pattern: re.Pattern[str], text: str) -> str | None:
    found = pattern.search(text)
    return found.group(1) if found else None


def _has_paywall(html: str, text: str) -> bool:
    """JSON-LD says not free, or the text ends in a paywall phrase.

    Phrases are looked for in the tail of the extracted text only: subscription
    boxes for newsletters appear in the HTML of many free articles.
    """
    if _NOT_FREE_RE.search(html):
        return True
    tail = text[-PAYWALL_TAIL_CHARS:].lower()
    return any(marker in tail for marker in PAYWALL_MARKERS)


def _paragraphs(text: str) -> str:
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n\n".join(line for line in lines if line)


def _drop_heading(text: str, title: str | None) -> str:
    """Drop a first paragraph that repeats the headline (it is stored apart)."""
    first, _, rest = text.partition("\n\n")
    if title and rest and _same_words(first, title):
        return rest
    return text


def _same_words(a: str, b: str) -> bool:
    wa, wb = re.findall(r"\w+", a.lower()), re.findall(r"\w+", b.lower())
    return bool(wa) and (wa == wb or (wa == wb[: len(wa)] and len(wa) >= 0.6 * len(wb)))


def _clean(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    return " ".join(value.split()) or None


def _parse_day(value: object) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


# --------------------------------------------------------------------- decisions


def _choose_text(
    found: PageText | None, item: FeedItem, cfg: ExtractConfig
) -> tuple[str, TextSource]:
    page_text = found.text if found else ""
    if len(page_text) >= cfg.min_chars:
        return page_text, TextSource.PAGE
    for text, source in (
        (item.content, TextSource.FEED_CONTENT),
        (item.summary, TextSource.FEED_SUMMARY),
    ):
        if text and len(text) >= len(page_text):
            return text, source
    if page_text:
        return page_text, TextSource.PAGE
    return item.title, TextSource.TITLE_ONLY


def _is_teaser(
    text: str, source: TextSource, found: PageText | None, cfg: ExtractConfig
) -> bool:
    if source in (TextSource.FEED_SUMMARY, TextSource.TITLE_ONLY):
        return True
    if len(text) < cfg.teaser_chars:
        return True
    if found is not None and found.paywalled and source is TextSource.PAGE:
        return True
    return bool(_READ_MORE_RE.search(text[-80:]))


def _published(item: FeedItem, found: PageText | None) -> datetime | None:
    day = found.day if found else None
    if item.published is not None:
        if day is not None and abs(item.published.date() - day) > timedelta(days=1):
            logger.info(
                "date mismatch url=%s feed=%s page=%s (feed kept)",
                item.link,
                item.published.date(),
                day,
            )
        return item.published
    if day is None:
        return None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _canonical(page: Page | None, item: FeedItem, found: PageText | None) -> str:
    fetched = page.final_url if page else item.link
    declared = found.url if found else None
    if declared and not may_merge_by_canonical(fetched, declared):
        declared = None  # another site's URL: issue #11.9
    for candidate in (declared, page.final_url if page else None, item.link):
        if candidate and candidate.startswith(("http://", "https://")):
            return canonicalize_url(candidate)
    return canonicalize_url(item.link)
