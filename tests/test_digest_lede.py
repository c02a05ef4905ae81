"""`make_lede` reads only the start of a long body, and gives exactly the lede of
the whole body (the day page's first view builds hundreds of ledes)."""

from __future__ import annotations

import json
import random
import unicodedata
from pathlib import Path

import pytest

from monitor.digest._model import (
    _CONTROL_RE,
    _SENTENCE_RE,
    _SPACE_RE,
    clean_text,
    make_lede,
    safe_url,
)


def whole_body_lede(text: str, *, sentences: int, max_chars: int, skip: str) -> str:
    """The reference: clean and split the whole body (make_lede before the prefix)."""
    body = clean_text(text)
    head = clean_text(skip)
    if head and body.startswith(head):
        body = body[len(head) :].lstrip(" .:-—")
    parts = [p for p in _SENTENCE_RE.split(body) if p]
    lede = " ".join(parts[: max(1, sentences)])
    if len(lede) <= max_chars:
        return lede
    cut = lede[: max_chars - 1]
    if " " in cut[max_chars // 2 :]:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,;:—-") + "…"


PIECES = (
    "Астана. ", "Mr. Smith said. ", "U.S. ", "A. Kulibayev ", "«Цитата.» ", "\n\n",
    "   ", "\t", "Ünïcödé ", "e\u0301 ", "\u0301\u0327\u0308", "\u200b", "\x07",
    "…", "? ", "! ", "1. ", "(Reuters) — ", "слово ", "word ", "—", ". ",
)  # fmt: skip


def hostile_texts(n: int, seed: int = 19) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        k = rng.choice((5, 50, 400, 3000))
        out.append("".join(rng.choice(PIECES) for _ in range(k)))
    return out


def check(texts: list[str], seed: int = 7) -> int:
    rng = random.Random(seed)
    checked = 0
    for text in texts:
        for _ in range(4):
            sentences, max_chars = rng.choice((1, 2, 3, 5)), rng.choice((40, 160, 320))
            words = text.split()
            skip = " ".join(words[: rng.choice((0, 3, 12))]) if words else ""
            kw = {"sentences": sentences, "max_chars": max_chars, "skip": skip}
            assert make_lede(text, **kw) == whole_body_lede(text, **kw), (text[:80], kw)
            checked += 1
    return checked


def test_the_lede_of_a_prefix_is_the_whole_bodys_on_hostile_text() -> None:
    assert check(hostile_texts(400)) == 1600


def test_a_body_whose_start_cleans_to_nothing_still_gives_its_lede() -> None:
    """The first prefixes read are all spaces and invisible characters: none of
    them may be taken for the lede (an empty one), the text after them is."""
    text = "\u200b \t" * 4000 + "Первое предложение. Второе. Третье."
    kw = {"sentences": 2, "max_chars": 100, "skip": ""}
    assert make_lede(text, **kw) == whole_body_lede(text, **kw)
    assert make_lede(text, **kw) == "Первое предложение. Второе."


def test_the_lede_of_a_prefix_is_the_whole_bodys_on_real_articles(
    corpus_dir: Path,
) -> None:
    truth = corpus_dir / "article-html" / "scrapinghub-aeb" / "ground-truth.json"
    if not truth.exists():
        pytest.skip(f"corpus file not found: {truth}")
    bodies = [v["articleBody"] for v in json.loads(truth.read_text()).values()]
    assert check([b for b in bodies if b]) >= 4 * 50


def slow_clean(value: str | None) -> str:
    """The reference: `clean_text` without its fast path."""
    if not value:
        return ""
    value = unicodedata.normalize("NFC", value)
    value = _CONTROL_RE.sub(" ", value)
    return _SPACE_RE.sub(" ", value).strip()


CHARS = (
    "a", "Ж", " ", "  ", "\t", "\n", "\xa0", "\u2003", "\u3000", "\u2028", "\x1c",
    "\x85", "\u200b", "\u200f", "\u202e", "\u2066", "\x07", "\x7f", "e\u0301",
    "\u0301", "\u1e9b\u0323", "\ufb01", "ǅ", "😀", "\U000e0041", "\ud7ff",
)  # fmt: skip


def test_clean_text_answers_as_the_three_passes_do() -> None:
    rng = random.Random(5)
    samples = ["".join(rng.choice(CHARS) for _ in range(rng.randrange(1, 12)))
               for _ in range(20_000)]  # fmt: skip
    fast = sum(1 for s in samples if clean_text(s) is s)
    assert all(clean_text(s) == slow_clean(s) for s in samples)
    assert fast > 100  # the control: the fast path was taken, and agreed


def test_safe_url_refuses_any_whitespace_inside() -> None:
    for space in ("\xa0", "\u2003", "\u3000", "\x1c", "\t"):
        assert safe_url(f"https://a.example/x{space}y") is None
    assert safe_url(" https://a.example/x ") == "https://a.example/x"
