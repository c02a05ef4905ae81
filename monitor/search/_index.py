"""Index tokens: an article's words turned into the keys the topic rules match on.

Every word becomes the group of its match keys (monitor/classify/_morph.py:
pymorphy3 lemmas, Snowball stems, name stems; ё/е and case folded), in order,
so FTS5 NEAR still sees word order (with some slack for multi-key groups).
Capitalised Cyrillic words also give the English stems of their Latin
spellings (iuliia, monitor/classify/_aliases.py) in the ``aliases`` column, so
``Kulibayev`` finds ``Кулибаева``.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ..classify._aliases import latin_variants
from ..classify._morph import (
    CYRILLIC_RE,
    fold,
    name_stem,
    term_keys,
    tokenize,
    word_keys,
)
from ..models import Article, SearchDoc

# Words wider than this many tokens are rare (hyphenated compounds); NEAR and
# phrase distances are widened by it and the exact check runs in Python.
MAX_GROUP = 8
WORD_JOIN = "+"  # between the tokens of one word (SearchDoc; FTS5 splits on it)
_SPLIT_RE = re.compile(r"[\s'-]+")
_ENCODE = str.maketrans({"'": "ʼ", "‐": "-", "‑": "-", '"': ""})


def encode(key: str) -> str:
    """A match key as one index token (apostrophes become a letter, U+02BC)."""
    return key.translate(_ENCODE)


@lru_cache(maxsize=1 << 18)
def word_tokens(word: str) -> tuple[str, ...]:
    """The index tokens of one surface word, sorted (deterministic)."""
    return tuple(sorted({encode(k) for k in word_keys(word)}))


@lru_cache(maxsize=1 << 16)
def alias_keys(word: str) -> frozenset[str]:
    """English stems of the Latin spellings of a capitalised Cyrillic word.

    Both the word as written and its name stem (one case ending off) are
    transliterated, so «Кулибаеву» gives ``kulibayev`` like «Кулибаев».
    """
    folded = fold(word)
    if not word[:1].isupper() or not CYRILLIC_RE.search(folded):
        return frozenset()
    return latin_keys(folded) | latin_keys(name_stem(folded))


@lru_cache(maxsize=1 << 16)
def latin_keys(folded: str) -> frozenset[str]:
    """English stems of the Latin spellings of one folded Cyrillic word."""
    out: set[str] = set()
    for variant in latin_variants(folded):
        for part in _SPLIT_RE.split(variant):
            if part:
                out |= term_keys(part)
    return frozenset(out)


def column_tokens(text: str) -> str:
    """Index tokens of a text: words separated by spaces, a word's tokens by ``+``."""
    return " ".join(WORD_JOIN.join(word_tokens(w)) for w in tokenize(text))


def alias_tokens(*texts: str) -> str:
    """The ``aliases`` column: Latin-spelling stems of every Cyrillic name.

    Each key once, grouped by the word that first gave it (``+``, as in
    `column_tokens`), in text order: PostgreSQL gives a group one position.
    """
    seen: set[str] = set()
    groups: list[str] = []
    for text in texts:
        for word in tokenize(text):
            new = [k for k in map(encode, sorted(alias_keys(word))) if k not in seen]
            if new:
                seen.update(new)
                groups.append(WORD_JOIN.join(new))
    return " ".join(groups)


def is_english(lang: str | None) -> bool:
    """True when an article's original language is English."""
    return (lang or "").split("-")[0].lower() == "en"


def build_search_doc(a: Article) -> SearchDoc:
    """The index row of one extracted article: original, English, aliases."""
    translated = not is_english(a.lang) and bool(a.title_en or a.text_en)
    return SearchDoc(
        article_id=a.id,
        title=column_tokens(a.title),
        body=column_tokens(a.text),
        title_en=column_tokens(a.title_en or "") if translated else "",
        body_en=column_tokens(a.text_en or "") if translated else "",
        aliases=alias_tokens(a.title, a.text),
    )
