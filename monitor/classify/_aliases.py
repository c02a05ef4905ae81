"""Latin spellings of Cyrillic names, generated with iuliia (issue #4: aliases).

One `[[entity]]` entry lists a name once, in Cyrillic; the Latin spellings the
press actually uses (Nazarbayev, Nazarbaev; Zhanaozen, Janaozen; Mirziyoyev,
Mirziyoev) come from several standard transliteration schemes.  Feminine forms
of -ov/-ev/-in surnames are added on the Latin side (Nazarbayeva, Karimova);
the Cyrillic side gets them from morphology.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

# Schemes whose output the regional English-language press actually uses:
# Wikipedia/BGN-style "y" (Tokayev), passport-style ICAO (Tokaev), MVD 782
# (Mirziyoyev), Telegram/Uzbek-style "J" (Janaozen, Japarov), Yandex, Mosmetro.
SCHEME_NAMES = (
    "WIKIPEDIA",
    "BGN_PCGN",
    "MVD_782",
    "ICAO_DOC_9303",
    "TELEGRAM",
    "UZ",
    "YANDEX_MAPS",
    "MOSMETRO",
    "ALA_LC",
)


@lru_cache(maxsize=1)
def _schemes() -> tuple[Any, ...]:
    """iuliia's schemes, loaded on the first name (reading compiled rules needs
    none)."""
    import iuliia

    return tuple(getattr(iuliia, name) for name in SCHEME_NAMES)


_ASCII_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z' -]*$")
_MASCULINE_SURNAME_RE = re.compile(r"(?:ov|ev|yev|in|yn)$")


def is_latin(name: str) -> bool:
    """True for names written in plain Latin letters."""
    return bool(_ASCII_NAME_RE.match(name))


@lru_cache(maxsize=4096)
def latin_variants(name: str) -> tuple[str, ...]:
    """Latin spellings of a Cyrillic name, one per distinct scheme output.

    Args:
        name: a Cyrillic name, one or more words ("Нурсултан Назарбаев").

    Returns:
        Distinct ASCII spellings, sorted, including feminine surname forms.
    """
    out: set[str] = set()
    for source in {name, name.replace("ё", "е").replace("Ё", "Е")}:
        for scheme in _schemes():
            latin = scheme.translate(source).replace("ʹ", "").replace("ʺ", "")
            latin = latin.replace("'", "")
            if is_latin(latin):
                out.add(latin)
    out |= {variant for v in out for variant in spelling_variants(v)}
    return tuple(sorted(out | {_feminine(v) for v in out if _feminine(v)}))


# One-step respellings the English-language press makes systematically, per
# word: (pattern, replacement).  Each is applied alone, at each place it fits.
_RESPELL = (
    (re.compile(r"(?<=[aeiouy])([slnmrt])(?=[aeiouy])"), r"\1\1"),  # Masimov/Massimov
    (re.compile(r"(?<=[aeiou])(?:y|i)?ev(?=a?$)"), "yev"),  # Tokaev/Tokayev
    (re.compile(r"(?<=[aeou])(?:y|i)?ev(?=a?$)"), "iev"),  # Tokaev/Tokaiev
    (re.compile(r"(?<=[aeiou])(?:y|i)ev(?=a?$)"), "ev"),  # Aliyev/Aliev
    (re.compile(r"ov$"), "off"),  # Masimov/Masimoff
    (re.compile(r"ev$"), "eff"),
    (re.compile(r"(?<=[^aeiouy])y(?=[^aeiouy]|$)"), "i"),  # Sadyr/Sadir
    (re.compile(r"(?<=[^aeiouy])i(?=[^aeiouy])"), "y"),  # Kirgiz/Kyrgiz
    (re.compile(r"kh"), "h"),  # Rakhat/Rahat
    (re.compile(r"(?<![kszc])h"), "kh"),
    (re.compile(r"zh"), "j"),  # Zhanaozen/Janaozen, Zhaparov/Japarov
    (re.compile(r"dzh|j"), "zh"),
)


def spelling_variants(latin: str) -> set[str]:
    """Systematic one-step respellings of a Latin name, word by word.

    Example: ``"Karim Masimov"`` gives "Karim Massimov", "Karim Masimoff",
    "Karrim Masimov" ... (doubled consonants, -ev/-yev/-iev, -ov/-off, y/i,
    kh/h, zh/j).  The name itself is not included.
    """
    words = latin.split(" ")
    out: set[str] = set()
    for i, word in enumerate(words):
        for variant in _word_variants(word):
            out.add(" ".join([*words[:i], variant, *words[i + 1 :]]))
    out.discard(latin)
    return {v for v in out if is_latin(v)}


def _word_variants(word: str) -> set[str]:
    lower = word.lower()
    found: set[str] = set()
    for pattern, repl in _RESPELL:
        for m in pattern.finditer(lower):
            new = lower[: m.start()] + m.expand(repl) + lower[m.end() :]
            found.add(new[:1].upper() + new[1:] if word[:1].isupper() else new)
    return found


def _feminine(latin: str) -> str:
    """ "Nazarbayev" -> "Nazarbayeva" (last word only); "" when not a surname."""
    head, _, last = latin.rpartition(" ")
    if not _MASCULINE_SURNAME_RE.search(last.lower()):
        return ""
    return f"{head} {last}a".strip()
