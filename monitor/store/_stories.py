"""Storage methods for the stories domain."""

from __future__ import annotations

from ._base import StorageBase


class StoriesMixin(StorageBase):
    """SQL for stories (tables: see _schema.SCHEMA)."""
