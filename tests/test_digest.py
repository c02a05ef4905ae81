"""Digest model and builder: day rules, ranking, markers, health, determinism."""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from monitor.config import DigestConfig
from monitor.digest import (
    Digest,
    build_digest,
    day_bounds,
    effective_time,
    filter_digest,
    local_day,
    render_html,
    render_json,
    render_markdown,
    render_text,
    write_digest,
)
from monitor.digest._model import clean_text, make_lede, safe_url
from monitor.store import Storage, StorageType
from tests.test_digest_helpers import (
    GENERATED_AT,
    TOPICS,
    add_article,
    add_feed,
    add_filing,
    add_story,
    at,
    digest_config,
    sample_db,
)

DAY = date(2026, 3, 13)
CFG = DigestConfig(
    top_stories=0
)  # the structure tests below; top stories: test_digest_editor.py


# `storage` is the conftest fixture: every test here runs on SQLite and PostgreSQL.


@pytest.fixture
def sample(storage: StorageType) -> dict[str, int]:
    return sample_db(storage)


def build(
    storage: StorageType, day: date = DAY, cfg: DigestConfig = CFG, **kw
) -> Digest:
    return build_digest(
        storage,
        day=day,
        cfg=cfg,
        topic_order=kw.pop("topics", TOPICS),
        now=GENERATED_AT,
        **kw,
    )


def headlines(d: Digest) -> dict[str, list[str]]:
    return {s.label: [st.headline for st in s.stories] for s in d.all_sections}


# ---------------------------------------------------------------------- time rules


def test_day_bounds_almaty_is_utc_plus_5() -> None:
    start, end = day_bounds(DAY, "Asia/Almaty")
    assert start == datetime(2026, 3, 12, 19, 0, tzinfo=UTC)
    assert end == datetime(2026, 3, 13, 19, 0, tzinfo=UTC)


def test_day_bounds_follow_dst() -> None:
    start, end = day_bounds(date(2026, 3, 29), "Europe/Berlin")  # clocks go forward
    assert end - start == timedelta(hours=23)


def test_2330_utc_belongs_to_next_almaty_day() -> None:
    late = datetime(2026, 3, 12, 23, 30, tzinfo=UTC)
    assert local_day(late, "Asia/Almaty") == date(2026, 3, 13)
    assert local_day(late, "UTC") == date(2026, 3, 12)


@pytest.mark.parametrize(
    ("published", "in_day"),
    [
        (datetime(2026, 3, 12, 18, 59, 59, tzinfo=UTC), date(2026, 3, 12)),
        (datetime(2026, 3, 12, 19, 0, tzinfo=UTC), date(2026, 3, 13)),
        (datetime(2026, 3, 12, 23, 30, tzinfo=UTC), date(2026, 3, 13)),
        (datetime(2026, 3, 13, 18, 59, tzinfo=UTC), date(2026, 3, 13)),
        (datetime(2026, 3, 13, 19, 0, tzinfo=UTC), date(2026, 3, 14)),
    ],
)
def test_article_lands_in_the_right_local_day(
    storage: StorageType, published: datetime, in_day: date
) -> None:
    add_feed(storage, "f")
    add_article(
        storage,
        feed="f",
        url="https://x.kz/1",
        title="Boundary",
        lang="en",
        status="not_needed",
        published=published,
        first_seen=published + timedelta(minutes=1),
    )
    for day in (date(2026, 3, 12), date(2026, 3, 13), date(2026, 3, 14)):
        found = build(storage, day=day).stats.articles
        assert found == (1 if day == in_day else 0), day


def test_published_in_the_future_falls_back_to_first_seen(storage: StorageType) -> None:
    add_feed(storage, "f")
    add_article(
        storage,
        feed="f",
        url="https://x.kz/f",
        title="Future",
        lang="en",
        status="not_needed",
        published=datetime(2026, 3, 20, tzinfo=UTC),
        first_seen=at(10),
    )
    assert build(storage).stats.articles == 1
    assert build(storage, day=date(2026, 3, 20)).stats.articles == 0


def test_missing_published_uses_first_seen(storage: StorageType) -> None:
    add_feed(storage, "f")
    add_article(
        storage,
        feed="f",
        url="https://x.kz/n",
        title="No date",
        lang="en",
        status="not_needed",
        published=None,
        first_seen=at(23, 59),
    )
    d = build(storage)
    assert d.stats.articles == 1
    assert d.all_sections[0].stories[0].local_time == "23:59"


def test_effective_time_keeps_slightly_early_clock() -> None:
    seen = datetime(2026, 3, 13, 10, tzinfo=UTC)
    assert effective_time(seen + timedelta(minutes=30), seen) == seen + timedelta(
        minutes=30
    )
    assert effective_time(seen + timedelta(hours=2), seen) == seen
    assert effective_time(None, seen) == seen


# ---------------------------------------------------------------------- structure


def test_topics_in_configured_order_then_other(
    sample: dict[str, int], storage: StorageType
) -> None:
    d = build(storage)
    assert [s.label for s in d.all_sections] == [*TOPICS, "Other"]
    reordered = build(storage, topics=("Elections", "Energy and utilities"))
    # a label that is not configured still shows, after the configured ones
    assert [s.label for s in reordered.sections] == [
        "Elections",
        "Energy and utilities",
        "Unrest and protests",
    ]


def test_story_shows_translation_copies_terms(
    sample: dict[str, int], storage: StorageType
) -> None:
    story = build(storage).sections[0].stories[0]
    assert story.headline == "Electricity tariffs to rise in Almaty"
    assert story.original_headline == "В Алматы повысят тарифы на электроэнергию"
    assert (story.outlet, story.country, story.local_time) == (
        "Vlast.kz",
        "Kazakhstan",
        "09:40",
    )
    assert story.outlets == 3
    assert [(c.outlet, c.lang) for c in story.also] == [
        ("Eurasianet", "en"),
        ("Tengrinews", "ru"),
    ]
    assert story.also[0].url == "https://eurasianet.org/kazakhstan-tariffs"
    assert story.terms == ("tariff*", "тариф*", "электроэнерги*")
    assert story.rule == "tariffs"
    # 3 sentences of the English text, not the 4th
    assert story.lede.endswith("Residents criticised the move.")
    assert story.translation_marker is None


def test_ranking_by_outlets_then_recency(storage: StorageType) -> None:
    for name in ("a", "b", "c"):
        add_feed(storage, name, outlet=name.upper())
    early_big = add_article(
        storage,
        feed="a",
        url="https://a/1",
        title="Big early",
        lang="en",
        status="not_needed",
        published=at(1),
    )
    copy = add_article(
        storage,
        feed="b",
        url="https://b/1",
        title="Big copy",
        lang="en",
        status="not_needed",
        published=at(2),
    )
    add_story(storage, 7, [early_big, copy])
    late = add_article(
        storage,
        feed="c",
        url="https://c/1",
        title="Single late",
        lang="en",
        status="not_needed",
        published=at(20),
    )
    mid = add_article(
        storage,
        feed="c",
        url="https://c/2",
        title="Single mid",
        lang="en",
        status="not_needed",
        published=at(12),
    )
    for aid in (early_big, copy, late, mid):
        add_filing(storage, aid, "Elections", terms=("vote",))
    assert headlines(build(storage))["Elections"] == [
        "Big early",
        "Single late",
        "Single mid",
    ]


def test_untranslated_markers(storage: StorageType) -> None:
    add_feed(storage, "f", lang="ru")
    cases = {
        "no_model": ("untranslated (no kk→en model)", "kk"),
        "pending": ("untranslated (translation pending)", "ru"),
        "failed": ("untranslated (translation failed)", "ru"),
        "partial": ("partly translated", "ru"),
        "done": (None, "ru"),
        "not_needed": (None, "en"),
    }
    for i, (status, (_, lang)) in enumerate(cases.items()):
        add_article(
            storage,
            feed="f",
            url=f"https://f/{i}",
            title=f"T{status}",
            title_en=f"E{status}" if status in ("done", "partial") else None,
            lang=lang,
            status=status,
            published=at(8, i),
        )
    stories = {s.headline: s for s in build(storage).other.stories}  # type: ignore[union-attr]
    for status, (marker, _) in cases.items():
        head = f"E{status}" if status in ("done", "partial") else f"T{status}"
        assert stories[head].translation_marker == marker, status
    assert stories["Tno_model"].original_headline is None


def test_teaser_is_marked(sample: dict[str, int], storage: StorageType) -> None:
    other = build(storage).other
    assert other is not None
    assert other.stories[0].is_teaser
    assert "teaser only" in render_html(build(storage))


def test_empty_day_says_so_plainly(storage: StorageType) -> None:
    add_feed(storage, "quiet", outlet="Quiet")
    d = build(storage, day=date(2026, 1, 1))
    assert d.is_empty
    assert "No articles were published or first seen in this period" in render_html(d)
    assert "Nothing new" in render_text(d)
    assert "**Nothing new:**" in render_markdown(d)
    assert '"empty": true' in render_json(d)


def test_feed_health_lists_failing_and_silent(
    sample: dict[str, int], storage: StorageType
) -> None:
    problems = build(storage).feed_problems
    assert [(p.name, p.status) for p in problems] == [
        ("asiaplus", "failing"),
        ("gazeta-uz", "silent"),
    ]
    assert "FetchError: HTTP 503" in problems[0].detail
    assert problems[0].since == "2026-03-12 06:30"  # local time of last success


def test_per_topic_cap_reports_omitted(
    sample: dict[str, int], storage: StorageType
) -> None:
    d = build(storage, cfg=replace(CFG, max_stories_per_topic=1))
    unrest = d.sections[1]
    assert (len(unrest.stories), unrest.omitted) == (1, 1)
    assert "1 more story not shown" in render_html(d)


def test_filter_digest_for_subscription(
    sample: dict[str, int], storage: StorageType
) -> None:
    d = build(storage)
    mine = filter_digest(d, ["elections"])
    assert [s.label for s in mine.all_sections] == ["Elections"]
    assert mine.stats.stories == 2
    assert mine.feed_problems == d.feed_problems
    assert filter_digest(d, []) is d
    assert [s.label for s in filter_digest(d, ["Other"]).all_sections] == ["Other"]


def test_since_mode_uses_first_seen(storage: StorageType) -> None:
    add_feed(storage, "f")
    add_article(
        storage,
        feed="f",
        url="https://f/old",
        title="Old news, newly seen",
        lang="en",
        status="not_needed",
        published=at(-48),
        first_seen=at(10),
    )
    add_article(
        storage,
        feed="f",
        url="https://f/before",
        title="Seen before",
        lang="en",
        status="not_needed",
        published=at(1),
        first_seen=at(2),
    )
    d = build_digest(storage, since=at(5), cfg=CFG, topic_order=TOPICS, now=at(12))
    assert [st.headline for s in d.all_sections for st in s.stories] == [
        "Old news, newly seen"
    ]
    assert d.period.key.startswith("since:")
    assert d.period.day is None
    assert d.period.slug == "2026-03-13-since-1200"


def test_since_last_digest_default(storage: StorageType, tmp_path: Path) -> None:
    add_feed(storage, "f")
    add_article(
        storage,
        feed="f",
        url="https://f/1",
        title="First",
        lang="en",
        status="not_needed",
        published=at(1),
        first_seen=at(1),
    )
    first = build_digest(storage, cfg=CFG, topic_order=(), now=at(3))
    write_digest(first, digest_config(tmp_path), storage)
    add_article(
        storage,
        feed="f",
        url="https://f/2",
        title="Second",
        lang="en",
        status="not_needed",
        published=at(4),
        first_seen=at(4),
    )
    second = build_digest(storage, cfg=CFG, topic_order=(), now=at(6))
    assert [st.headline for s in second.all_sections for st in s.stories] == ["Second"]
    assert storage.get_last_digest() is not None


# ---------------------------------------------------------------------- determinism


def test_same_archive_gives_byte_identical_digest(tmp_path: Path) -> None:
    # SQLite only: a database file copied on disk gives the same digest
    db = tmp_path / "a.db"
    with Storage(db) as disk:
        sample_db(disk)
    copy = tmp_path / "b.db"
    shutil.copy(db, copy)
    outputs = []
    for path in (db, copy, db):
        with Storage(path) as s:
            d = build(s)
            outputs.append(
                (render_html(d), render_text(d), render_markdown(d), render_json(d))
            )
    assert outputs[0] == outputs[1] == outputs[2]
    # and only the generated-at line changes with the clock
    with Storage(db) as s:
        later = build_digest(
            s,
            day=DAY,
            cfg=CFG,
            topic_order=TOPICS,
            now=GENERATED_AT + timedelta(hours=5),
        )
    diff = [
        a
        for a, b in zip(
            render_text(later).splitlines(), outputs[0][1].splitlines(), strict=True
        )
        if a != b
    ]
    assert diff == ["Generated at 2026-03-14T06:30:00Z by monitor."]


# ---------------------------------------------------------------------- text rules


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://vlast.kz/a?b=1#c", True),
        ("http://x.kz", True),
        ("javascript:alert(1)", False),
        ("JAVASCRIPT:alert(1)", False),
        (" javascript:alert(1)", False),
        ("data:text/html,<script>", False),
        ("vbscript:x", False),
        ("//evil.example/x", False),
        ("https://", False),
        ("https://ex ample.com", False),
        ("https://x.kz/\x00", False),
        ("", False),
        (None, False),
    ],
)
def test_safe_url(url: str | None, ok: bool) -> None:
    assert (safe_url(url) is not None) == ok


def test_clean_text_drops_controls_and_bidi() -> None:
    assert clean_text("a\x1b[31mred\x1b[0m\u202eb\n\tc") == "a [31mred [0m b c"


def test_make_lede_sentences_and_cap() -> None:
    text = "Первое предложение. Второе — «важное». Третье! Четвёртое."
    assert make_lede(text, sentences=2, max_chars=400) == (
        "Первое предложение. Второе — «важное»."
    )
    capped = make_lede("word " * 200, sentences=3, max_chars=60)
    assert len(capped) <= 60
    assert capped.endswith("…")
    assert (
        make_lede(
            "Headline. Body one. Body two.", sentences=1, max_chars=99, skip="Headline"
        )
        == "Body one."
    )


def test_lede_cap_comes_from_config(
    sample: dict[str, int], storage: StorageType
) -> None:
    short = build(storage, cfg=replace(CFG, lede_max_chars=40, lede_sentences=1))
    lede = short.sections[0].stories[0].lede
    assert lede == "Electricity tariffs in Almaty will…"
    assert len(lede) <= 40


# ---------------------------------------------------------------------- storage


def test_digest_and_delivery_bookkeeping(storage: StorageType) -> None:
    assert storage.get_last_digest() is None
    assert storage.get_last_digest_day() is None
    storage.add_digest("2026-03-12", generated_at=at(1), content_hash="a", path="p1")
    storage.add_digest(
        "since:2026-03-13T00:00:00+00:00",
        generated_at=at(9),
        content_hash="b",
        path="p2",
    )
    storage.add_digest("2026-03-12", generated_at=at(2), content_hash="c", path="p3")
    assert [(r.day, r.content_hash) for r in storage.get_digests()] == [
        ("2026-03-12", "c"),
        ("since:2026-03-13T00:00:00+00:00", "b"),
    ]
    assert storage.get_last_digest_day() == "2026-03-12"
    last_any = storage.get_last_digest()
    last_daily = storage.get_last_digest(daily=True)
    last_since = storage.get_last_digest(daily=False)
    assert last_any is not None
    assert last_any.day.startswith("since:")
    assert last_daily is not None
    assert last_daily.generated_at == at(2)
    assert last_since == last_any
    assert not storage.has_delivery("2026-03-12", "A@Example.org")
    storage.add_delivery(
        "2026-03-12", "A@Example.org", sent_at=at(3), message_id="<m1>"
    )
    storage.add_delivery(
        "2026-03-12", "a@example.org", sent_at=at(4), message_id="<m2>"
    )
    assert storage.has_delivery("2026-03-12", "a@EXAMPLE.org")  # addresses ignore case
    assert storage.get_deliveries("2026-03-12") == [("a@example.org", at(4), "<m2>")]


def test_digest_does_not_depend_on_database_ids(storage: StorageType) -> None:
    """A resumed run may assign other ids than an uninterrupted one (issue #7).

    The same day on SQLite, and on each backend after older articles took the
    first ids (so every article and story id differs), renders the same.
    """
    outputs = []
    with Storage(":memory:") as plain:
        sample_db(plain)
        outputs.append(_rendered_without_ids(plain))
    ids = sample_db(storage, pad=40)
    assert min(ids.values()) > 40
    outputs.append(_rendered_without_ids(storage))
    # article ids are shown (issue #10: `monitor explain ID`); nothing else moves
    assert outputs[0] == outputs[1]


def _rendered_without_ids(storage: StorageType) -> tuple[str, ...]:
    d = build(storage)
    return tuple(
        _without_ids(r(d)) for r in (render_html, render_json, render_markdown)
    )


def _without_ids(text: str) -> str:
    assert re.search(r'"article_id": \d+|id="a\d+"|id \d+', text)
    text = re.sub(r'"article_ids": \[[^\]]*\]', "", text)
    return re.sub(
        r'(?<="article_id": )\d+|(?<=id="a)\d+|(?<=id )\d+|(?<=article )\d+', "", text
    )


def test_default_label_other_merges_with_unfiled(storage: StorageType) -> None:
    add_feed(storage, "f")
    a = add_article(
        storage,
        feed="f",
        url="https://f/a",
        title="Filed by default",
        lang="en",
        status="not_needed",
        published=at(9),
    )
    add_filing(storage, a, "Other", rule="default")
    add_article(
        storage,
        feed="f",
        url="https://f/b",
        title="Not classified",
        lang="en",
        status="not_needed",
        published=at(10),
    )
    b = add_article(
        storage,
        feed="f",
        url="https://f/c",
        title="Filed",
        lang="en",
        status="not_needed",
        published=at(11),
    )
    add_filing(storage, b, "Elections", terms=("vote",))
    d = build(storage, topics=("Other", *TOPICS))
    assert headlines(d) == {
        "Elections": ["Filed"],
        "Other": ["Not classified", "Filed by default"],
    }


def test_recency_counts_the_latest_copy(storage: StorageType) -> None:
    for name in ("a", "b"):
        add_feed(storage, name, outlet=name.upper())
    old = add_article(
        storage,
        feed="a",
        url="https://a/old",
        title="Early, updated late",
        lang="en",
        status="not_needed",
        published=at(1),
    )
    late_copy = add_article(
        storage,
        feed="b",
        url="https://b/old",
        title="Late copy",
        lang="en",
        status="not_needed",
        published=at(22),
    )
    add_story(storage, 1, [old, late_copy])
    mid = add_article(
        storage,
        feed="a",
        url="https://a/mid",
        title="Midday",
        lang="en",
        status="not_needed",
        published=at(12),
    )
    mid_copy = add_article(
        storage,
        feed="b",
        url="https://b/mid",
        title="Midday copy",
        lang="en",
        status="not_needed",
        published=at(12, 30),
    )
    add_story(storage, 2, [mid, mid_copy])
    for aid in (old, late_copy, mid, mid_copy):
        add_filing(storage, aid, "Elections", terms=("vote",))
    stories = build(storage).sections[0].stories
    assert [s.headline for s in stories] == ["Early, updated late", "Midday"]
    assert stories[0].local_time == "01:00"  # the shown article's own time
