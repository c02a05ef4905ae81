"""Story clustering (issue #5): duplicates, cross-lingual stories, stability."""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitor.config import StoriesConfig
from monitor.models import Article, TextSource, TranslationStatus
from monitor.stories import (
    Relation,
    StoryCandidate,
    StoryClusterer,
    StoryFeatures,
    candidate_from_article,
    compute_features,
    features_from_bytes,
    features_to_bytes,
    load_known,
    window_start,
)
from monitor.stories._text import entity_key, entity_keys, normalise_title
from tests import test_stories_data as D

T0 = datetime(2026, 3, 12, 6, 0, tzinfo=UTC)
CFG = StoriesConfig()


def feat(
    article_id: int,
    outlet: str,
    lang: str,
    title: str,
    text: str,
    hours: float = 0,
    **kw: Any,
) -> StoryFeatures:
    cand = StoryCandidate(
        article_id=article_id,
        outlet=outlet,
        lang=lang,
        time=T0 + timedelta(hours=hours),
        title=title,
        text=text,
        **kw,
    )
    return compute_features(cand, CFG)


def wire_copies(*, translated: bool = False) -> list[StoryFeatures]:
    en: dict[str, Any] = (
        {"title_en": D.WIRE_EN_TITLE, "text_en": D.WIRE_EN} if translated else {}
    )
    return [
        feat(1, "Kazinform", "ru", D.WIRE_TITLE, D.WIRE, **en),
        feat(2, "Tengrinews", "ru", D.WIRE_B_TITLE, D.WIRE_B, 1),
        feat(3, "Vlast", "ru", D.WIRE_C_TITLE, D.WIRE_C, 2.5),
    ]


def day_of_news() -> list[StoryFeatures]:
    return [
        *wire_copies(translated=True),
        feat(4, "Eurasianet", "en", D.EN_REPORT_TITLE, D.EN_REPORT, 3),
        feat(5, "Azattyq", "ru", D.PROTEST_ALMATY_TITLE, D.PROTEST_ALMATY, 4),
        feat(6, "24.kg", "ru", D.PROTEST_BISHKEK_TITLE, D.PROTEST_BISHKEK, 4.5),
        feat(7, "Gazeta.uz", "ru", D.UNRELATED_TITLE, D.UNRELATED, 5),
    ]


# ---------------------------------------------------------------- text helpers


@pytest.mark.parametrize(
    ("words", "key"),
    [
        (("Токаев", "Токаеву", "Токаевым", "Tokayev", "Tokaev"), "tkv"),
        (("Казахстана", "Казахстан", "Kazakhstan"), "kzstn"),
        (("Жапаров", "Japarov", "Zhaparov"), "prv"),
        (("Бишкеке", "Bishkek"), "bsk"),
        (("Мирзиёев", "Мирзиеву", "Mirziyoyev"), "mrzv"),
    ],
)
def test_transliteration_variants_share_an_entity_key(words, key):
    assert {entity_key(w) for w in words} == {key}


def test_entity_keys_skip_sentence_starts_and_stopwords():
    keys = entity_keys("", "Вчера Токаев прибыл в Астану. Он встретился с Мирзиёевым.")
    assert keys == {"tkv", "stn", "mrzv"}


def test_title_normalisation_folds_case_yo_and_punctuation():
    assert normalise_title("«Ёлки»: ВСЁ  о главном!") == normalise_title(
        "ёлки — все о главном"
    )


# ---------------------------------------------------------------- the cases


def test_wire_story_republished_by_three_outlets_is_one_story():
    assignments = StoryClusterer(CFG).assign_all(wire_copies())
    assert {a.story_id for a in assignments} == {1}
    assert [a.relation for a in assignments] == [
        Relation.SEED,
        Relation.NEAR,
        Relation.NEAR,
    ]
    assert all(a.score >= CFG.near_duplicate_threshold for a in assignments[1:])


def test_russian_original_and_english_report_form_one_story():
    ru = feat(
        10,
        "Kazinform",
        "ru",
        D.WIRE_TITLE,
        D.WIRE,
        title_en=D.WIRE_EN_TITLE,
        text_en=D.WIRE_EN,
    )
    en = feat(11, "Eurasianet", "en", D.EN_REPORT_TITLE, D.EN_REPORT, 2)
    first, second = StoryClusterer(CFG).assign_all([en, ru])
    assert first.article_id == 10
    assert first.relation == Relation.SEED
    assert second.story_id == 10
    assert second.relation == Relation.STORY
    assert second.score >= CFG.story_threshold


def test_english_report_meets_untranslated_russian_through_entities():
    """Without any translation, transliterated names and numbers still link them."""
    ru = feat(10, "Kazinform", "ru", D.WIRE_TITLE, D.WIRE)
    en = feat(11, "Eurasianet", "en", D.EN_REPORT_TITLE, D.EN_REPORT, 2)
    _, second = StoryClusterer(CFG).assign_all([ru, en])
    assert second.story_id == 10


def test_two_protests_in_different_cities_on_the_same_day_stay_separate():
    almaty = feat(20, "Azattyq", "ru", D.PROTEST_ALMATY_TITLE, D.PROTEST_ALMATY)
    bishkek = feat(21, "24.kg", "ru", D.PROTEST_BISHKEK_TITLE, D.PROTEST_BISHKEK, 1)
    a, b = StoryClusterer(CFG).assign_all([almaty, bishkek])
    assert (a.story_id, b.story_id) == (20, 21)
    assert b.relation == Relation.SEED


def test_a_day_of_news_groups_into_the_expected_stories():
    assignments = StoryClusterer(CFG).assign_all(day_of_news())
    groups: dict[int, set[int]] = {}
    for a in assignments:
        groups.setdefault(a.story_id, set()).add(a.article_id)
    assert sorted(groups.values(), key=min) == [{1, 2, 3, 4}, {5}, {6}, {7}]


def test_follow_up_from_another_outlet_joins_as_story():
    first = feat(30, "Gazeta.uz", "ru", D.UNRELATED_TITLE, D.UNRELATED)
    follow = feat(
        31, "Kun.uz", "ru", D.UNRELATED_FOLLOW_UP_TITLE, D.UNRELATED_FOLLOW_UP, 5
    )
    _, b = StoryClusterer(CFG).assign_all([first, follow])
    assert (b.story_id, b.relation, b.matched_id) == (30, Relation.STORY, 30)


# ---------------------------------------------------------------- exact duplicates


def test_same_title_same_outlet_is_an_exact_duplicate():
    a = feat(40, "Kazinform", "ru", D.WIRE_TITLE, D.WIRE)
    b = feat(
        41,
        "Kazinform",
        "ru",
        D.WIRE_TITLE + "!",
        "Подробнее по ссылке.",
        6,
        is_teaser=True,
    )
    _, second = StoryClusterer(CFG).assign_all([a, b])
    assert (second.story_id, second.relation) == (40, Relation.EXACT)


def test_same_title_with_a_different_body_is_not_an_exact_duplicate():
    a = feat(40, "Azattyq", "ru", "Митинг в Алматы: главное за день", D.PROTEST_ALMATY)
    b = feat(41, "Azattyq", "ru", "Митинг в Алматы: главное за день", D.UNRELATED, 20)
    _, second = StoryClusterer(CFG).assign_all([a, b])
    assert second.relation == Relation.SEED


def test_copies_outside_the_time_window_start_a_new_story():
    a = feat(50, "Kazinform", "ru", D.WIRE_TITLE, D.WIRE)
    b = feat(51, "Tengrinews", "ru", D.WIRE_B_TITLE, D.WIRE_B, CFG.window_hours + 1)
    _, second = StoryClusterer(CFG).assign_all([a, b])
    assert second.story_id == 51


# ---------------------------------------------------------------- stability


def test_rerunning_from_scratch_gives_the_same_ids_and_members():
    first = StoryClusterer(CFG).assign_all(day_of_news())
    again = StoryClusterer(CFG).assign_all(list(reversed(day_of_news())))
    assert first == again


def test_known_articles_keep_their_story_when_seen_again():
    batch = day_of_news()
    clusterer = StoryClusterer(CFG)
    first = clusterer.assign_all(batch)
    again = clusterer.assign_all(batch)
    assert [(a.article_id, a.story_id) for a in again] == [
        (a.article_id, a.story_id) for a in first
    ]


def test_incremental_run_joins_yesterdays_story_without_moving_anything():
    yesterday = StoryClusterer(CFG).assign_all(day_of_news())
    stored = [
        (a.story_id, features_from_bytes(features_to_bytes(f)))
        for a, f in zip(
            yesterday, sorted(day_of_news(), key=lambda f: f.time), strict=True
        )
    ]
    today = StoryClusterer(CFG, known=stored)
    late = feat(60, "Reuters", "en", D.EN_REPORT_TITLE, D.EN_REPORT, 24)
    assignment = today.assign(late)
    assert assignment.story_id == 1
    assert assignment.relation in (Relation.NEAR, Relation.STORY)
    for story_id, f in stored:
        assert today.story_of(f.article_id) == story_id


# ---------------------------------------------------------------- boundaries


def test_features_round_trip_through_bytes():
    f = feat(
        70,
        "Kazinform",
        "ru",
        D.WIRE_TITLE,
        D.WIRE,
        title_en=D.WIRE_EN_TITLE,
        text_en=D.WIRE_EN,
    )
    assert features_from_bytes(features_to_bytes(f)) == f


def test_unreadable_stored_features_are_skipped_and_logged(caplog):
    good = features_to_bytes(feat(80, "A", "ru", D.WIRE_TITLE, D.WIRE))
    with caplog.at_level(logging.WARNING, logger="monitor.stories"):
        known = load_known([(80, 80, good), (81, 81, b"garbage!"), (82, 82, b"")])
    assert [f.article_id for _, f in known] == [80]
    assert "article=81" in caplog.text
    assert "article=82" in caplog.text


def test_empty_and_odd_articles_do_not_crash():
    batch = [
        feat(90, "A", "ru", "", ""),
        feat(91, "A", "ru", "", ""),
        feat(92, "B", "kk", "Жаңалықтар", "Астана қаласында жиын өтті."),
        feat(93, "C", "und", "!!!", "..."),
    ]
    assignments = StoryClusterer(CFG).assign_all(batch)
    assert [a.relation for a in assignments] == [Relation.SEED] * 4


def test_candidate_uses_first_seen_when_published_is_missing_or_bogus():
    art = Article(
        id=1,
        canonical_url="https://x/1",
        url="https://x/1",
        feed_name="x",
        outlet="X",
        country="KZ",
        title="t",
        text="b",
        source=TextSource.PAGE,
        is_teaser=False,
        author=None,
        published=T0 + timedelta(days=30),
        first_seen=T0,
        lang="ru",
        extract_status="done",
        translation_status=TranslationStatus.DONE,
    )
    assert candidate_from_article(art).time == T0
    earlier = dataclasses.replace(art, published=T0 - timedelta(hours=2))
    assert candidate_from_article(earlier).time == T0 - timedelta(hours=2)


def test_window_start_covers_the_oldest_article_of_the_batch():
    batch = day_of_news()
    start = window_start(batch, CFG, now=T0 + timedelta(days=1))
    assert start == T0 - timedelta(hours=CFG.window_hours)


def test_window_keeps_only_recent_articles_so_work_stays_bounded():
    texts = [D.WIRE, D.PROTEST_ALMATY, D.PROTEST_BISHKEK, D.UNRELATED, D.EN_REPORT]
    clusterer = StoryClusterer(CFG)
    for i in range(40):  # one article every 12 hours for 20 days
        text = texts[i % len(texts)]
        clusterer.assign(feat(100 + i, f"o{i}", "ru", f"Новость {i}", text, 12 * i))
    per_window = int(CFG.window_hours // 12) + 1
    assert len(clusterer) <= per_window
    assert clusterer.story_of(100) is None  # evicted long ago
    assert len(clusterer._dfs._df) <= sum(  # document frequencies shrink too
        len(clusterer._index_keys(f)) for f in clusterer._features.values()
    )


def test_features_stored_under_another_num_perm_do_not_crash_or_match():
    old_cfg = StoriesConfig(num_perm=64)
    old = compute_features(
        StoryCandidate(
            article_id=110,
            outlet="A",
            lang="ru",
            time=T0,
            title=D.WIRE_TITLE,
            text=D.WIRE,
        ),
        old_cfg,
    )
    clusterer = StoryClusterer(CFG, known=[(110, old)])
    copy = feat(111, "B", "ru", D.WIRE_B_TITLE, D.WIRE_B, 1)
    assignment = clusterer.assign(copy)
    assert assignment.relation != Relation.NEAR  # sketches are not comparable
    assert assignment.story_id == 110  # the text still matches as the same story
