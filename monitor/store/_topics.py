"""Storage methods for the topics domain."""

from __future__ import annotations

from ._base import StorageBase


class TopicsMixin(StorageBase):
    """SQL for topics (tables: see _schema.SCHEMA)."""
