"""Text normalisation at the parsing boundary (issue #11).

Every parser that turns outside bytes into records calls these two functions
on every string it keeps: feeds (RSS/Atom/RDF via feedparser, JSON Feed) do so
in `monitor.feeds._entries`; **a source added later (Telegram, sitemaps,
pages) must do the same** before it builds a `FeedItem`.  Then no later stage,
storage (sqlite refuses lone surrogates) or output (XML 1.0 forbids controls
and non-characters) has to defend itself against them.

`clean_text` keeps the text's layout (tabs, newlines, paragraphs):

- lone surrogates (U+D800–U+DFFF, e.g. a JSON ``"\\ud800"`` escape) → dropped;
- non-characters (U+FDD0–U+FDEF and the last two code points of every plane,
  U+FFFE/U+FFFF … U+10FFFE/U+10FFFF) → dropped;
- C0 controls and DEL → dropped, except tab and newline; CR and CRLF become
  a newline; NUL is dropped like the rest;
- C1 controls (U+0080–U+009F) → the cp1252 character at that byte where
  cp1252 defines one (0x80 → €, 0x85 → …, 0x91–0x94 → ‘ ’ “ ”, 0x96/0x97 →
  – —, 0x99 → ™ …): such text was cp1252 decoded as Latin-1, and the mapping
  restores what the author typed.  The five bytes cp1252 leaves undefined
  (0x81, 0x8D, 0x8F, 0x90, 0x9D) are dropped.

`MAX_WORD_CHARS` is the longest token the word-level stages (classify,
stories) look at; longer tokens are skipped there.

`clean_title` also folds all whitespace to single spaces and caps the title at
`TITLE_MAX_CHARS`, cut on a word boundary and ended with an ellipsis.
"""

from __future__ import annotations

import re

__all__ = ["MAX_WORD_CHARS", "TITLE_MAX_CHARS", "clean_text", "clean_title"]

TITLE_MAX_CHARS = 500
# Longer "words" are not words (a 300,000-letter run of "y"): tokenizers that
# feed stemmers, lemmatisers and shingles skip them, because Snowball's cost
# grows with the square of a word's length (issue #11, docs/reliability.md).
MAX_WORD_CHARS = 64
ELLIPSIS = "…"
# A cut looks back at most this far for a space; past that the word is cut.
_WORD_LOOKBACK = 60

_BAD_RE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff"
    + "".join(
        f"{chr(plane << 16 | 0xFFFE)}{chr(plane << 16 | 0xFFFF)}"
        for plane in range(1, 17)
    )
    + "]"
)
_CRLF_RE = re.compile("\r\n?")
_SPACE_RE = re.compile(r"\s+")


def _c1_map() -> dict[str, str]:
    out: dict[str, str] = {}
    for byte in range(0x80, 0xA0):
        try:
            out[chr(byte)] = bytes([byte]).decode("cp1252")
        except UnicodeDecodeError:
            out[chr(byte)] = ""  # 0x81, 0x8D, 0x8F, 0x90, 0x9D: undefined
    return out


_REPLACE = {"\r": "\n", **_c1_map()}


def _replace(match: re.Match[str]) -> str:
    return _REPLACE.get(match.group(), "")


def clean_text(text: str) -> str:
    """Drop or repair the characters no stored text may hold (see module doc).

    Args:
        text: any text from outside (a feed, a page, a message).

    Returns:
        The text without surrogates, non-characters or controls other than tab
        and newline, C1 controls mapped to their cp1252 characters.
    """
    if _BAD_RE.search(text) is None:
        return text
    return _BAD_RE.sub(_replace, _CRLF_RE.sub("\n", text))


def clean_title(text: str, limit: int = TITLE_MAX_CHARS) -> str:
    """`clean_text`, whitespace folded to single spaces, capped at `limit` chars.

    A longer title is cut at the last space before the limit (unless that
    would lose more than a short word) and ends with "…"; the result is at
    most `limit` characters.

    >>> clean_title("Breaking:\\n  news\\x00 today")
    'Breaking: news today'
    >>> clean_title("one two three", limit=9)
    'one two…'
    """
    title = _SPACE_RE.sub(" ", clean_text(text)).strip()
    if len(title) <= limit:
        return title
    head = title[: limit - len(ELLIPSIS) + 1]
    space = head.rfind(" ")
    if space >= max(1, len(head) - _WORD_LOOKBACK):
        head = head[:space]
    else:
        head = head[: limit - len(ELLIPSIS)]
    return head.rstrip(" ,;:-–—") + ELLIPSIS
