"""Cheap, regex-based segmentation: paragraphs, then sentences (issue #3: speed).

Argos packages split sentences with Stanza, spaCy or MiniSBD; all of them are
slow to load and some download models on first use.  News text is regular
enough for a rule-based splitter: a sentence ends at ``.``, ``!``, ``?`` or
``…`` (plus closing quotes/brackets) followed by white space and something that
can start a sentence, unless the dot ends an abbreviation («т. е.», «ул.»,
«млн.»), an initial («В. Путин») or a number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Words that end in a dot without ending the sentence (lower-cased, no dot).
_ABBREVIATIONS = frozenset(
    """
    т е д п др пр см ср ул пер просп пл д кв обл р-н р-на респ им ст стр рис табл
    гл тыс млн млрд трлн руб долл коп тенге сом сум проф акад доц чл корр зам
    ген гос нач мин пред св тел вв ок прим изд ред англ рус нем франц лат каз
    кыргыз узб тадж букв напр зав искл вкл т.е т.д т.п т.к т.н н.э до н.э
    mr mrs ms dr prof st vs etc e.g i.e jr sr inc ltd co corp no
    """.split()
)
# "г." / "гг." / "в." end a sentence after a year ("в 2020 г. Президент"), but not
# before a name ("г. Алматы"): decided by what precedes them.
_YEAR_ABBREVIATIONS = frozenset({"г", "гг", "в", "вв"})

_END = re.compile(r"""[.!?…]+["»”’)\]]*(?=\s+)""")
_STARTER = re.compile(r"""["«“„'(\[—–-]?\s*[A-ZА-ЯЁ0-9ӘҒҚҢӨҰҮҺІЎҲӢӮҶ]""")
_WORD_BEFORE = re.compile(r"""([\w.\-]+)$""")
_PARAGRAPH_SEP = re.compile(r"(\s*\n\s*)")


@dataclass(frozen=True, slots=True, kw_only=True)
class Segment:
    """A piece of a text: a sentence to translate, or the separator after it."""

    text: str
    translate: bool


def split_paragraphs(text: str) -> list[Segment]:
    """Split text into paragraphs, keeping the exact separators between them.

    Args:
        text: article text; paragraphs are separated by one or more newlines.

    Returns:
        Alternating segments: paragraphs (``translate=True``) and separators
        (``translate=False``); joining every ``.text`` gives back ``text``.
    """
    parts = _PARAGRAPH_SEP.split(text)
    out = []
    for i, part in enumerate(parts):
        if part:
            out.append(Segment(text=part, translate=i % 2 == 0 and bool(part.strip())))
    return out


def split_sentences(paragraph: str, *, max_chars: int = 1000) -> list[str]:
    """Split one paragraph into sentences.

    Args:
        paragraph: text without newlines.
        max_chars: sentences longer than this are cut at a ``;``/``,``/space
            near the limit, so one run-on "sentence" cannot blow up a batch.

    Returns:
        The sentences, stripped; joining them with spaces restores the
        paragraph up to white space.
    """
    sentences: list[str] = []
    start = 0
    for m in _END.finditer(paragraph):
        end = m.end()
        rest = paragraph[end:].lstrip()
        if not rest or not _STARTER.match(rest):
            continue
        if m.group().startswith(".") and len(m.group().rstrip('"»”’)]')) == 1:
            if _is_abbreviation(paragraph[start : m.start()]):
                continue
        sentences.append(paragraph[start:end].strip())
        start = end
    sentences.append(paragraph[start:].strip())
    return [piece for s in sentences if s for piece in _cut_long(s, max_chars)]


def _is_abbreviation(before: str) -> bool:
    """Whether the word just before a single dot makes the dot a non-boundary."""
    m = _WORD_BEFORE.search(before)
    if m is None:
        return False
    word = m.group(1)
    low = word.lower().rstrip(".")
    if len(word) == 1 and word.isalpha() and word.isupper():
        return True  # an initial: «В. Путин», «Н. А. Назарбаев»
    if low in {"д", "п"} and re.search(r"\bт\.\s*$", before[: m.start()]):
        return False  # «и т. д.», «и т. п.» usually close the sentence
    if low in _YEAR_ABBREVIATIONS:
        return not re.search(
            r"\d\s*$", before[: m.start()]
        )  # «2020 г.» ends a sentence
    if low in _ABBREVIATIONS or low.replace(".", "") in _ABBREVIATIONS:
        return True
    # «т.е.», «и т.д.»: short dotted lower-case clusters
    return bool(re.fullmatch(r"(?:[а-яёa-z]{1,2}\.)+[а-яёa-z]{1,2}", low))


def _cut_long(sentence: str, max_chars: int) -> list[str]:
    pieces: list[str] = []
    while len(sentence) > max_chars:
        window = sentence[:max_chars]
        cut = max(window.rfind("; "), window.rfind(", "))
        if cut < max_chars // 2:
            cut = window.rfind(" ")
        if cut <= 0:
            cut = max_chars - 1
        pieces.append(sentence[: cut + 1].strip())
        sentence = sentence[cut + 1 :].strip()
    if sentence:
        pieces.append(sentence)
    return pieces
