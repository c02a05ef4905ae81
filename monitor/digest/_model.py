"""The digest data model: one set of frozen records that every format renders.

All text in these records is *untrusted* article content that has already been
cleaned of control characters; renderers escape it for their own format.  URLs
are either ``None`` or a checked http(s) URL (`safe_url`).

Which timestamp decides the digest day (issue #6, issue #7 "clock and dates"):
an article's *effective time* is its ``published`` date, unless that is missing
or lies more than `FUTURE_TOLERANCE` after the moment the monitor first saw the
article (a feed clock in the future); then ``first_seen`` is used.  The local
calendar day of the effective time in the digest time zone is the article's
day.  "Since the last digest" windows select by ``first_seen`` instead: they
mean "new to me".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

FUTURE_TOLERANCE = timedelta(hours=1)
OTHER_LABEL = "Other"
TOP_LABEL = "Top stories"

_CONTROL_RE = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]"
)
_SPACE_RE = re.compile(r"\s+")
_ANY_SPACE_RE = re.compile(r"\s")


@dataclass(frozen=True, slots=True, kw_only=True)
class DigestPeriod:
    """The window a digest covers: ``[start, end)`` in UTC.

    Attributes:
        key: ``YYYY-MM-DD`` for a calendar day, ``since:<iso start>`` otherwise;
            the key of the ``digests`` / ``deliveries`` rows.
        day: the local calendar day, or None for a "since" window.
        timezone: IANA zone name used for day boundaries and displayed times.
        utc_offset: the zone's offset at the window start, e.g. ``UTC+05:00``.
    """

    key: str
    start: datetime
    end: datetime
    timezone: str
    day: date | None = None
    utc_offset: str = ""

    @property
    def slug(self) -> str:
        """File-name stem: ``2026-11-25`` or ``2026-11-25-since-0600``."""
        if self.day is not None:
            return self.day.isoformat()
        local = self.end.astimezone(ZoneInfo(self.timezone))
        return f"{local:%Y-%m-%d}-since-{local:%H%M}"

    @property
    def label(self) -> str:
        """Human label: ``Wednesday 25 November 2026`` or a since-range."""
        tz = ZoneInfo(self.timezone)
        if self.day is not None:
            return f"{self.day:%A} {self.day.day} {self.day:%B %Y}"
        start, end = self.start.astimezone(tz), self.end.astimezone(tz)
        return f"{start:%d %b %Y %H:%M} – {end:%d %b %Y %H:%M}"


@dataclass(frozen=True, slots=True, kw_only=True)
class CopyLink:
    """Another outlet's copy of a story ("also: Vlast.kz (ru)")."""

    outlet: str
    country: str
    lang: str
    url: str | None
    title: str = ""
    copies: int = 1  # copies of the story this outlet carried (one line each outlet)


@dataclass(frozen=True, slots=True, kw_only=True)
class Filing:
    """One topic a story was filed under (the JSON digest keeps all of them)."""

    topic: str  # the heading readers see
    score: float
    rule: str
    terms: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class DigestStory:
    """One story as the analyst sees it, under one topic."""

    story_key: str  # hash of the story's first canonical URL: independent of db ids
    headline: str  # English when available, else the original
    original_headline: str | None  # the original, when the headline is a translation
    outlet: str
    country: str
    lang: str
    time: datetime  # effective time of the shown article, UTC
    last_time: datetime  # latest effective time of any article in the story (ranking)
    local_time: str  # "09:40" (or "25 Nov 09:40" in multi-day windows)
    lede: str
    url: str | None
    also: tuple[CopyLink, ...] = ()
    outlets: int = 1
    countries: tuple[str, ...] = ()  # of the outlets that carried it
    about: tuple[str, ...] = ()  # countries/regions it was filed under (rules)
    rule: str = ""
    terms: tuple[str, ...] = ()
    other_topics: tuple[str, ...] = ()  # the other topics, in configured order
    translation_marker: str | None = None  # e.g. "untranslated (no kk→en model)"
    translated_by: str | None = None  # "translated by nllb:NAME" / "tried ..."
    is_teaser: bool = False
    article_id: int = 0  # the shown article (`monitor explain ID`)
    story_id: int | None = None  # its story (the workbench's /story/ID); not rendered
    article_ids: tuple[int, ...] = ()  # every article of the story in the window
    topic: str = ""  # the primary topic (highest score; ties: configured order)
    filings: tuple[Filing, ...] = ()  # every topic, primary first
    untranslated: int = 0  # articles of the story without an English text
    outlet_names: tuple[str, ...] = ()  # every outlet that carried it

    @property
    def primary_country(self) -> str | None:
        """The country the story is mostly about (most weighted mentions)."""
        return self.about[0] if self.about else None

    @property
    def topics(self) -> tuple[str, ...]:
        """The primary topic, then the others in configured order."""
        return (self.topic, *self.other_topics) if self.topic else self.other_topics


@dataclass(frozen=True, slots=True, kw_only=True)
class TopicSection:
    """A topic and its ranked stories (``omitted`` were cut by the per-topic cap)."""

    label: str
    stories: tuple[DigestStory, ...]
    omitted: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedProblem:
    """A feed that failed or went silent."""

    name: str
    outlet: str
    country: str
    status: str  # "failing" | "pages failing" | "silent" | "never polled"
    detail: str
    since: str  # local time of the last success / new item, or "never"
    kind: str = "feed"  # the source kind: feed, telegram, sitemap, page (#14)


@dataclass(frozen=True, slots=True, kw_only=True)
class DigestStats:
    articles: int = 0
    stories: int = 0
    outlets: int = 0
    untranslated: int = 0
    feeds: int = 0
    feeds_with_problems: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class DigestNav:
    """Links from a day's page to its neighbours in the archive (relative URLs)."""

    archive: str  # the index page
    previous: str | None = None
    previous_label: str = ""
    next: str | None = None
    next_label: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Digest:
    """Everything one digest shows, in display order."""

    title: str
    period: DigestPeriod
    generated_at: datetime
    sections: tuple[TopicSection, ...]
    other: TopicSection | None = None
    feed_problems: tuple[FeedProblem, ...] = ()
    stats: DigestStats = field(default_factory=DigestStats)
    topics: tuple[str, ...] = ()  # None of a recipient filter: every topic
    top: TopicSection | None = None  # "Top stories": shown first, not repeated
    topic_order: tuple[str, ...] = ()  # every topic heading, configured order
    nav: DigestNav | None = None  # archive neighbours (set when written)

    @property
    def is_empty(self) -> bool:
        """True when no story at all falls into the window."""
        return (
            not self.sections
            and (self.other is None or not self.other.stories)
            and (self.top is None or not self.top.stories)
        )

    @property
    def all_sections(self) -> tuple[TopicSection, ...]:
        """Topic sections followed by "Other" (if it has stories)."""
        if self.other is not None and self.other.stories:
            return (*self.sections, self.other)
        return self.sections


# ---------------------------------------------------------------------- time rules


def day_bounds(day: date, tz: str) -> tuple[datetime, datetime]:
    """UTC ``[start, end)`` of a local calendar day (DST-safe).

    Example: 2026-11-25 in Asia/Almaty (UTC+5) is
    2026-11-24T19:00Z .. 2026-11-25T19:00Z.
    """
    zone = ZoneInfo(tz)
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC"))


def local_day(moment: datetime, tz: str) -> date:
    """The local calendar day of an aware moment (23:30Z is the next Almaty day)."""
    return moment.astimezone(ZoneInfo(tz)).date()


def effective_time(published: datetime | None, first_seen: datetime) -> datetime:
    """The timestamp that decides an article's digest day (see module doc)."""
    if published is None or published > first_seen + FUTURE_TOLERANCE:
        return first_seen
    return published


def day_period(day: date, tz: str) -> DigestPeriod:
    """The period of one local calendar day."""
    start, end = day_bounds(day, tz)
    return DigestPeriod(
        key=day.isoformat(),
        start=start,
        end=end,
        timezone=tz,
        day=day,
        utc_offset=_offset(start, tz),
    )


def since_period(start: datetime, end: datetime, tz: str) -> DigestPeriod:
    """A "since the last digest" window ``[start, end)``."""
    utc = ZoneInfo("UTC")
    start, end = start.astimezone(utc), end.astimezone(utc)
    return DigestPeriod(
        key=f"since:{start.isoformat(timespec='seconds')}",
        start=start,
        end=end,
        timezone=tz,
        utc_offset=_offset(start, tz),
    )


def _offset(moment: datetime, tz: str) -> str:
    local = moment.astimezone(ZoneInfo(tz))
    text = local.strftime("%z")  # +0500
    return f"UTC{text[:3]}:{text[3:]}" if text else "UTC"


# ---------------------------------------------------------------------- text rules


def clean_text(value: str | None) -> str:
    """Untrusted text → one line: NFC, no control/bidi characters, single spaces."""
    if not value:
        return ""
    if _clean_already(value):
        return value  # most fields: the same answer, without three passes
    value = unicodedata.normalize("NFC", value)
    value = _CONTROL_RE.sub(" ", value)
    return _SPACE_RE.sub(" ", value).strip()


def _clean_already(value: str) -> bool:
    """Whether `clean_text` would return ``value`` unchanged: printable (no
    control, format or bidi character, no whitespace but the plain space),
    single-spaced, trimmed and NFC."""
    return (
        value.isprintable()
        and "  " not in value
        and value[0] != " "
        and value[-1] != " "
        and unicodedata.is_normalized("NFC", value)
    )


def safe_url(value: str | None) -> str | None:
    """An absolute http(s) URL, or None: never ``javascript:``, ``data:`` etc."""
    if not value:
        return None
    value = value.strip()
    if _CONTROL_RE.search(value) or _ANY_SPACE_RE.search(value):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return value


# A sentence ends at . ! ? or … (optionally followed by a closing quote or
# bracket) before whitespace and a capital or digit; initials ("A. Smith",
# "U.S.") do not end one.
_SENTENCE_RE = re.compile(
    r"(?:(?<=[.!?…])|(?<=[.!?…][\"»”')\]]))"
    r"(?<!\b\w\.)(?<!\b\w\.[\"»”')\]])"
    r"\s+(?=[\"«“'(\[]?[A-ZА-ЯЁ0-9])"
)


_LEDE_READ = 2  # a lede first reads this many times its cap (and headline) of a body
_CUT_MARGIN = 8  # cleaned characters before a cut that a lede may not depend on


def make_lede(text: str, *, sentences: int, max_chars: int, skip: str = "") -> str:
    """The first ``sentences`` sentences of ``text``, capped at ``max_chars``.

    Only the start of a long body is cleaned and split (a lede reads a few
    hundred characters of a body that may hold 100 KB): a prefix cut at
    whitespace gives exactly the whole body's lede once it holds those
    sentences or more than the cap, away from the cut; otherwise a longer one is
    read, up to the whole body.

    Args:
        text: article body (untrusted, any whitespace).
        sentences: how many sentences to keep (2-3 reads well).
        max_chars: hard cap; longer ledes are cut at a word boundary with "…".
        skip: a headline to drop when the body repeats it as its first line.

    Returns:
        The lede, or "" when the text is empty.
    """
    head, wanted = clean_text(skip), max(1, sentences)
    size = _LEDE_READ * (max_chars + len(skip)) + 64
    while size < len(text):
        cut = max(text.rfind(" ", 0, size), text.rfind("\n", 0, size))
        if cut <= 0:
            break
        body = clean_text(text[:cut])[:-_CUT_MARGIN]  # away from the cut
        if len(body) > len(head) + _CUT_MARGIN:  # enough to see the headline
            parts, lede = _sentences(body, head, wanted)
            if len(parts) > wanted or len(lede) >= max_chars + _CUT_MARGIN:
                return _capped(lede, max_chars)
        size *= 4
    return _capped(_sentences(clean_text(text), head, wanted)[1], max_chars)


def _sentences(body: str, head: str, wanted: int) -> tuple[list[str], str]:
    """A cleaned body's sentences (without a repeated headline) and the first
    ``wanted`` of them joined."""
    if head and body.startswith(head):
        body = body[len(head) :].lstrip(" .:-—")
    parts = [p for p in _SENTENCE_RE.split(body) if p]
    return parts, " ".join(parts[:wanted])


def _capped(lede: str, max_chars: int) -> str:
    if len(lede) <= max_chars:
        return lede
    cut = lede[: max_chars - 1]
    if " " in cut[max_chars // 2 :]:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,;:—-") + "…"
