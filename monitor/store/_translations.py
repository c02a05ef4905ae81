"""Storage methods for the translations domain."""

from __future__ import annotations

from ._base import StorageBase


class TranslationsMixin(StorageBase):
    """SQL for translations (tables: see _schema.SCHEMA)."""
