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

import iuliia

# Schemes whose output the regional English-language press actually uses:
# Wikipedia/BGN-style "y" (Tokayev), passport-style ICAO (Tokaev), MVD 782
# (Mirziyoyev), Telegram/Uzbek-style "J" (Janaozen, Japarov), Yandex, Mosmetro.
SCHEMES = (
    iuliia.WIKIPEDIA,
    iuliia.BGN_PCGN,
    iuliia.MVD_782,
    iuliia.ICAO_DOC_9303,
    iuliia.TELEGRAM,
    iuliia.UZ,
    iuliia.YANDEX_MAPS,
    iuliia.MOSMETRO,
    iuliia.ALA_LC,
)
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
        for scheme in SCHEMES:
            latin = scheme.translate(source).replace("ʹ", "").replace("ʺ", "")
            latin = latin.replace("'", "")
            if is_latin(latin):
                out.add(latin)
    return tuple(sorted(out | {_feminine(v) for v in out if _feminine(v)}))


def _feminine(latin: str) -> str:
    """ "Nazarbayev" -> "Nazarbayeva" (last word only); "" when not a surname."""
    head, _, last = latin.rpartition(" ")
    if not _MASCULINE_SURNAME_RE.search(last.lower()):
        return ""
    return f"{head} {last}a".strip()
