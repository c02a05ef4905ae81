"""Exception hierarchy.  Every error carries the resource it is about (STYLE.md 44)."""

from __future__ import annotations


class MonitorError(Exception):
    """Base class for every error this package raises on purpose."""

    def __init__(self, message: str, *, resource: object = None) -> None:
        super().__init__(message)
        self.message = message
        self.resource = resource

    def __str__(self) -> str:
        if self.resource is None:
            return self.message
        return f"{self.resource}: {self.message}"


class ConfigError(MonitorError):
    """The configuration is invalid.  `errors` lists every problem with its key path."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = tuple(errors)
        super().__init__(
            f"{len(errors)} configuration error(s):\n"
            + "\n".join(f"  - {e}" for e in errors)
        )


class FetchError(MonitorError):
    """An HTTP fetch failed (network, status, size cap, blocked address...)."""


class BlockedURLError(FetchError):
    """The URL (or a redirect) points at a scheme or address we refuse to fetch."""


class FeedError(MonitorError):
    """A feed document could not be parsed into items."""


class ExtractError(MonitorError):
    """Article text could not be extracted."""


class TranslateError(MonitorError):
    """The translation engine failed (model missing, failed to load, server down)."""


class TranslatorUnavailableError(TranslateError):
    """No article can be translated now (model missing or failed to load, server
    unreachable): the articles stay pending, unlike a failure of one article."""


class RuleError(MonitorError):
    """A topic rule is invalid."""


class StorageError(MonitorError):
    """The database failed: locked, full, read-only, unreachable (wraps
    sqlite3 / psycopg operational errors; programming errors are not wrapped)."""


class NotFoundError(MonitorError):
    """A write named a row that does not exist (e.g. ``save_translation(999)``).

    An item error: the pipeline records it on the item and goes on.  Not a
    `StorageError`, which means the database itself failed and stops the run.
    """


class LockedError(MonitorError):
    """Another `monitor run` holds the run lock."""


class DeliveryError(MonitorError):
    """A digest could not be delivered (SMTP)."""
