"""Edit feeds.toml from the CLI, keeping its comments and order (issue #14).

tomlkit round-trips the document, so hand-written comments, blank lines and
the order of tables survive `monitor feeds add/remove/import`.  Every edit is
validated with the normal config validation (`config.validate_feeds_text`)
before anything is written, and written atomically: a temporary file in the
same folder, fsync'd, then renamed over the old one, so a crash leaves either
the old file or the new one, never half of it.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import tomlkit
from tomlkit.items import AoT, Table
from tomlkit.toml_document import TOMLDocument

from .config import validate_feeds_text
from .exceptions import ConfigError, MonitorError

# Keys written in this order; anything else follows.
KEY_ORDER = ("name", "url", "kind", "channel", "outlet", "lang", "country")


class FeedsFileError(MonitorError):
    """feeds.toml cannot be edited as asked (unknown name, duplicate...)."""


def read_document(path: Path) -> TOMLDocument:
    """The parsed feeds.toml (an empty document when the file does not exist)."""
    try:
        return tomlkit.parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return tomlkit.document()
    except tomlkit.exceptions.ParseError as e:
        raise ConfigError([f"{path}: invalid TOML: {e}"]) from e


def feed_tables(doc: TOMLDocument) -> list[Table]:
    """The ``[[feed]]`` tables, in file order."""
    feeds = doc.get("feed")
    return list(feeds) if isinstance(feeds, AoT) else []


def add_feeds(path: Path, tables: Iterable[Mapping[str, Any]]) -> list[str]:
    """Append ``[[feed]]`` tables, validate, write.  Returns the names added."""
    doc = read_document(path)
    aot = doc.get("feed")
    if not isinstance(aot, AoT):
        aot = tomlkit.aot()
        doc.append("feed", aot)
    names = []
    for table in tables:
        aot.append(_table(table))
        names.append(str(table["name"]))
    write_document(path, doc)
    return names


def remove_feed(path: Path, name: str) -> None:
    """Remove the ``[[feed]]`` called `name`, validate, write.

    Raises:
        FeedsFileError: no feed has that name.
    """
    doc = read_document(path)
    aot = doc.get("feed")
    index = next(
        (i for i, t in enumerate(feed_tables(doc)) if t.get("name") == name), None
    )
    if not isinstance(aot, AoT) or index is None:
        known = [str(t.get("name")) for t in feed_tables(doc)]
        raise FeedsFileError(f"no feed named {name!r} in {path}{_suggest(name, known)}")
    del aot[index]
    write_document(path, doc)


def write_document(path: Path, doc: TOMLDocument) -> None:
    """Validate `doc` as feeds.toml, then replace `path` atomically."""
    text = tomlkit.dumps(doc)
    validate_feeds_text(text, path.name)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def unique_name(wanted: str, taken: Iterable[str]) -> str:
    """`wanted` as a feed name (lower-case slug), with -2, -3... if already taken."""
    base = re.sub(r"[^\w]+", "-", wanted.casefold()).strip("-_")[:40] or "feed"
    used = set(taken)
    name, n = base, 2
    while name in used:
        name, n = f"{base}-{n}", n + 1
    return name


def name_for(url: str, title: str) -> str:
    """A readable name for a new feed: its title, else its host."""
    host = (urlsplit(url).hostname or "feed").removeprefix("www.")
    return title if title and len(title) <= 40 and title.isascii() else host


def same_url(a: str, b: str) -> bool:
    """Two feed URLs are the same feed (scheme, case of host, trailing slash)."""
    return _url_key(a) == _url_key(b)


def _url_key(url: str) -> str:
    parts = urlsplit(url.strip())
    path = re.sub(r"/{2,}", "/", parts.path).rstrip("/")
    query = f"?{parts.query}" if parts.query else ""
    return f"{(parts.hostname or '').removeprefix('www.')}{path}{query}"


def _table(values: Mapping[str, Any]) -> Table:
    table = tomlkit.table()
    for key in sorted(values, key=lambda k: (*KEY_ORDER, k).index(k)):
        value = values[key]
        if isinstance(value, tuple | list):
            value = list(value) or None
        if value is not None:
            table.add(key, value)
    return table


def _suggest(word: str, choices: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
