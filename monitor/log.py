"""Logging setup.  Only the CLI calls this (STYLE.md 26)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from .termsafe import term_safe

NOISY = (
    "httpx",
    "httpcore",
    "urllib3",
    "stanza",
    "argostranslate",
    "trafilatura",
    "htmldate",
    "courlan",
    "charset_normalizer",
    "filelock",
)
# One-time notices a person at a terminal should see without -v (a schema
# migration that takes minutes on a large archive); cron (no TTY, or -q) never.
TTY_NOTICES = ("monitor.store.migrate",)


def setup_logging(verbosity: int, *, quiet: bool = False) -> None:
    """Configure the root logger on stderr.

    Quiet (cron): WARNING and above only.  Default: WARNING plus the summary line,
    and on a terminal the `TTY_NOTICES` too.  ``-v`` INFO, ``-vv`` DEBUG for
    monitor, ``-vvv`` DEBUG for dependencies too.
    """
    if quiet:
        level = logging.WARNING
    else:
        level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbosity, 2)]
    handler = _BarAwareHandler(sys.stderr)
    handler.setFormatter(
        _SafeFormatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in NOISY:
        logging.getLogger(name).setLevel(
            logging.DEBUG if verbosity >= 3 else logging.WARNING
        )
    at_terminal = not quiet and sys.stderr.isatty()
    for name in TTY_NOTICES:
        logging.getLogger(name).setLevel(
            min(level, logging.INFO) if at_terminal else logging.NOTSET
        )


class _SafeFormatter(logging.Formatter):
    """Log lines carry outside text (URLs, errors): neutralise terminal escapes."""

    def format(self, record: logging.LogRecord) -> str:
        return term_safe(super().format(record))


class _Redrawable(Protocol):
    def render_progress(self) -> None: ...


class _BarAwareHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A log line printed while a progress bar is drawn on the same terminal
    starts on a cleared line, and the bar is drawn again under it: the warning
    never lands in the middle of the bar's line."""

    bar: _Redrawable | None = None

    def emit(self, record: logging.LogRecord) -> None:
        bar = self.bar
        if bar is None:
            super().emit(record)
            return
        self.stream.write("\r\x1b[K")  # back to column 0, erase the bar
        super().emit(record)
        bar.render_progress()


@contextmanager
def drawing(bar: Any) -> Iterator[None]:
    """While the block runs, `bar` (a click progress bar on stderr) is the one
    the log handler clears and redraws around each line."""
    handlers = [
        h for h in logging.getLogger().handlers if isinstance(h, _BarAwareHandler)
    ]
    for handler in handlers:
        handler.bar = bar
    try:
        yield
    finally:
        for handler in handlers:
            handler.bar = None
