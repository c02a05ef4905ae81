"""The search pre-filter (monitor/search/_prefilter.py) is sound: it rejects an
article only when the exact check (the rules' evaluator on the whole texts)
rejects it too, so results with and without it are identical.

Checked on hand-made articles built to hit its edges (case endings, ё/е,
hyphens, apostrophes, URLs, Latin spellings of Cyrillic names, translations)
and on real news from the corpus, against phrase, NEAR/n, NOT, alias and
@entity queries; then end to end through `search_archive` on both backends.
"""

from __future__ import annotations

import functools
import random
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor import search as search_mod
from monitor.classify import RuleSet, compile_topics
from monitor.models import Article, Translation, TranslationStatus
from monitor.search import compile_search, search_archive
from monitor.search._index import build_search_doc
from monitor.search._prefilter import make_prefilter, might_match
from monitor.search._query import CompiledSearch, matches
from tests.searchdata import NOW, build_archive

ROOT = Path(__file__).resolve().parents[1]
QUERIES = (
    '"Центральная Азия"', "Путин NEAR/5 переговоры", "Москва NEAR/10 санкции",
    '"prime minister"', "oil NEAR/3 price", '"Тимур Кулибаев"', '"Timur Kulibayev"',
    "Кулибаев NEAR/3 банк", "Kulibayev NEAR/5 bank", '"Халык банк" OR "Halyk Bank"',
    "Токаев NEAR/2 визит AND NOT спорт", '"Центральная Азия" AND NOT Россия',
    "(Путин OR Токаев) NEAR/4 (встреча OR переговоры)", '"Central Asia" NEAR/5 Russia',
    "Kazakhstan NEAR/1 Uzbekistan", '"ещё один"', '"еще один"', "Семенов NEAR/3 заявил",
    "Семёнов NEAR/3 заявил", '"Алма-Ата"', "Алматы NEAR/2 дрон", "Almaty NEAR/3 drones",
    '"O\'Brien said"', "@kulibayev NEAR/5 банк", "@almaty NEAR/8 (дрон OR полиция)",
    '"Kulibayev sells" AND NOT football', "Назарбаев NEAR/1 Нурсултан",
    '"по данным" NEAR/3 министерства', '"банк развития"', "NOT спорт AND \"в Москве\"",
    '"Касым-Жомарт Токаев"', "Tokayev NEAR/2 Kassym", '"Кулибаеву"',
    '"the bank" NEAR/2 said', "(выборы OR election) NEAR/6 (президент OR president)",
    '"2024 года"', "Kulibaev NEAR/4 forum", '"мировой рынок" OR "world market"',
)  # fmt: skip
# (title, text, lang, title_en, text_en)
EDGES = (
    ("Кулибаеву продали долю в Халык банке",
     "Тимуру Кулибаеву принадлежит доля. Банк развития Казахстана сообщил: ещё один "
     "транш. Семёнов заявил, что Кулибаев NEAR банк.", "ru",
     "Kulibayev was sold a stake", "Timur Kulibayev owns a stake in Halyk Bank.", ),
    ("Над Алма-Атой дроны", "В Алма-Ате и Алматы заметили дрон; полиция Алматы "
     "проверяет. Подробнее: https://vlast.kz/novosti/12345-drony-almaty.html",
     "ru", "Drones over Almaty", "Police in Almaty check drones over the city."),
    ("O'Brien said the bank will grow", "O’Brien said the bank said the price of oil "
     "will fall; oil and gas prices fell. Prime-minister visit to Central Asia "
     "and Russia.", "en", None, None),
    ("Касым-Жомарт Токаев провёл переговоры с Путиным",
     "Токаев и Путин провели переговоры в Москве; санкции обсуждались. Визит "
     "Токаева в Москву — ещё один шаг. Спорт не обсуждали.", "ru",
     "Kassym-Jomart Tokayev held talks with Putin",
     "Tokayev and Putin held talks in Moscow; sanctions were discussed."),
    ("", "Текст без заголовка: Центральная Азия и Россия, по данным министерства "
     "финансов, 2024 года выросли. " + "Очень" + "д" * 80 + " слово.", "ru", None, None),
    ("Назарбаев Нурсултан: «Центральная Азия»", "Нурсултан Назарбаев, Елбасы, и "
     "Кулибаева Динара. Мировой рынок. NEAR/3 «Центральной Азии».", "ru", "", ""),
    ("Выборы президента", "На выборах президента Казахстана голосовали; "
     "election of the president.", "ru", "Presidential election",
     "Voters elected the president of Kazakhstan."),
    ("Семенов и Семёнова", "Семенова заявила, еще один раз, что Семёнов заявил.",
     "ru", None, None),
    ("Kulibaev at the forum", "Kulibaev spoke; Кулибаев выступил на форуме.", "en",
     None, None),
)  # fmt: skip


def _article(i: int, title: str, text: str, lang: str, title_en, text_en) -> Article:
    return Article(
        id=i,
        canonical_url=f"https://x.example/{i}",
        url=f"https://x.example/{i}",
        feed_name="f",
        outlet="X",
        country="KZ",
        title=title,
        text=text,
        source=None,
        is_teaser=False,
        author=None,
        published=None,
        first_seen=datetime(2026, 1, 1, tzinfo=UTC),
        lang=lang,
        extract_status="done",
        translation_status=TranslationStatus.DONE,
        title_en=title_en,
        text_en=text_en,
    )


@functools.cache
def _rules() -> RuleSet:
    """The shipped topic rules (their @entities)."""
    return compile_topics(
        tomllib.loads((ROOT / "config" / "topics.toml").read_text("utf-8"))
    )


def _compiled() -> list[CompiledSearch]:
    return [compile_search(q, _rules()) for q in QUERIES]


def _corpus_articles(corpus: Path, n: int) -> list[Article]:
    from bench._archive_build import load_texts

    texts = load_texts(corpus)
    random.Random(15).shuffle(texts)
    return [_article(1000 + i, *t) for i, t in enumerate(texts[:n])]


def _check_sound(articles: list[Article]) -> tuple[int, int]:
    """(exact matches, pre-filter rejections) over every article and query;
    fails on any article the exact check accepts and the pre-filter rejects."""
    exact = rejected = 0
    for compiled in _compiled():
        pf = make_prefilter(compiled.exact)
        for a in articles:
            views = search_mod._views(a, True)
            ok = matches(compiled, views)
            kept = pf is None or might_match(pf, build_search_doc(a), a)
            assert kept or not ok, (compiled.source, a.title, a.text[:80])
            exact += ok
            rejected += not kept
    return exact, rejected


def test_every_query_has_a_prefilter() -> None:
    without = [c.source for c in _compiled() if make_prefilter(c.exact) is None]
    assert not without, without


def test_sound_on_the_edges() -> None:
    articles = [_article(i, *t) for i, t in enumerate(EDGES, 1)]
    exact, rejected = _check_sound(articles)
    assert exact >= 25  # the queries do match these articles ...
    assert rejected >= 100  # ... and the pre-filter does reject the rest


def test_sound_on_corpus_news(corpus_dir: Path) -> None:
    exact, rejected = _check_sound(_corpus_articles(corpus_dir, 250))
    assert exact >= 20
    assert rejected >= 1000


@pytest.mark.parametrize("query", QUERIES)
def test_results_equal_without_prefilter(storage, monkeypatch, query: str) -> None:
    """Through `search_archive` on a stored archive (both backends)."""
    build_archive(storage)
    with_pf = search_archive(storage, query, rules=_rules(), limit=20)
    monkeypatch.setattr(search_mod, "make_prefilter", lambda node: None)
    without = search_archive(storage, query, rules=_rules(), limit=20)
    assert [r.to_dict() for r in with_pf.results] == [
        r.to_dict() for r in without.results
    ]


def test_queued_articles_have_no_stored_tokens(tmp_path: Path) -> None:
    """A row whose article changed since it was indexed is not read (its tokens
    predate the text): the pre-filter leaves that article to the exact check."""
    from monitor.store import Storage

    with Storage(tmp_path / "m.db") as storage:
        ids = build_archive(storage)
        one = ids["pogoda"]
        assert set(storage.get_search_docs([one])) == {one}
        storage.save_translation(one, Translation(
            src="ru", dst="en", title="Snow in Astana", text="Snow and wind.",
            engine="fake", status=TranslationStatus.DONE), NOW)  # fmt: skip
        assert storage.count_search_index()[1] == 1  # queued by the trigger
        assert storage.get_search_docs([one]) == {}
