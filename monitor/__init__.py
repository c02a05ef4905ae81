"""monitor: a multilingual (Russian/English) press monitor for Central Asia.

The public API is what this module exports; everything else is internal.  The
pipeline is in `monitor.pipeline` (its docstring is the diagram).
"""

from __future__ import annotations

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
from .pipeline import Pipeline, open_storage
from .store import Storage

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
