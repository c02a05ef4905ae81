"""Article translation on top of any sentence engine (issue #3).

    article ─► source language? ─► NOT_NEEDED / NO_MODEL
            └► split: title, paragraphs ─► sentences ─► cache ─► engine (batched)
               ─► guards ─► retry with other decoding ─► keep original + flag
               ─► reassemble (paragraph separators kept byte for byte)

Titles of every article in a batch go first, so a digest can always show an
English headline; then the bodies, all sentences of all articles in one engine
call per `batch_size`.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from ..models import Translation, TranslationStatus
from ._cache import REJECTED, TranslationCache, cache_key
from ._guards import DEFAULT_LIMITS, GuardLimits, check_output
from ._langs import detect_source, no_model_note
from ._split import split_paragraphs, split_sentences

logger = logging.getLogger(__name__)

_LETTER = re.compile(r"[^\W\d_]")
_CYRILLIC = re.compile(r"[\u0400-\u04FF]")
# Sources written only in Cyrillic: a sentence of theirs with no Cyrillic letter
# (an English quote, a Latin name) is kept as it is.  Not Uzbek: it is written
# in Latin (official) and Cyrillic, and both go to the model (issue #18).
CYRILLIC_SOURCES = frozenset(
    {"ru", "uk", "be", "bg", "kk", "ky", "tg", "mn", "sr", "tt", "ba"}
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ArticleText:
    """One article handed to `translate_articles`."""

    title: str
    text: str
    src: str | None


@dataclass(slots=True)
class TranslateStats:
    """Counters for one translator's lifetime (benchmarks, tests, logs)."""

    sentences: int = 0  # sentences the articles contained (after dedup per batch)
    cache_hits: int = 0
    model_sentences: int = 0  # sentences sent to the engine (first attempt)
    retried: int = 0  # sentences sent again with other decoding settings
    flagged: int = 0  # kept in the original
    model_calls: int = 0  # engine calls (an Argos call = one translate_batch)
    model_seconds: float = 0.0


class SentenceEngine(Protocol):
    """A backend that translates lists of sentences."""

    @property
    def name(self) -> str: ...

    def pairs(self) -> frozenset[tuple[str, str]]: ...

    def model_id(self, src: str, dst: str) -> str: ...

    def translate(
        self,
        src: str,
        dst: str,
        sentences: list[str],
        *,
        retry: bool,
        stats: TranslateStats,
    ) -> list[str]:
        """Translate sentences; `retry` asks for the fallback decoding settings."""
        ...

    @property
    def can_retry(self) -> bool: ...


@dataclass(slots=True)
class _Plan:
    """How to rebuild one article from translated sentences."""

    src: str
    title: list[str]
    body: list[str | list[str]] = field(
        default_factory=list
    )  # separators or sentence lists


class ArticleTranslator:
    """Implements the `Translator` protocol on top of a `SentenceEngine`."""

    def __init__(
        self,
        engine: SentenceEngine,
        *,
        target: str = "en",
        cache: TranslationCache | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        limits: GuardLimits = DEFAULT_LIMITS,
        max_sentence_chars: int = 1000,
    ) -> None:
        self.engine = engine
        self.target = target
        self.cache = cache
        self.now = now
        self.limits = limits
        self.max_sentence_chars = max_sentence_chars
        self.stats = TranslateStats()

    def close(self) -> None:
        """Release the engine's resources (HTTP connections); models stay loaded."""
        close = getattr(self.engine, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> ArticleTranslator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def name(self) -> str:
        """Engine and model ids (what the cache keys depend on)."""
        return self.engine.name

    def pairs(self) -> frozenset[tuple[str, str]]:
        """Language pairs this translator can translate."""
        return self.engine.pairs()

    def translate_article(self, title: str, text: str, src: str | None) -> Translation:
        """Translate one article's title and text (see `translate_articles`)."""
        return self.translate_articles([ArticleText(title=title, text=text, src=src)])[
            0
        ]

    def translate_articles(self, articles: Sequence[ArticleText]) -> list[Translation]:
        """Translate several articles, batching their sentences together.

        Returns:
            One `Translation` per article, in order: NOT_NEEDED when it is in the
            target language, NO_MODEL when no model covers its language, DONE, or
            PARTIAL when guards kept some sentences in the original.

        Raises:
            TranslateError: the engine failed (model failed to load, server down).
        """
        plans: list[_Plan | Translation] = [self._plan(a) for a in articles]
        todo = {i: p for i, p in enumerate(plans) if isinstance(p, _Plan)}
        for src in sorted({p.src for p in todo.values()}):
            mine = {i: p for i, p in todo.items() if p.src == src}
            resolved = self._resolve(src, [s for p in mine.values() for s in p.title])
            bodies = [
                s
                for p in mine.values()
                for b in p.body
                if isinstance(b, list)
                for s in b
            ]
            resolved.update(self._resolve(src, bodies))
            for i, p in mine.items():
                plans[i] = self._assemble(p, resolved)
        return [p for p in plans if isinstance(p, Translation)]

    def _plan(self, article: ArticleText) -> _Plan | Translation:
        src = detect_source(article.src, article.title, article.text)
        engine = self.engine.name
        if src is None or src == self.target:
            note = "already in the target language" if src else "language unknown"
            return Translation(
                src=src or "",
                dst=self.target,
                title=None,
                text=None,
                engine=engine,
                status=TranslationStatus.NOT_NEEDED,
                note=note,
            )
        if (src, self.target) not in self.pairs():
            return Translation(
                src=src,
                dst=self.target,
                title=None,
                text=None,
                engine=engine,
                status=TranslationStatus.NO_MODEL,
                note=no_model_note(src, self.target),
            )
        plan = _Plan(src=src, title=self._sentences(article.title))
        for seg in split_paragraphs(article.text):
            plan.body.append(self._sentences(seg.text) if seg.translate else seg.text)
        return plan

    def _sentences(self, paragraph: str) -> list[str]:
        return (
            split_sentences(paragraph.strip(), max_chars=self.max_sentence_chars)
            if paragraph.strip()
            else []
        )

    def _needs_model(self, src: str, sentence: str) -> bool:
        """Whether a sentence needs the model (no letters / no source script: no)."""
        if not _LETTER.search(sentence):
            return False
        return src not in CYRILLIC_SOURCES or bool(_CYRILLIC.search(sentence))

    def _resolve(self, src: str, sentences: list[str]) -> dict[str, str | None]:
        """Map each distinct sentence to its translation, or None when rejected."""
        unique = list(dict.fromkeys(sentences))
        out: dict[str, str | None] = {
            s: s for s in unique if not self._needs_model(src, s)
        }
        todo = [s for s in unique if s not in out]
        self.stats.sentences += len(todo)
        if not todo:
            return out
        model = self.engine.model_id(src, self.target)
        keys = {s: cache_key(model, s) for s in todo}
        cached = (
            self.cache.get_cached_translations(model, list(keys.values()))
            if self.cache
            else {}
        )
        for s in todo:
            if keys[s] in cached:
                out[s] = cached[keys[s]] or None
        self.stats.cache_hits += sum(1 for s in todo if s in out)
        fresh = self._translate_guarded(src, [s for s in todo if s not in out])
        out.update(fresh)
        if self.cache is not None and fresh:
            items = {
                keys[s]: (t if t is not None else REJECTED) for s, t in fresh.items()
            }
            self.cache.add_cached_translations(model, items, self.now())
        return out

    def _translate_guarded(
        self, src: str, sentences: list[str]
    ) -> dict[str, str | None]:
        if not sentences:
            return {}
        self.stats.model_sentences += len(sentences)
        outputs = self._call(src, sentences, retry=False)
        result: dict[str, str | None] = dict(zip(sentences, outputs, strict=True))
        bad = [s for s, t in result.items() if self._reject(s, t)]
        if bad and self.engine.can_retry:
            self.stats.retried += len(bad)
            for s, t in zip(bad, self._call(src, bad, retry=True), strict=True):
                result[s] = t
            bad = [s for s in bad if self._reject(s, result[s])]
        for s in bad:
            result[s] = None
        return result

    def _call(self, src: str, sentences: list[str], *, retry: bool) -> list[str]:
        started = time.perf_counter()
        outputs = self.engine.translate(
            src, self.target, sentences, retry=retry, stats=self.stats
        )
        self.stats.model_seconds += time.perf_counter() - started
        return outputs

    def _reject(self, source: str, output: str | None) -> bool:
        reason = check_output(
            source, output or "", target=self.target, limits=self.limits
        )
        if reason is not None:
            logger.debug(
                "guard rejected reason=%s source=%.60r output=%.60r",
                reason,
                source,
                output,
            )
        return reason is not None

    def _assemble(self, plan: _Plan, resolved: dict[str, str | None]) -> Translation:
        flagged = 0
        total = 0

        def join(sentences: list[str]) -> str:
            nonlocal flagged, total
            parts = []
            for s in sentences:
                t = resolved[s]
                total += 1
                flagged += t is None
                parts.append(s if t is None else t)
            return " ".join(parts)

        title_ok = all(resolved[s] is not None for s in plan.title)
        title = join(plan.title)
        text = "".join(b if isinstance(b, str) else join(b) for b in plan.body)
        self.stats.flagged += flagged
        status = TranslationStatus.PARTIAL if flagged else TranslationStatus.DONE
        note = (
            f"{flagged} of {total} sentences left untranslated (output guards)"
            if flagged
            else None
        )
        return Translation(
            src=plan.src,
            dst=self.target,
            title=title if title_ok else None,
            text=text,
            engine=self.engine.model_id(plan.src, self.target),
            status=status,
            flagged=flagged,
            note=note,
        )
