"""Logging setup.  Only the CLI calls this (STYLE.md 26)."""

from __future__ import annotations

import logging
import sys

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


def setup_logging(verbosity: int, *, quiet: bool = False) -> None:
    """Configure the root logger on stderr.

    Quiet (cron): WARNING and above only.  Default: WARNING plus the summary line.
    ``-v`` INFO, ``-vv`` DEBUG for monitor, ``-vvv`` DEBUG for dependencies too.
    """
    if quiet:
        level = logging.WARNING
    else:
        level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbosity, 2)]
    handler = logging.StreamHandler(sys.stderr)
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


class _SafeFormatter(logging.Formatter):
    """Log lines carry outside text (URLs, errors): neutralise terminal escapes."""

    def format(self, record: logging.LogRecord) -> str:
        return term_safe(super().format(record))
