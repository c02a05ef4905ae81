"""Feed text repairs that must run before control characters are dropped.

Double-encoded Windows text is common in regional feeds: a CMS stores cp1252
punctuation (’ “ ” – …) as if it were Latin-1, so the UTF-8 bytes carry C1
control characters (``don\\xc2\\x92t``) where the punctuation should be.
Browsers and feedparser show them as cp1252; dropping them as controls turns
"don’t" into "dont".  `c1_to_cp1252` maps U+0080–U+009F to their cp1252
characters; the five code points cp1252 leaves undefined (81 8D 8F 90 9D) are
left alone, so the control filter that runs afterwards still removes them.
"""

from __future__ import annotations

import re

_C1_RE = re.compile("[\x80-\x9f]")


def _cp1252(m: re.Match[str]) -> str:
    raw = bytes([ord(m.group())])
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        return m.group()  # undefined in cp1252: a real control, dropped later


def c1_to_cp1252(text: str) -> str:
    """Replace C1 controls with the cp1252 characters they stand for.

    Example: ``"don\\x92t"`` → ``"don’t"``; ``"\\x93quote\\x94"`` → ``"“quote”"``.
    """
    if not _C1_RE.search(text):
        return text
    return _C1_RE.sub(_cp1252, text)
