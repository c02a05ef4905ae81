"""Per-article story features: what clustering needs, computed once and stored.

`compute_features` turns a `StoryCandidate` into `StoryFeatures`; these are
serialised into ``story_features.features`` (`features_to_bytes`) so a later
run rebuilds its index for the time window without re-reading article text.
"""

from __future__ import annotations

import json
import struct
import sys
from array import array
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from datasketch import MinHash

from ..config import StoriesConfig
from ..models import Article
from ._specifics import title_dates, title_names, title_quotes
from ._text import (
    content_terms,
    entity_keys,
    normalise_title,
    normalise_words,
    shingles,
)

FORMAT_VERSION = 1
LEAD_WORDS = 200  # body words used for terms: the lead carries the story
MAX_TERMS = 120  # distinct terms kept per article (by frequency)
MINHASH_SCHEME = "affine32"
MINHASH_SEED = 1
FUTURE_SLACK = timedelta(days=1)  # a published date further after first_seen is bogus
_HEADER = struct.Struct("<4sI")
_MAGIC = b"SF01"


@dataclass(frozen=True, slots=True, kw_only=True)
class StoryCandidate:
    """An article as story clustering sees it (built by `candidate_from_article`)."""

    article_id: int
    outlet: str
    lang: str
    time: datetime  # when the article appeared: see `candidate_from_article`
    title: str
    text: str
    title_en: str | None = None
    text_en: str | None = None
    is_teaser: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class StoryFeatures:
    """What clustering keeps about one article (stored in ``story_features``)."""

    article_id: int
    outlet: str
    lang: str
    time: datetime
    title_key: str  # normalised title, for same-outlet exact duplicates
    is_teaser: bool
    text_len: int
    terms: tuple[tuple[str, int], ...]  # original-language term counts
    terms_en: tuple[tuple[str, int], ...]  # English term counts ("" when lang is en)
    entities: tuple[str, ...]
    minhash: bytes  # uint32 MinHash values over word shingles of the original text
    shingle_count: int
    # Headline specifics (`_specifics`); empty in features stored before they existed.
    title_names: tuple[str, ...] = ()
    title_dates: tuple[str, ...] = ()
    title_quotes: tuple[str, ...] = ()  # quoted names of the headline (issue #17)


def candidate_from_article(article: Article) -> StoryCandidate:
    """Build the clustering input for a stored article.

    The article's time is its published date, unless that is missing or more
    than a day after it was first seen (a bogus date); then first_seen.

    Args:
        article: as storage returns it.

    Returns:
        The candidate.
    """
    time = article.published
    if time is None or time > article.first_seen + FUTURE_SLACK:
        time = article.first_seen
    return StoryCandidate(
        article_id=article.id,
        outlet=article.outlet,
        lang=(article.lang or "").lower() or "und",
        time=time.astimezone(UTC),
        title=article.title,
        text=article.text,
        title_en=article.title_en,
        text_en=article.text_en,
        is_teaser=article.is_teaser,
    )


def _term_counts(title: str, text: str, lang: str) -> tuple[tuple[str, int], ...]:
    title_terms = content_terms(normalise_words(title), lang)
    body_terms = content_terms(normalise_words(text)[:LEAD_WORDS], lang)
    counts = Counter(body_terms)
    counts.update(title_terms * 2)  # the headline names the event: count it thrice
    return tuple(sorted(counts.most_common(MAX_TERMS)))


def _minhash(words: list[str], config: StoriesConfig) -> tuple[bytes, int]:
    grams = shingles(words, config.shingle_size)
    from datasketch import MinHash  # heavy (scipy): loaded on first use

    mh = MinHash(num_perm=config.num_perm, seed=MINHASH_SEED, scheme=MINHASH_SCHEME)
    mh.update_batch(sorted(grams))
    return mh.hashvalues.astype("<u4").tobytes(), len(grams)


def compute_features(candidate: StoryCandidate, config: StoriesConfig) -> StoryFeatures:
    """Compute the features of one article.

    Args:
        candidate: the article.
        config: the ``[stories]`` section (num_perm, shingle_size).

    Returns:
        Its features.
    """
    c = candidate
    words = normalise_words(f"{c.title}\n{c.text}")
    has_en = c.lang != "en" and bool(c.title_en or c.text_en)
    entities = entity_keys(c.title, c.text)
    if has_en:
        entities |= entity_keys(c.title_en or "", c.text_en or "")
    minhash, count = _minhash(words, config)
    return StoryFeatures(
        article_id=c.article_id,
        outlet=c.outlet,
        lang=c.lang,
        time=c.time,
        title_key=normalise_title(c.title),
        is_teaser=c.is_teaser,
        text_len=len(c.text),
        terms=_term_counts(c.title, c.text, c.lang),
        terms_en=_term_counts(c.title_en or "", c.text_en or "", "en")
        if has_en
        else (),
        entities=tuple(sorted(entities)),
        minhash=minhash,
        shingle_count=count,
        title_names=tuple(sorted(title_names(c.title))),
        title_dates=tuple(sorted(title_dates(c.title) | title_dates(c.title_en or ""))),
        title_quotes=tuple(sorted(title_quotes(c.title, c.lang))),
    )


def minhash_of(features: StoryFeatures, config: StoriesConfig) -> MinHash:
    """Rebuild a datasketch MinHash from stored values."""
    from datasketch import MinHash  # heavy (scipy): loaded on first use

    values = np.frombuffer(features.minhash, dtype="<u4").astype(np.uint32)
    return MinHash(
        num_perm=config.num_perm,
        seed=MINHASH_SEED,
        scheme=MINHASH_SCHEME,
        hashvalues=values,
    )


# SF02 (issue #19): the fields of SF01's JSON, decoded about twice as fast (a
# run decodes its whole 72-hour window).  After the header: the text fields
# split by _FIELD (sequences' items joined by _ITEM), then the term counts as
# little-endian uint16 (terms, then English terms), then the MinHash values.
# Features SF02 cannot hold (a separator or an empty item in a text, a count
# above 65,535: never, for normalised words) stay SF01.
_MAGIC2 = b"SF02"
_FIELD, _ITEM = "\x1e", "\x1f"
_FIELDS = 14
_COUNT_MAX = 0xFFFF


def features_to_bytes(features: StoryFeatures) -> bytes:
    """Serialise features for the ``story_features`` table (SF02, else SF01)."""
    f = features
    items = [*f.entities, *f.title_names, *f.title_dates, *f.title_quotes,
             *(t for t, _ in f.terms), *(t for t, _ in f.terms_en)]  # fmt: skip
    texts = [f.outlet, f.lang, f.title_key, *items]
    counts = [n for _, n in f.terms] + [n for _, n in f.terms_en]
    if (
        any(_FIELD in t or _ITEM in t for t in texts)
        or "" in items  # an empty item would not survive the split
        or any(not 0 <= n <= _COUNT_MAX for n in counts)
    ):
        return _features_to_json(f)
    fields = [
        str(f.article_id), f.outlet, f.lang, f.time.isoformat(), f.title_key,
        "1" if f.is_teaser else "0", str(f.text_len), str(f.shingle_count),
        _ITEM.join(t for t, _ in f.terms), _ITEM.join(t for t, _ in f.terms_en),
        _ITEM.join(f.entities), _ITEM.join(f.title_names),
        _ITEM.join(f.title_dates), _ITEM.join(f.title_quotes),
    ]  # fmt: skip
    payload = _FIELD.join(fields).encode()
    packed = array("H", counts)
    if sys.byteorder == "big":  # pragma: no cover - stored little-endian
        packed.byteswap()
    head = _HEADER.pack(_MAGIC2, len(payload))
    return head + payload + packed.tobytes() + f.minhash


def _items(text: str) -> tuple[str, ...]:
    return tuple(text.split(_ITEM)) if text else ()


def _features_from_sf02(blob: bytes, size: int) -> StoryFeatures:
    start = _HEADER.size + size
    fields = blob[_HEADER.size : start].decode().split(_FIELD)
    if len(fields) != _FIELDS:
        raise ValueError(f"story features SF02 with {len(fields)} fields, not 14")
    (article_id, outlet, lang, time, title_key, teaser, text_len, shingles,
     terms, terms_en, entities, names, dates, quotes) = fields  # fmt: skip
    words, words_en = _items(terms), _items(terms_en)
    end = start + 2 * (len(words) + len(words_en))
    if end > len(blob):
        raise ValueError(f"truncated story features ({len(blob)} bytes)")
    counts = array("H")
    counts.frombytes(blob[start:end])
    if sys.byteorder == "big":  # pragma: no cover - stored little-endian
        counts.byteswap()
    return StoryFeatures(
        article_id=int(article_id),
        outlet=outlet,
        lang=lang,
        time=datetime.fromisoformat(time),
        title_key=title_key,
        is_teaser=teaser == "1",
        text_len=int(text_len),
        terms=tuple(zip(words, counts[: len(words)], strict=True)),
        terms_en=tuple(zip(words_en, counts[len(words) :], strict=True)),
        entities=_items(entities),
        minhash=bytes(blob[end:]),
        shingle_count=int(shingles),
        title_names=_items(names),
        title_dates=_items(dates),
        title_quotes=_items(quotes),
    )


def _features_to_json(features: StoryFeatures) -> bytes:
    """SF01: the first format (JSON), still read and written as a fallback."""
    f = features
    meta = {
        "article_id": f.article_id,
        "outlet": f.outlet,
        "lang": f.lang,
        "time": f.time.isoformat(),
        "title_key": f.title_key,
        "is_teaser": f.is_teaser,
        "text_len": f.text_len,
        "terms": f.terms,
        "terms_en": f.terms_en,
        "entities": f.entities,
        "shingle_count": f.shingle_count,
        "title_names": f.title_names,
        "title_dates": f.title_dates,
        "title_quotes": f.title_quotes,
    }
    payload = json.dumps(meta, ensure_ascii=False, separators=(",", ":")).encode()
    return _HEADER.pack(_MAGIC, len(payload)) + payload + f.minhash


def features_from_bytes(blob: bytes) -> StoryFeatures:
    """Read features written by `features_to_bytes`.

    Raises:
        ValueError: the blob is not in this format (e.g. written by a newer version).
    """
    try:
        magic, size = _HEADER.unpack_from(blob)
    except struct.error as e:
        raise ValueError(f"truncated story features ({len(blob)} bytes)") from e
    if magic == _MAGIC2:
        return _features_from_sf02(blob, size)
    if magic != _MAGIC:
        raise ValueError(f"unknown story features format {magic!r}")
    meta = json.loads(blob[_HEADER.size : _HEADER.size + size])
    return StoryFeatures(
        article_id=int(meta["article_id"]),
        outlet=meta["outlet"],
        lang=meta["lang"],
        time=datetime.fromisoformat(meta["time"]),
        title_key=meta["title_key"],
        is_teaser=bool(meta["is_teaser"]),
        text_len=int(meta["text_len"]),
        terms=tuple((t, int(n)) for t, n in meta["terms"]),
        terms_en=tuple((t, int(n)) for t, n in meta["terms_en"]),
        entities=tuple(meta["entities"]),
        minhash=bytes(blob[_HEADER.size + size :]),
        shingle_count=int(meta["shingle_count"]),
        title_names=tuple(meta.get("title_names", ())),
        title_dates=tuple(meta.get("title_dates", ())),
        title_quotes=tuple(meta.get("title_quotes", ())),
    )
