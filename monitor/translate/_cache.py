"""The sentence-level translation cache (issue #3).

Keyed by sha256(model id, source sentence): reposted or re-fetched articles and
repeated boilerplate cost no model time the second time.  A sentence the guards
rejected is cached too, as the empty string, because decoding is deterministic:
the same model would reject it again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from ._split import split_paragraphs, split_sentences

REJECTED = ""  # cached value meaning "guards rejected every attempt"


class TranslationCache(Protocol):
    """What the translator needs from storage (``monitor.store.Storage`` has it)."""

    def get_cached_translations(
        self, model: str, keys: Sequence[str]
    ) -> dict[str, str]:
        """Return {key: output} for the keys that are cached."""
        ...

    def add_cached_translations(
        self, model: str, items: Mapping[str, str], now: datetime
    ) -> None:
        """Store {key: output}; existing keys are overwritten."""
        ...


def cache_prune_before(now: datetime, cache_days: int) -> datetime | None:
    """Sentences cached before this moment are dropped (issue #19); None keeps all.

    The cache is bounded by age: a sentence seen again after it was dropped is
    translated once more and cached again, so pruning costs model time, never
    a translation.
    """
    return None if cache_days <= 0 else now - timedelta(days=cache_days)


def cache_key(model: str, sentence: str) -> str:
    """The cache key of one source sentence under one model."""
    return hashlib.sha256(f"{model}\x00{sentence}".encode()).hexdigest()


def article_cache_keys(
    engine: str | None, title: str, text: str, *, max_chars: int = 1000
) -> tuple[str, ...]:
    """The cache keys an article's sentences may have been stored under (#19).

    ``engine`` is the article's ``translation_engine``: the comma-separated model
    ids the translator ran with.  Sentences are split exactly as the
    translator splits them (title, then each translatable paragraph), and each
    is keyed under every one of those models: a key that was never stored
    costs nothing.  None (never translated): no keys.
    """
    models = [m for m in (engine or "").split(",") if m]
    if not models:
        return ()
    sentences = _sentences(title, max_chars)
    for segment in split_paragraphs(text):
        if segment.translate:
            sentences += _sentences(segment.text, max_chars)
    unique = dict.fromkeys(sentences)
    return tuple(cache_key(m, s) for m in models for s in unique)


def _sentences(paragraph: str, max_chars: int) -> list[str]:
    stripped = paragraph.strip()
    return split_sentences(stripped, max_chars=max_chars) if stripped else []


class MemoryCache:
    """An in-memory `TranslationCache`, for tests and one-off runs."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], str] = {}

    def get_cached_translations(
        self, model: str, keys: Sequence[str]
    ) -> dict[str, str]:
        return {k: self.entries[(model, k)] for k in keys if (model, k) in self.entries}

    def add_cached_translations(
        self, model: str, items: Mapping[str, str], now: datetime
    ) -> None:
        for key, output in items.items():
            self.entries[(model, key)] = output
