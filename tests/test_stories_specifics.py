"""Conflicting headline specifics (dates, names) keep different events apart (issue #5)."""

from __future__ import annotations

import json
import struct

import pytest

from monitor.stories import (
    Relation,
    StoryClusterer,
    features_from_bytes,
    vectors_of,
)
from monitor.stories._features import _features_to_json
from monitor.stories._similarity import (
    DocumentFrequencies,
    conflicting,
    lexical_similarity,
    weigh,
    weighted_similarity,
)
from monitor.stories._specifics import (
    dates_conflict,
    names_conflict,
    title_dates,
    title_names,
)
from tests.test_stories import CFG, feat


@pytest.mark.parametrize(
    ("title", "dates"),
    [
        ("Прогноз погоды на 8 ноября", {"11-08"}),
        ("Синоптики: 18-го ноября в Астане похолодает", {"11-18"}),
        ("Delhi pollution to drop on November 8th", {"11-08"}),
        ("Parliament sits on 8 Nov and 1 December", {"11-08", "12-01"}),
        ("Выборы в мае 2024 года: что известно", set()),  # no day
        ("Итоги 2023 года", set()),
        ("32 мая", set()),
    ],
)
def test_headline_dates_fold_to_month_and_day(title, dates):
    assert title_dates(title) == dates


def test_headline_names_skip_the_first_word_and_title_case():
    assert title_names("В Алматы прошел митинг против тарифов") == {"lmt"}
    assert title_names("Protest Held In Almaty Over Tariffs") == frozenset()


def test_names_conflict_needs_an_unmentioned_name_on_both_sides():
    almaty, astana = frozenset({"lmt"}), frozenset({"stn"})
    assert names_conflict(almaty, almaty, astana, astana)
    # a follow-up that also mentions Almaty in its body is no conflict
    assert not names_conflict(almaty, almaty, astana, astana | {"lmt"})
    # one headline without names: nothing to compare
    assert not names_conflict(almaty, almaty, frozenset(), astana)
    # «Алматы» / «Алматинской области»: a shared stem counts as a mention
    region = frozenset({"lmtnsk"})
    assert not names_conflict(almaty, almaty, region, region)


def test_dates_conflict_only_when_both_headlines_carry_dates():
    assert dates_conflict(frozenset({"11-08"}), frozenset({"11-18"}))
    assert not dates_conflict(frozenset({"11-08"}), frozenset({"11-08", "11-09"}))
    assert not dates_conflict(frozenset({"11-08"}), frozenset())


PROTEST = (
    "В {city} в субботу прошел митинг против повышения тарифов на коммунальные "
    "услуги. Около {n} человек собрались у здания акимата. Участники требовали "
    "отменить рост тарифов на тепло и горячую воду с 1 марта. Полиция следила за "
    "порядком, задержаний не было. Организаторы пообещали продолжить акции."
)


def _protest(article_id: int, outlet: str, city: str, n: int, hours: float):
    title = f"В {city} прошел митинг против повышения коммунальных тарифов"
    return feat(article_id, outlet, "ru", title, PROTEST.format(city=city, n=n), hours)


def test_same_protest_in_two_cities_on_one_day_stays_separate():
    almaty = _protest(1, "Azattyq", "Алматы", 300, 0)
    astana = _protest(2, "Vlast", "Астане", 200, 2)
    # the words alone would merge them: only the headline's city differs
    dfs = DocumentFrequencies()
    for f in (almaty, astana):
        dfs.add(vectors_of(f))
    wa, wb = (weigh(f, vectors_of(f), dfs) for f in (almaty, astana))
    assert lexical_similarity(wa, wb) >= CFG.story_threshold
    assert weighted_similarity(wa, wb) < CFG.story_threshold
    a, b = StoryClusterer(CFG).assign_all([almaty, astana])
    assert (a.story_id, b.story_id, b.relation) == (1, 2, Relation.SEED)


def test_a_second_report_of_the_same_city_still_joins():
    almaty = _protest(1, "Azattyq", "Алматы", 300, 0)
    astana = _protest(2, "Vlast", "Астане", 200, 2)
    almaty_again = _protest(3, "Tengrinews", "Алматы", 300, 3)
    assignments = StoryClusterer(CFG).assign_all([almaty, astana, almaty_again])
    assert [(a.article_id, a.story_id) for a in assignments] == [(1, 1), (2, 2), (3, 1)]


FORECAST = (
    "Синоптики РГП «Казгидромет» рассказали о погоде на {day} ноября. На "
    "большей части страны ожидается погода без осадков, лишь на севере и "
    "востоке пройдут снег и метель, на дорогах гололед. Ночью на севере "
    "мороз до 20 градусов, днем до 12 градусов. В Астане ветер северо-западный, "
    "ночью минус 14, днем минус 8. В Алматы без осадков, ночью минус 3, днем 5."
)


def _forecast(article_id: int, outlet: str, day: int, hours: float):
    title = f"Прогноз погоды на {day} ноября"
    return feat(article_id, outlet, "ru", title, FORECAST.format(day=day), hours)


def test_template_forecasts_for_different_days_are_not_near_duplicates():
    eighth = _forecast(1, "Kazinform", 8, 0)
    ninth = _forecast(2, "Kazinform", 9, 24)
    eighth_copy = _forecast(3, "Tengrinews", 8, 1)
    out = {
        a.article_id: a
        for a in StoryClusterer(CFG).assign_all([eighth, ninth, eighth_copy])
    }
    assert (out[2].story_id, out[2].relation) == (2, Relation.SEED)
    assert (out[3].story_id, out[3].relation) == (1, Relation.NEAR)


def test_features_stored_before_specifics_still_load_without_them():
    f = _protest(1, "Azattyq", "Алматы", 300, 0)
    assert f.title_names == ("lmt",)
    blob = _features_to_json(f)  # SF01, the format features had then (#19: SF02)
    head = struct.Struct("<4sI")
    magic, size = head.unpack_from(blob)
    meta = json.loads(blob[head.size : head.size + size])
    del meta["title_names"], meta["title_dates"]
    payload = json.dumps(meta, ensure_ascii=False).encode()
    old = head.pack(magic, len(payload)) + payload + blob[head.size + size :]
    loaded = features_from_bytes(old)
    assert loaded.title_names == ()
    assert loaded.title_dates == ()
    assert loaded.terms == f.terms


def test_names_are_not_compared_across_languages_but_dates_are():
    ru = feat(1, "Azattyq", "ru", "В Алматы прошел митинг 8 ноября", PROTEST, 0)
    en = feat(2, "Eurasianet", "en", "Rally held in the city of Almaty", "Rally.", 1)
    other_day = feat(3, "Eurasianet", "en", "Rally in Almaty on November 9", "R.", 1)
    vr, ve, vd = vectors_of(ru), vectors_of(en), vectors_of(other_day)
    assert vr.title_names == {"lmt"}
    assert not conflicting(vr, ve, same_language=False)
    assert conflicting(vr, vd, same_language=False)  # 11-08 vs 11-09
