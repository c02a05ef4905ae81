"""Tokenisation and match keys: Russian lemmas, English stems, name stems.

A word matches a rule term when their *key sets* intersect.  Keys come from:

* Cyrillic words: every pymorphy3 normal form (all parses, so ambiguity widens
  rather than loses matches); a Snowball stem (``~`` prefix) for words the
  dictionary does not know; and, for capitalised words, a *name stem* (``§``
  prefix) that strips one Russian case ending, so surnames and place names the
  dictionary misparses (Токаев → "токай", Жанаозен → "жанаозный") still meet all
  their forms (issue #4: no hand-written inflections).
* Latin words: the Snowball English stem.

ё/е and case are folded everywhere.  Every function here is pure and cached.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..text import MAX_WORD_CHARS

TOKEN_RE = re.compile(r"[^\W_]+(?:[-‐‑'’][^\W_]+)*")
CYRILLIC_RE = re.compile(r"[а-яё]")
NAME_PREFIX = "§"
STEM_PREFIX = "~"
# Russian noun/surname/adjective case endings, longest first (name stems only;
# -ий is left alone so Дмитрий/Дмитрия/Дмитрием all give "дмитри").
_NAME_ENDINGS = (
    "ыми", "ями", "ами", "ого", "ому",
    "ая", "яя", "ое", "ый", "ую",
    "ом", "ем", "ём", "ым", "им", "ой", "ей", "ах", "ях", "ых", "их",
    "а", "я", "у", "ю", "е", "ы", "и", "ь", "й",
)  # fmt: skip
# pymorphy3 grammemes of proper-noun parses (entity names keep only these lemmas).
_PROPER_GRAMMEMES = frozenset({"Name", "Surn", "Patr", "Geox", "Orgn", "Trad", "Abbr"})
_MIN_NAME_STEM = 2
CACHE_SIZE = 1 << 18
MIN_LEMMA_SHARE = 0.1


@lru_cache(maxsize=1)
def _analyzer() -> Any:
    """pymorphy3's analyzer, loaded on the first Cyrillic word (its import and
    dictionaries cost a third of a second: commands that only read compiled
    rules never pay it)."""
    import pymorphy3

    return pymorphy3.MorphAnalyzer()


@lru_cache(maxsize=2)
def _stemmer(language: str) -> Any:
    """Snowball's stemmer for `language`, loaded on the first word that needs it
    (the package imports every language's stemmer: reading compiled rules needs
    none)."""
    import snowballstemmer

    return snowballstemmer.stemmer(language)


@dataclass(frozen=True, slots=True)
class Token:
    """One word of a text: its surface form and its match keys."""

    surface: str
    keys: frozenset[str]
    folded: str = ""  # for prefix* terms


def fold(word: str) -> str:
    """Lower-case and fold ё to е (and normalise apostrophes)."""
    return word.lower().replace("ё", "е").replace("’", "'")


def tokenize(text: str) -> list[str]:
    """Split text into words (hyphenated and apostrophised words stay whole).

    Tokens longer than `MAX_WORD_CHARS` are skipped: they are not words, and
    stemming one costs time quadratic in its length (issue #11).
    """
    return [w for w in TOKEN_RE.findall(text) if len(w) <= MAX_WORD_CHARS]


def name_stem(folded: str) -> str:
    """Strip one Russian case ending from a (folded) proper name."""
    for ending in _NAME_ENDINGS:
        if folded.endswith(ending) and len(folded) - len(ending) >= _MIN_NAME_STEM:
            return folded[: -len(ending)]
    return folded


@dataclass(frozen=True, slots=True)
class _Reading:
    lemma: str
    score: float
    proper: bool  # a proper-noun parse (name, surname, place, organisation)


@lru_cache(maxsize=CACHE_SIZE)
def _analyse_word(folded: str) -> tuple[tuple[_Reading, ...], bool]:
    """pymorphy3 readings of a folded word, and whether the dictionary knows it."""
    parses = _analyzer().parse(folded)
    readings = tuple(
        _Reading(
            fold(p.normal_form), p.score, bool(p.tag.grammemes & _PROPER_GRAMMEMES)
        )
        for p in parses
    )
    return readings, any(p.is_known for p in parses)


def _likely_lemmas(readings: tuple[_Reading, ...]) -> set[str]:
    """Lemmas whose readings carry at least MIN_LEMMA_SHARE of the best lemma's score.

    Keeps real ambiguity (выборы: выборы/выбор; данные: дать/данные/данный) and
    drops dictionary curiosities («после» as a form of «посол», «стали» of «сталь»).
    """
    totals: dict[str, float] = {}
    for r in readings:
        totals[r.lemma] = totals.get(r.lemma, 0.0) + r.score
    best = max(totals.values(), default=0.0)
    return {lemma for lemma, score in totals.items() if score >= best * MIN_LEMMA_SHARE}


@lru_cache(maxsize=CACHE_SIZE)
def _cyrillic_keys(folded: str, capitalised: bool) -> frozenset[str]:
    readings, known = _analyse_word(folded)
    if not capitalised:
        # Proper nouns are capitalised in Russian: a lower-case «песков» is sand,
        # not the surname Песков.
        readings = tuple(r for r in readings if not r.proper) or readings
    keys = _likely_lemmas(readings)
    if not known:
        keys.add(STEM_PREFIX + _stemmer("russian").stemWord(folded))
    return frozenset(keys)


@lru_cache(maxsize=CACHE_SIZE)
def _latin_keys(folded: str) -> frozenset[str]:
    """The Snowball stem, tagged with the word's suffix class (`suffix_class`)."""
    stem = _stemmer("english").stemWord(folded)
    family = suffix_class(folded, stem)
    if family:
        return frozenset({f"{stem}{FAMILY_SEP}{family}"})
    if folded.endswith(_VERBAL) and stem != folded:
        # -ion nouns name the act of the verb: inflated/inflating meet inflation,
        # elected meets election; the bare word (success, extreme) does not.
        return frozenset({stem, f"{stem}{FAMILY_SEP}ion"})
    return frozenset({stem})


# English derivational suffixes after the stem, longest first, and the family
# each one marks.  A Snowball stem is shared by whole word families (extreme and
# extremism -> "extrem"; success and succession -> "success"; author and
# authority -> "author"); a text word matches a rule term only when the stem AND
# the family agree, so inflections still meet (extremisms, elected/electing/
# elect) but a word that names another thing does not.  Suffixes that keep the
# meaning close (-er/-or agents, -ic/-al/-ive adjectives, -ly adverbs: computer
# and computing, athlete and athletics) stay in the base family.
FAMILY_SEP = "/"
_FAMILIES = (
    ("ation", "ion"), ("ition", "ion"), ("ities", "ity"), ("ness", "ness"),
    ("ment", "ment"),
    ("ance", "ance"), ("ence", "ance"), ("ancy", "ance"), ("ency", "ance"),
    ("able", "able"), ("ible", "able"), ("ism", "ism"), ("ist", "ist"),
    ("ity", "ity"), ("iti", "ity"), ("ion", "ion"), ("ous", "ous"),
    ("less", "less"),
)  # fmt: skip
_VERBAL = ("ed", "ing")
_INFLECTIONS = ("'s", "'", "ings", "ing", "ied", "ies", "ed", "es", "s", "d", "ly")


def suffix_class(folded: str, stem: str) -> str:
    """The derivational family of an English word given its stem ("" = base).

    Examples: extremism -> "ism", extreme -> "", extremes -> "",
    succession -> "ion", presenters -> "er", elected -> "".
    """
    common = 0
    for a, b in zip(folded, stem, strict=False):
        if a != b:
            break
        common += 1
    rests = [folded[common:]]
    for _ in range(3):  # e.g. "authorities'" -> "authorities" -> "authority"
        for rest in rests:
            for suffix, family in _FAMILIES:
                if rest.endswith(suffix):
                    return family
        rests = [r[: -len(e)] for r in rests for e in _INFLECTIONS if r.endswith(e)]
    return ""


def _word_keys(word: str) -> frozenset[str]:
    folded = fold(word)
    if CYRILLIC_RE.search(folded):
        keys = _cyrillic_keys(folded, word[:1].isupper())
        if word[:1].isupper():
            keys = keys | {NAME_PREFIX + name_stem(folded)}
        return keys
    return _latin_keys(folded)


@lru_cache(maxsize=CACHE_SIZE)
def word_keys(word: str) -> frozenset[str]:
    """All match keys of one surface word (a hyphenated word adds its parts' keys).

    Args:
        word: a word as it appears in a text or a rule (case matters: a capital
            initial adds the name-stem key).

    Returns:
        The keys; two words match when their key sets intersect.
    """
    keys = _word_keys(word)
    parts = re.split(r"[-‐‑]", word)
    if len(parts) > 1:
        for part in parts:
            if part:
                keys = keys | _word_keys(part)
    return keys


def term_keys(term: str) -> frozenset[str]:
    """Match keys of one rule term: the whole word only, never its hyphen parts.

    A text word "Алма-Аты" carries the keys of "Алма" and "Аты" too, so a rule
    term "Ата" would still find it; a rule term "Ата-Журт" must not match every
    "Ата", hence the asymmetry.
    """
    return _word_keys(term)


@lru_cache(maxsize=CACHE_SIZE)
def name_keys(word: str) -> frozenset[str]:
    """Match keys of one word of an entity name ("Песков", "Токаев").

    A capitalised Cyrillic name keeps only its name stem and the lemmas of
    proper-noun parses, so «Песков» does not match «песок» and «Токаев» does
    not match «токай»; lower-case words ("памирец") are ordinary terms.
    """
    folded = fold(word)
    if not CYRILLIC_RE.search(folded) or not word[:1].isupper():
        return term_keys(word)
    proper = {r.lemma for r in _analyse_word(folded)[0] if r.proper}
    return frozenset({NAME_PREFIX + name_stem(folded), *proper})


# Web addresses and URL paths in running text ("https://x.kz/a", "www.x.kz",
# "…/review-kazakhstan-year/1.html"): their slugs are not mentions.
_URL_RE = re.compile(
    r"(?:https?://|www\.)\S+"
    r"|\S*/[\w.%-]*[-_][\w.%-]*/\S*"
    r"|\S+/\S+\.(?:s?html?|php|aspx?|jsp)\b\S*",
    re.IGNORECASE,
)


def strip_urls(text: str) -> str:
    """`text` with URLs and URL paths replaced by a space."""
    return _URL_RE.sub(" ", text) if "/" in text or "www." in text else text


def analyse(text: str) -> list[Token]:
    """Tokenise `text` (URLs left out) and attach match keys to every word."""
    return [word_token(w) for w in tokenize(strip_urls(text))]


@lru_cache(maxsize=CACHE_SIZE)
def word_token(word: str) -> Token:
    """The (immutable, shared) token of one surface word."""
    return Token(word, word_keys(word), fold(word))


def is_cyrillic(text: str) -> bool:
    """True when most letters of `text` are Cyrillic."""
    sample = text[:2000]
    cyr = len(CYRILLIC_RE.findall(sample.lower()))
    latin = len(re.findall(r"[a-z]", sample.lower()))
    return cyr > latin
