"""Guards against bad machine-translation output (issue #3).

Users of Argos and LibreTranslate report four failure modes: repetition loops,
output much longer or shorter than the source, output left in the source
script, and empty output.  Each guard is a pure function of (source, output);
`check_output` returns the first reason found, or None when the output passes.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

_CYRILLIC = re.compile(r"[\u0400-\u04FF]")
_LETTER = re.compile(r"[^\W\d_]")
_WORD = re.compile(r"\w+")
# A chunk of 2+ characters repeated 4+ times back to back: "ителиители...".
_CHAR_LOOP = re.compile(r"(\w{2,}?)\1{3,}")


@dataclass(frozen=True, slots=True, kw_only=True)
class GuardLimits:
    """Thresholds for `check_output`; the defaults suit sentence-level news MT."""

    min_ratio: float = 0.3  # output/source length, in characters (smoothed)
    max_ratio: float = 3.0
    max_cyrillic: float = 0.5  # share of output letters still Cyrillic (target en)
    max_word_repeats: int = 4  # the same word this many times in a row is a loop
    max_ngram_repeats: int = 3  # the same 2..4-word phrase this many times in a row


DEFAULT_LIMITS = GuardLimits()


def check_output(
    source: str,
    output: str,
    *,
    target: str = "en",
    limits: GuardLimits = DEFAULT_LIMITS,
) -> str | None:
    """Check one translated sentence.

    Args:
        source: the source sentence.
        output: the engine's translation of it.
        target: target language code (the Cyrillic guard applies to non-Cyrillic
            targets only).
        limits: thresholds.

    Returns:
        None when the output looks acceptable, else a short reason:
        ``"empty"``, ``"repetition"``, ``"too long"``, ``"too short"`` or
        ``"cyrillic"``.
    """
    if not output.strip():
        return "empty"
    if has_repetition(output, limits) and not has_repetition(source, limits):
        return "repetition"
    ratio = length_ratio(source, output)
    if ratio > limits.max_ratio:
        return "too long"
    if ratio < limits.min_ratio:
        return "too short"
    if target not in CYRILLIC_TARGETS and cyrillic_share(output) > limits.max_cyrillic:
        return "cyrillic"
    return None


CYRILLIC_TARGETS = frozenset(
    {"ru", "uk", "be", "bg", "sr", "mk", "kk", "ky", "tg", "mn", "tt", "ba"}
)


def length_ratio(source: str, output: str) -> float:
    """Output over source length, smoothed so short strings are judged gently."""
    return (len(output.strip()) + 10) / (len(source.strip()) + 10)


def cyrillic_share(text: str) -> float:
    """Share of the letters in `text` that are Cyrillic (0.0 below 4 letters)."""
    letters = _LETTER.findall(text)
    if len(letters) < 4:
        return 0.0
    return sum(1 for ch in letters if _CYRILLIC.match(ch)) / len(letters)


def has_repetition(text: str, limits: GuardLimits = DEFAULT_LIMITS) -> bool:
    """Whether `text` contains a degenerate loop of words, phrases or characters."""
    if _CHAR_LOOP.search(text):
        return True
    words = [w.lower() for w in _WORD.findall(text)]
    if _max_run(words, 1) >= limits.max_word_repeats:
        return True
    return any(_max_run(words, n) >= limits.max_ngram_repeats for n in (2, 3, 4))


def _max_run(words: list[str], n: int) -> int:
    """Longest run of the same n-gram repeated back to back."""
    best = 1
    for start in range(n):
        run = 1
        grams = [tuple(words[i : i + n]) for i in range(start, len(words) - n + 1, n)]
        for prev, cur in itertools.pairwise(grams):
            run = run + 1 if cur == prev else 1
            best = max(best, run)
    return best
