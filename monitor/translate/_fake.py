"""A deterministic translator for other stages' tests (STYLE.md 31).

`FakeTranslator` runs the real article logic (language decisions, paragraphs,
sentences, cache, guards) over a fake engine that "translates" by a lookup
table, falling back to a Latin transliteration of the Cyrillic, so outputs are
predictable and pass the guards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime

from ._cache import TranslationCache
from ._core import ArticleTranslator, TranslateStats

_LATIN = "a b v g d e e zh z i y k l m n o p r s t u f kh ts ch sh shch  y  e yu ya"
_TRANSLIT = dict(
    zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюя", _LATIN.split(" "), strict=True)
)


def transliterate(text: str) -> str:
    """Russian Cyrillic to Latin letters (lossy; for test doubles only)."""
    out = []
    for ch in text:
        low = ch.lower()
        lat = _TRANSLIT.get(low)
        if lat is None:
            out.append(ch)
        else:
            out.append(lat.capitalize() if ch != low else lat)
    return "".join(out)


class FakeEngine:
    """A `SentenceEngine` that looks sentences up in a table, else transliterates."""

    def __init__(
        self,
        table: Mapping[str, str] | None = None,
        pairs: Iterable[tuple[str, str]] = (("ru", "en"),),
    ) -> None:
        self.table = dict(table or {})
        self._pairs = frozenset(pairs)
        self.calls: list[list[str]] = []

    @property
    def name(self) -> str:
        return "fake:1"

    @property
    def can_retry(self) -> bool:
        return True

    def pairs(self) -> frozenset[tuple[str, str]]:
        return self._pairs

    def model_id(self, src: str, dst: str) -> str:
        return f"fake:1:{src}-{dst}"

    def translate(
        self,
        src: str,
        dst: str,
        sentences: list[str],
        *,
        retry: bool,
        stats: TranslateStats,
    ) -> list[str]:
        self.calls.append(list(sentences))
        stats.model_calls += 1
        return [self.table.get(s, transliterate(s)) for s in sentences]


class FakeTranslator(ArticleTranslator):
    """Deterministic `Translator`: ``FakeTranslator({"Привет.": "Hello."})``."""

    def __init__(
        self,
        table: Mapping[str, str] | None = None,
        *,
        pairs: Iterable[tuple[str, str]] = (("ru", "en"),),
        target: str = "en",
        cache: TranslationCache | None = None,
        now: Callable[[], datetime] = lambda: datetime(2026, 1, 1, tzinfo=UTC),
    ) -> None:
        super().__init__(FakeEngine(table, pairs), target=target, cache=cache, now=now)
