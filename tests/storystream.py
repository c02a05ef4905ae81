"""A synthetic news stream for story-window tests and benches (issue #19).

No corpus text: words are generated.  Stories have core words, names and
figures; their articles are rewrites (same core, other words), near copies
(a few words changed, another outlet), exact re-posts (same outlet and title)
and English reports of Russian ones, so every relation the clusterer knows
(seed, exact, near, story) occurs.  Deterministic for a given seed.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from monitor.stories import StoryCandidate

T0 = datetime(2026, 3, 1, tzinfo=UTC)
_RU = "абвгдежзиклмнопрстуфхцчшэюя"
_EN = "abcdefghiklmnoprstuvwyz"


def _word(rng: random.Random, letters: str) -> str:
    return "".join(rng.choice(letters) for _ in range(rng.randint(5, 9)))


class _Vocab:
    def __init__(self, rng: random.Random, size: int) -> None:
        self.ru = [_word(rng, _RU) for _ in range(size)]
        self.en = [_word(rng, _EN) for _ in range(size)]  # en[i] translates ru[i]
        self.names = [_word(rng, _RU).capitalize() for _ in range(size // 10)]


def _sentence(rng: random.Random, words: list[str], k: int) -> str:
    return " ".join(rng.choice(words) for _ in range(k)) + "."


def _story(rng: random.Random, vocab: _Vocab) -> dict[str, object]:
    core = rng.sample(range(len(vocab.ru)), 12)
    return {
        "core": core,
        "names": rng.sample(vocab.names, 2),
        "figure": str(rng.randint(10, 9999)),
    }


def _text(rng, vocab: _Vocab, story, lang: str) -> tuple[str, str]:
    words = vocab.ru if lang == "ru" else vocab.en
    core = [words[i] for i in story["core"]]
    filler = [rng.choice(words) for _ in range(60)]
    names = story["names"]
    title = " ".join(rng.sample(core, 4)) + f" {names[0]}"
    body = []
    for _ in range(12):
        body.append(
            _sentence(rng, core + filler, 10)
            + f" Сказал {rng.choice(names)} о {story['figure']} и {rng.randint(1, 99)}."
        )
    return title, " ".join(body)


def _edit(rng: random.Random, text: str, words: list[str]) -> str:
    out = text.split()
    for _ in range(max(1, len(out) // 25)):
        out[rng.randrange(len(out))] = rng.choice(words)
    return " ".join(out)


def stream(n: int, *, per_day: int, seed: int = 1) -> Iterator[StoryCandidate]:
    """``n`` candidates in time order, ``per_day`` a day, ids 1..n."""
    rng = random.Random(seed)
    vocab = _Vocab(rng, 4000)
    step = timedelta(days=1) / per_day
    recent: list[tuple[StoryCandidate, dict[str, object]]] = []
    for i in range(1, n + 1):
        t = T0 + i * step
        roll = rng.random()
        outlet = f"outlet{rng.randrange(30)}"
        if recent and roll < 0.05:  # exact re-post by the same outlet
            base, story = rng.choice(recent[-300:])
            cand = StoryCandidate(article_id=i, outlet=base.outlet, lang=base.lang,
                                  time=t, title=base.title, text=base.text)  # fmt: skip
        elif recent and roll < 0.25:  # near copy by another outlet
            base, story = rng.choice(recent[-300:])
            words = vocab.ru if base.lang == "ru" else vocab.en
            cand = StoryCandidate(article_id=i, outlet=outlet, lang=base.lang, time=t,
                                  title=base.title,
                                  text=_edit(rng, base.text, words))  # fmt: skip
        else:
            if recent and roll < 0.55:  # a rewrite of a recent story
                story = rng.choice(recent[-300:])[1]
            else:
                story = _story(rng, vocab)
            lang = "en" if rng.random() < 0.3 else "ru"
            title, text = _text(rng, vocab, story, lang)
            title_en = text_en = None
            if lang == "ru" and rng.random() < 0.5:
                title_en, text_en = _text(rng, vocab, story, "en")
            cand = StoryCandidate(article_id=i, outlet=outlet, lang=lang, time=t,
                                  title=title, text=text, title_en=title_en,
                                  text_en=text_en,
                                  is_teaser=rng.random() < 0.05)  # fmt: skip
        recent.append((cand, story))
        if len(recent) > 600:
            del recent[:300]
        yield cand
