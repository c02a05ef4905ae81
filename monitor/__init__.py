"""monitor: a multilingual (Russian/English) press monitor for Central Asia.

The public API is what this module exports; everything else is internal.  The
pipeline is in `monitor.pipeline` (its docstring is the diagram).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import Config, load_config
from .exceptions import (
    ConfigError,
    DeliveryError,
    ExtractError,
    FeedError,
    FetchError,
    MonitorError,
    RuleError,
    StorageError,
    TranslateError,
)
from .models import (
    Article,
    Extracted,
    FeedItem,
    FeedSpec,
    Page,
    TextSource,
    TopicMatch,
    Topics,
    Translation,
    TranslationStatus,
)
from .runtime import open_storage
from .store import Storage

if TYPE_CHECKING:
    from .pipeline import Pipeline


def __getattr__(name: str) -> Any:
    """`Pipeline` loads every stage: import it on first use, not with the package."""
    if name == "Pipeline":
        from .pipeline import Pipeline

        return Pipeline
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Article",
    "Config",
    "ConfigError",
    "DeliveryError",
    "ExtractError",
    "Extracted",
    "FeedError",
    "FeedItem",
    "FeedSpec",
    "FetchError",
    "MonitorError",
    "Page",
    "Pipeline",
    "RuleError",
    "Storage",
    "StorageError",
    "TextSource",
    "TopicMatch",
    "Topics",
    "TranslateError",
    "Translation",
    "TranslationStatus",
    "load_config",
    "open_storage",
]
