"""What every command needs before (or instead of) a pipeline: the clock, the
progress protocol and opening the configured store.

Kept apart from `monitor.pipeline` so that commands which only read the store
(`monitor status`, `search`, `stories` …) start without importing every stage.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from .config import Config, resolve_path
from .store import Storage

if TYPE_CHECKING:
    from .store import StorageType

# A progress factory returns a context manager (as click.progressbar is) whose
# value has ``update(n)``; leaving it finishes the bar (issue #10).
Progress = Callable[[str, int], AbstractContextManager["ProgressBar"]]


class ProgressBar:
    """No-op progress: the CLI substitutes a real bar when stderr is a TTY."""

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        """Finish the bar."""

    def update(self, n: int = 1) -> None:
        """Advance by `n` items."""


def no_progress(stage: str, total: int) -> ProgressBar:
    return ProgressBar()


def utc_now() -> datetime:
    return datetime.now(UTC)


def open_storage(cfg: Config) -> StorageType:
    """Open the configured database: PostgreSQL when ``store.url`` is set,
    else the SQLite file at ``store.path``."""
    if cfg.store.url is not None:
        from .store.pg import PgStorage  # psycopg only when it is used

        return PgStorage(cfg.store.url, reconnect_for=cfg.store.reconnect_for)
    return Storage(resolve_path(cfg, cfg.store.path))


__all__ = ["Progress", "ProgressBar", "no_progress", "open_storage", "utc_now"]
