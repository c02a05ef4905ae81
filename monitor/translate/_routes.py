"""Which model translates which source language (issue #18).

``[translate.routes]`` maps a source language (or ``"*"``, every other one) to:

- ``"argos"``: the installed Argos package for the pair;
- ``"nllb"``, ``"m2m100"``, ``"opus-mt"``: an installed model of that family
  serving the pair (the first by name when several do);
- ``"nllb:NAME"`` (any family): that installed model;
- ``"none"``: do not translate the language (the article stays NO_MODEL).

A language with no route takes the first engine that serves it: Argos, then
NLLB, M2M100, OPUS-MT models.  `choose_engine` is the pure decision;
`RoutedEngine` applies it as one `SentenceEngine`, so batching, the cache
(keyed by the chosen model), guards and NO_MODEL work as with one engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..exceptions import TranslatorUnavailableError
from ._core import SentenceEngine, TranslateStats

ANY_LANGUAGE = "*"


@dataclass(frozen=True, slots=True, kw_only=True)
class Offer:
    """One engine the router may pick: ``argos`` or an installed model."""

    family: str  # "argos", "nllb", "m2m100", "opus-mt"
    name: str  # "" for Argos; the installed model's name otherwise
    pairs: frozenset[tuple[str, str]]


def route_for(routes: Mapping[str, str], src: str) -> str | None:
    """The configured route of a source language (None: the default order)."""
    return routes.get(src, routes.get(ANY_LANGUAGE))


def choose_engine(
    routes: Mapping[str, str], offers: Sequence[Offer], src: str, dst: str
) -> int | None:
    """Index in `offers` of the engine for src→dst, or None (NO_MODEL).

    `offers` is in default order (Argos first, then families, then names).
    """
    route = route_for(routes, src)
    if route == "none":
        return None
    family, _, name = (route or "").partition(":")
    for i, offer in enumerate(offers):
        if (src, dst) not in offer.pairs:
            continue
        if route is None or (offer.family == family and name in ("", offer.name)):
            return i
    return None


class RoutedEngine:
    """A `SentenceEngine` handing each source language to its routed engine."""

    def __init__(
        self,
        engines: Sequence[tuple[Offer, SentenceEngine]],
        routes: Mapping[str, str],
    ) -> None:
        self.offers = [offer for offer, _ in engines]
        self.engines = [engine for _, engine in engines]
        self.routes = dict(routes)
        self._pairs: frozenset[tuple[str, str]] | None = None

    @property
    def name(self) -> str:
        names = [e.name for e in self.engines]
        return ",".join(names) if names else "none"

    @property
    def can_retry(self) -> bool:
        return all(e.can_retry for e in self.engines)

    def pairs(self) -> frozenset[tuple[str, str]]:
        if self._pairs is None:
            every = {p for offer in self.offers for p in offer.pairs}
            self._pairs = frozenset(p for p in every if self._pick(*p) is not None)
        return self._pairs

    def _pick(self, src: str, dst: str) -> SentenceEngine | None:
        i = choose_engine(self.routes, self.offers, src, dst)
        return None if i is None else self.engines[i]

    def engine_for(self, src: str, dst: str) -> SentenceEngine:
        """The engine routed for src→dst.

        Raises:
            TranslatorUnavailableError: nothing serves the pair under the routes.
        """
        engine = self._pick(src, dst)
        if engine is None:
            raise TranslatorUnavailableError(f"no model routed for {src}→{dst}")
        return engine

    def model_id(self, src: str, dst: str) -> str:
        return self.engine_for(src, dst).model_id(src, dst)

    def translate(
        self,
        src: str,
        dst: str,
        sentences: list[str],
        *,
        retry: bool,
        stats: TranslateStats,
    ) -> list[str]:
        return self.engine_for(src, dst).translate(
            src, dst, sentences, retry=retry, stats=stats
        )

    def close(self) -> None:
        for engine in self.engines:
            close = getattr(engine, "close", None)
            if close is not None:
                close()
