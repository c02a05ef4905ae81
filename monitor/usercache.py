"""The user's cache folder (issue #19: start-up).

What a command compiles from files that rarely change (the topic rules, the
digest templates) is kept here between processes: ``$XDG_CACHE_HOME/monitor``,
default ``~/.cache/monitor``.  Each user of it keys its files by what they were
compiled from, reads a damaged file as missing, and skips a folder it cannot
write.  The files are the user's own, like the configuration.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def cache_dir(env: Mapping[str, str] = os.environ) -> Path:
    """The folder compiled rules and templates are kept in."""
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "monitor"
