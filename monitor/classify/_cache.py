"""Compiled topic rules kept between processes (issue #19: start-up).

Every command validates topics.toml at start (config is validated once, with
every error together), and compiling it lemmatises every rule term: most of a
short command's time.  The compiled `RuleSet` and its error list are therefore
pickled under ``$XDG_CACHE_HOME/monitor`` (default ``~/.cache/monitor``), keyed
by the topics table *and* by the code and dictionaries that compile it:

* the bytes of every module of the `monitor` package (a new version, or a local
  edit, never reads an old compilation);
* the installed versions of pymorphy3, its Russian dictionary and Snowball.

A missing, unreadable or corrupt file is compiled again (logged at INFO); a
cache folder that cannot be written is simply not used.  The files are the
user's own, like the configuration (pickle: do not point XDG_CACHE_HOME at a
folder others can write).
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import tempfile
from collections.abc import Callable
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import TypeVar

from ..usercache import cache_dir

__all__ = ["cache_dir", "code_key", "load_or_compile"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
_PACKAGE = Path(__file__).resolve().parents[1]
_DISTRIBUTIONS = ("pymorphy3", "pymorphy3-dicts-ru", "snowballstemmer")
# What a damaged or foreign file raises when unpickled.
_UNREADABLE = (
    pickle.UnpicklingError,
    EOFError,
    AttributeError,
    ImportError,
    IndexError,
    TypeError,
    ValueError,
)


@lru_cache(maxsize=1)
def code_key() -> str:
    """A digest of the code and dictionaries that compile rules."""
    digest = hashlib.sha256()
    for path in sorted(_PACKAGE.rglob("*.py")):
        digest.update(path.relative_to(_PACKAGE).as_posix().encode())
        digest.update(path.read_bytes())
    for name in _DISTRIBUTIONS:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            version = "-"
        digest.update(f"{name}={version}".encode())
    return digest.hexdigest()


def load_or_compile(key: str, compile_rules: Callable[[], _T], folder: Path) -> _T:
    """The compilation of `key` (the topics table as canonical JSON) from
    `folder`, else ``compile_rules()``, kept there for the next process."""
    name = hashlib.sha256(f"{code_key()}\n{key}".encode()).hexdigest()[:40]
    path = folder / f"topics-{name}.pickle"
    try:
        with path.open("rb") as f:
            return pickle.load(f)  # type: ignore[no-any-return]
    except FileNotFoundError:
        pass
    except (OSError, *_UNREADABLE) as e:
        logger.info("compiled topics %s unreadable (%s): compiling again", path, e)
    result = compile_rules()
    _store(path, result)
    return result


def _store(path: Path, value: object) -> None:
    """Write `value` to `path` atomically; a folder we cannot write is skipped."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".topics-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as e:
        logger.debug("compiled topics not kept in %s: %s", path.parent, e)
