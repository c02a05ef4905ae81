"""Offline translation into English (issues #3, #18): Argos packages and
CTranslate2 model folders (NLLB-200, M2M100, OPUS-MT) used directly, routed per
source language, or LibreTranslate.

Public API:

- `Translator` (Protocol): ``translate_article(title, text, src) -> Translation``,
  ``translate_articles([ArticleText]) -> [Translation]``, ``name``, ``pairs()``.
- `make_translator(cfg, models_dir=..., cache=..., now=...)`: the configured backend.
- `ArgosTranslator`, `LibreTranslateTranslator`, `FakeTranslator` (test double).
- Model management: `install_from_path`, `install_from_index`, `list_installed`,
  `apply_argos_environment` (before any ``import argostranslate``);
  `install_ct2_from_dir`, `list_ct2_models`, `remove_ct2_model` for
  CTranslate2 folders.
- Routing: `RoutedEngine`, `choose_engine` (``[translate.routes]``).
- Pure helpers: `check_output` (guards), `split_sentences`, `detect_source`.

Nothing here touches the network, except `install_from_index` and the
LibreTranslate backend (which talks to the configured server only).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from ..config import TranslateConfig
from ..models import Translation
from ._argos import RETRY_OPTIONS, ArgosEngine, EngineSettings
from ._cache import (
    MemoryCache,
    TranslationCache,
    article_cache_keys,
    cache_key,
    cache_prune_before,
)
from ._core import ArticleText, ArticleTranslator, SentenceEngine, TranslateStats
from ._ct2 import Ct2Engine, encode_source, target_prefix, uzbek_latin
from ._ct2models import (
    Ct2Model,
    install_ct2_from_dir,
    is_ct2_dir,
    list_ct2_models,
    remove_ct2_model,
)
from ._fake import FakeEngine, FakeTranslator
from ._guards import DEFAULT_LIMITS, GuardLimits, check_output
from ._langs import detect_source
from ._libre import LibreEngine
from ._packages import (
    DEFAULT_INDEX_URL,
    InstalledPackage,
    apply_argos_environment,
    argos_environment,
    install_from_index,
    install_from_path,
    list_installed,
    remove_installed,
)
from ._routes import Offer, RoutedEngine, choose_engine
from ._split import split_paragraphs, split_sentences

__all__ = [
    "DEFAULT_INDEX_URL",
    "DEFAULT_LIMITS",
    "RETRY_OPTIONS",
    "ArgosTranslator",
    "ArticleText",
    "ArticleTranslator",
    "Ct2Engine",
    "Ct2Model",
    "EngineSettings",
    "FakeEngine",
    "FakeTranslator",
    "GuardLimits",
    "InstalledPackage",
    "LibreTranslateTranslator",
    "LocalTranslator",
    "MemoryCache",
    "Offer",
    "RoutedEngine",
    "SentenceEngine",
    "TranslateStats",
    "TranslationCache",
    "Translator",
    "apply_argos_environment",
    "argos_environment",
    "article_cache_keys",
    "cache_key",
    "cache_prune_before",
    "check_output",
    "choose_engine",
    "detect_source",
    "encode_source",
    "install_ct2_from_dir",
    "install_from_index",
    "install_from_path",
    "is_ct2_dir",
    "list_ct2_models",
    "list_installed",
    "make_translator",
    "remove_ct2_model",
    "remove_installed",
    "split_paragraphs",
    "split_sentences",
    "target_prefix",
    "uzbek_latin",
]

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Translator(Protocol):
    """What the pipeline needs from a translation backend."""

    @property
    def name(self) -> str:
        """Engine + model id(s); cache keys depend on it."""
        ...

    def pairs(self) -> frozenset[tuple[str, str]]:
        """Language pairs (src, dst) this translator covers."""
        ...

    def translate_article(self, title: str, text: str, src: str | None) -> Translation:
        """Translate one article (title first, then the body paragraph by paragraph)."""
        ...

    def translate_articles(self, articles: Sequence[ArticleText]) -> list[Translation]:
        """Translate several articles with their sentences batched together."""
        ...


class LocalTranslator(ArticleTranslator):
    """Argos packages and CTranslate2 model folders in `models_dir`, each source
    language handed to the engine ``routes`` names (`RoutedEngine`); with no
    routes and no model folders, the Argos engine alone."""

    with_model_folders = True

    def __init__(
        self,
        models_dir: Path,
        *,
        routes: Mapping[str, str] | None = None,
        target: str = "en",
        threads: int = 2,
        device: str = "auto",
        compute_type: str = "int8",
        beam_size: int = 2,
        batch_size: int = 32,
        max_sentence_chars: int = 1000,
        cache: TranslationCache | None = None,
        now: Clock = _utcnow,
        limits: GuardLimits = DEFAULT_LIMITS,
        decode_options: Mapping[str, Any] | None = None,
    ) -> None:
        settings = EngineSettings(
            threads=threads,
            device=device,
            compute_type=compute_type,
            beam_size=beam_size,
            batch_size=batch_size,
            decode_options=dict(decode_options or {}),
        )
        models = list_ct2_models(models_dir) if self.with_model_folders else []
        super().__init__(
            local_engine(models_dir, models, routes or {}, settings),
            target=target,
            cache=cache,
            now=now,
            limits=limits,
            max_sentence_chars=max_sentence_chars,
        )


class ArgosTranslator(LocalTranslator):
    """Argos packages from `models_dir` alone, run through CTranslate2 directly
    (model folders beside them are not used)."""

    with_model_folders = False


def local_engine(
    models_dir: Path,
    models: Sequence[Ct2Model],
    routes: Mapping[str, str],
    settings: EngineSettings,
) -> SentenceEngine:
    """The Argos engine, routed together with `models` when there are any or
    when `routes` name an engine."""
    argos = ArgosEngine(models_dir, settings)
    if not models and not routes:
        return argos
    engines: list[tuple[Offer, SentenceEngine]] = [
        (Offer(family="argos", name="", pairs=argos.pairs()), argos)
    ]
    for model in models:
        offer = Offer(family=model.family, name=model.name, pairs=model.pairs())
        engines.append((offer, Ct2Engine(model, settings)))
    return RoutedEngine(engines, routes)


class LibreTranslateTranslator(ArticleTranslator):
    """A LibreTranslate server at `url` (same splitting, cache and guards)."""

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        timeout: float = 120.0,
        *,
        target: str = "en",
        batch_size: int = 32,
        max_sentence_chars: int = 1000,
        cache: TranslationCache | None = None,
        now: Clock = _utcnow,
        limits: GuardLimits = DEFAULT_LIMITS,
    ) -> None:
        engine = LibreEngine(url, api_key, timeout, batch_size=batch_size)
        super().__init__(
            engine,
            target=target,
            cache=cache,
            now=now,
            limits=limits,
            max_sentence_chars=max_sentence_chars,
        )


def make_translator(
    cfg: TranslateConfig,
    *,
    models_dir: Path,
    cache: TranslationCache | None = None,
    now: Clock = _utcnow,
    api_key: str | None = None,
) -> ArticleTranslator:
    """Build the backend chosen by ``translate.backend``.

    Cheap: no model is loaded until the first article needs it.

    Args:
        cfg: the ``[translate]`` config section.
        models_dir: ``translate.models_dir`` resolved against the config folder.
        cache: where sentence translations are cached (the Storage), or None;
            ignored when ``translate.cache`` is false.
        now: the pipeline's clock (cache timestamps).
        api_key: LibreTranslate key (read from ``translate.libretranslate_api_key_env``
            by the caller), if any.

    Returns:
        An `ArticleTranslator`.  With ``backend = "none"`` it covers no pair:
        every non-target article becomes NO_MODEL.
    """
    cache = cache if cfg.cache else None
    common: dict[str, Any] = {
        "target": cfg.target,
        "cache": cache,
        "now": now,
        "max_sentence_chars": cfg.max_sentence_chars,
    }
    if cfg.backend == "libretranslate":
        return LibreTranslateTranslator(
            cfg.libretranslate_url,
            api_key,
            cfg.timeout,
            batch_size=cfg.batch_size,
            **common,
        )
    if cfg.backend == "none":
        return FakeTranslator(pairs=(), target=cfg.target, cache=None, now=now)
    local: dict[str, Any] = {
        "threads": cfg.threads,
        "device": cfg.device,
        "compute_type": cfg.compute_type,
        "beam_size": cfg.beam_size,
        "batch_size": cfg.batch_size,
        **common,
    }
    return LocalTranslator(models_dir, routes=cfg.routes, **local)
