"""Source-language decisions: which articles go to which model (issue #3).

Feeds and the extractor label most Central Asian text ``ru``, but Kazakh, Uzbek,
Kyrgyz, Tajik, Tatar and Bashkir are written in Cyrillic too and must never be
pushed through a Russian model.  Their extra letters give them away cheaply.
"""

from __future__ import annotations

import re

from monitor.lang import cyrillic_language

_CYRILLIC = re.compile(r"[\u0400-\u04FF]")
_WORD = re.compile(r"[^\W\d_]+")
# Letters that do not occur in Russian, per language (Cyrillic orthographies).
_MARKERS: dict[str, frozenset[str]] = {
    "kk": frozenset("әғқңөұүһі"),
    "uz": frozenset("ўқғҳ"),
    "tg": frozenset("ғӣқӯҳҷ"),
    "ky": frozenset("ңөү"),
    "tt": frozenset("әҗңөүһ"),
    "ba": frozenset("әғҡҙҫңөүһ"),
}
REGIONAL = frozenset(_MARKERS)
# Letters that single out one language among those above.
_DECISIVE: dict[str, str] = {
    "ә": "kk",
    "ұ": "kk",
    "і": "kk",
    "һ": "kk",
    "ў": "uz",
    "ӣ": "tg",
    "ӯ": "tg",
    "ҷ": "tg",
}
_ALL_MARKERS = frozenset().union(*_MARKERS.values())
MIN_MARKER_SHARE = (
    0.03  # Kazakh prose runs ~8-12%; a Russian text quoting Kazakh names ~0.5%
)
MIN_MARKERS = 3


def detect_source(src: str | None, title: str, text: str) -> str | None:
    """Decide the language to translate from.

    Args:
        src: the article's language as detected upstream (may be None).
        title: article title.
        text: article text.

    Returns:
        ``src``, unless the text is Cyrillic with enough non-Russian letters to
        be Kazakh, Uzbek, Tajik or Kyrgyz (then that code), or ``src`` is None
        and the text is mostly Cyrillic (then ``"ru"``).
    """
    sample = f"{title}\n{text}"[:20_000]
    cyr = _CYRILLIC.findall(sample)
    if src not in (None, "ru", *REGIONAL) or not cyr:
        return src
    # Proper names («Тоқаев», «Ақорда») carry markers into Russian text too:
    # judge by the words that do not start with a capital.
    common = [w for w in _WORD.findall(sample) if not w[0].isupper()]
    other = detect_turkic_persian(_CYRILLIC.findall("".join(common)), " ".join(common))
    if other is not None:
        return other
    if src is None and len(cyr) > 0.3 * max(1, sum(ch.isalpha() for ch in sample)):
        return "ru"
    return src


def detect_turkic_persian(cyrillic_letters: list[str], words: str = "") -> str | None:
    """Return kk/uz/tg/ky/tt/ba when the Cyrillic letters carry enough of their
    markers; which one is `monitor.lang.cyrillic_language`'s decision on
    ``words`` (Tatar and Bashkir share most of Kazakh's letters)."""
    found = [ch for ch in cyrillic_letters if ch in _ALL_MARKERS]
    if len(found) < MIN_MARKERS or len(found) < MIN_MARKER_SHARE * len(
        cyrillic_letters
    ):
        return None
    decided = cyrillic_language(words) if words else None
    if decided in REGIONAL:
        return decided
    votes: dict[str, int] = {}
    for ch in found:
        lang = _DECISIVE.get(ch)
        if lang is not None:
            votes[lang] = votes.get(lang, 0) + 1
    if votes:
        return max(votes, key=lambda k: votes[k])
    # Only shared letters: ң/ө/ү without ә/ұ/і is Kyrgyz; қ/ғ/ҳ alone lean Uzbek.
    return "ky" if any(ch in _MARKERS["ky"] for ch in found) else "uz"


def no_model_note(src: str, dst: str, *, installed_hint: bool = False) -> str:
    """The note shown in the digest for an article nobody can translate."""
    if installed_hint:
        return f"untranslated (no {src}→{dst} model installed)"
    return f"untranslated (no {src}→{dst} model)"
