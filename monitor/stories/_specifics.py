"""Conflicting specifics: negative evidence that two articles report different events.

Articles of one thread (a protest series, a party dispute, a daily weather
forecast) share vocabulary, places and people, so a bag-of-words score cannot
tell them apart.  Their headlines can: a headline names what makes its event
this event.  Two kinds of headline specifics are compared (issue #5):

* **dates**: a day and a month ("8 ноября", "November 8", "8 Nov"), folded
  to ``MM-DD`` so Russian and English agree.  Two headlines that each carry a
  date and share none are about different days ("Прогноз погоды на 8 ноября" /
  "… на 18 ноября").
* **names**: entity keys (`_text.entity_key`) of the headline's capitalised
  words.  When each headline names someone or somewhere the *other article
  never mentions at all* (title or body), the two report different events:
  «В Алматы прошел митинг…» / «В Астане прошел митинг…».  One-sided
  novelty is not a conflict (a follow-up adds a name; a rewrite drops one).
* **quoted names**: the content terms of what a headline puts in quotes (a
  contest, a film, a ship, a party: «Кофемания», "Слуга народа").  Quoted
  names are often lower-case or acronyms, which the name rule skips; they are
  compared the same way (issue #17): each headline quotes something the other
  article's terms never contain.

All functions are pure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ._text import _is_name, content_terms, entity_key, normalise_words, words_of

QUOTE_RE = re.compile(r"[«\"“„]([^«»\"“”„]{2,80})[»\"”“]")
MAX_QUOTE_WORDS = 6  # longer quoted spans are citations, not names
MIN_PREFIX = 3  # keys this long match a longer key they start (Алматы/Алматинской)

_RU_MONTHS = {
    "январ": 1,
    "феврал": 2,
    "март": 3,
    "апрел": 4,
    "мая": 5,
    "май": 5,
    "июн": 6,
    "июл": 7,
    "август": 8,
    "сентябр": 9,
    "октябр": 10,
    "ноябр": 11,
    "декабр": 12,
}
_EN_MONTHS = {
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "may": 5,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "sept": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}
_EN_FULL = (
    "january february march april may june july august september october "
    "november december"
).split()
_DAY_RE = re.compile(r"^(\d{1,2})(?:-?(?:го|st|nd|rd|th))?$")


def _month(word: str) -> int | None:
    if word in _EN_FULL:
        return _EN_FULL.index(word) + 1
    if word in _EN_MONTHS:
        return _EN_MONTHS[word]
    for stem, month in _RU_MONTHS.items():
        if word.startswith(stem) and len(word) - len(stem) <= 2:
            return month
    return None


def _day(word: str) -> int | None:
    m = _DAY_RE.match(word)
    if m is None:
        return None
    day = int(m.group(1))
    return day if 1 <= day <= 31 else None


def title_dates(title: str) -> frozenset[str]:
    """Calendar dates (``MM-DD``) a headline names: "8 ноября", "November 8", "8th Nov".

    Args:
        title: a headline in any language.

    Returns:
        The dates found (often none).
    """
    words = normalise_words(title)
    found: set[str] = set()
    for i, word in enumerate(words):
        month = _month(word)
        if month is None:
            continue
        for j in (i - 1, i + 1):  # "8 ноября" / "November 8"
            day = _day(words[j]) if 0 <= j < len(words) else None
            if day is not None:
                found.add(f"{month:02d}-{day:02d}")
                break
    return frozenset(found)


def title_names(title: str) -> frozenset[str]:
    """Entity keys of a headline's names (capitalised words after the first).

    Title Case headlines (most words capitalised, common in English) carry no
    usable capitalisation and give nothing.

    Args:
        title: a headline.

    Returns:
        The keys.
    """
    words = words_of(title)
    if not words or sum(1 for w in words if w[0].isupper()) > len(words) / 2:
        return frozenset()
    return frozenset(k for w in words[1:] if _is_name(w) and (k := entity_key(w)))


def _mentions(key: str, keys: Iterable[str]) -> bool:
    for other in keys:
        if other == key:
            return True
        short, long_ = (key, other) if len(key) <= len(other) else (other, key)
        if len(short) >= MIN_PREFIX and long_.startswith(short):
            return True
    return False


def names_conflict(
    title_a: frozenset[str],
    all_a: frozenset[str],
    title_b: frozenset[str],
    all_b: frozenset[str],
) -> bool:
    """Each headline names something the other article never mentions.

    Args:
        title_a: `title_names` of article a.
        all_a: every entity key of article a (title and body).
        title_b: `title_names` of article b.
        all_b: every entity key of article b.

    Returns:
        True when both sides have such a name.
    """
    if not title_a or not title_b:
        return False
    seen_b = all_b | title_b
    seen_a = all_a | title_a
    return any(not _mentions(k, seen_b) for k in title_a) and any(
        not _mentions(k, seen_a) for k in title_b
    )


def dates_conflict(dates_a: frozenset[str], dates_b: frozenset[str]) -> bool:
    """Both headlines carry a date and they share none."""
    return bool(dates_a) and bool(dates_b) and not dates_a & dates_b


def title_quotes(title: str, lang: str) -> frozenset[str]:
    """Quoted names of a headline, each as its content terms joined by spaces.

    «Кофемания» → ``"кофеман"``; «На спорте» → ``"спорт"``; a quoted span of
    more than `MAX_QUOTE_WORDS` words (a citation) is skipped.

    Args:
        title: a headline.
        lang: its language (for stemming, as `_text.content_terms`).

    Returns:
        The quoted names (often none).
    """
    found: set[str] = set()
    for span in QUOTE_RE.findall(title):
        words = normalise_words(span)
        terms = [t for t in content_terms(words, lang) if not t.startswith("#")]
        if terms and len(words) <= MAX_QUOTE_WORDS:
            found.add(" ".join(terms))
    return frozenset(found)


def _quote_seen(quote: str, terms: frozenset[str]) -> bool:
    return any(t in terms for t in quote.split())


def quotes_conflict(
    quotes_a: frozenset[str],
    terms_a: frozenset[str],
    quotes_b: frozenset[str],
    terms_b: frozenset[str],
) -> bool:
    """Each headline quotes a name none of whose terms the other article has.

    Args:
        quotes_a: `title_quotes` of article a.
        terms_a: the terms of article a (title and lead).
        quotes_b: `title_quotes` of article b.
        terms_b: the terms of article b.

    Returns:
        True when both sides have such a quoted name.
    """
    if not quotes_a or not quotes_b:
        return False
    return any(not _quote_seen(q, terms_b) for q in quotes_a) and any(
        not _quote_seen(q, terms_a) for q in quotes_b
    )
