"""Retention decisions (issue #19): pure, time passed in."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import pytest

from monitor import translate
from monitor.models import PruneCandidate
from monitor.retention import PruneReport, is_prunable, prune_cutoff, report_of

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def cutoff(**kwargs):
    args = {"keep_days": 0, "older_than": None, "timezone": "UTC", "window_hours": 72}
    return prune_cutoff(NOW, **{**args, **kwargs})


def test_nothing_to_prune_without_keep_days_or_older_than():
    assert cutoff() is None


def test_keep_days_and_older_than_in_days():
    assert cutoff(keep_days=30) == NOW - timedelta(days=30)
    assert cutoff(keep_days=30, older_than=10) == NOW - timedelta(days=10)


def test_older_than_a_date_is_the_start_of_that_local_day():
    got = cutoff(older_than=date(2026, 1, 1), timezone="Asia/Almaty")
    assert got == datetime(2025, 12, 31, 19, 0, tzinfo=UTC)  # UTC+5


def test_cutoff_never_enters_the_story_window():
    assert cutoff(older_than=0) == NOW - timedelta(hours=72)
    assert cutoff(older_than=date(2026, 6, 1)) == NOW - timedelta(hours=72)
    assert cutoff(keep_days=1, window_hours=24) == NOW - timedelta(days=1)


def candidate(**kwargs) -> PruneCandidate:
    base = PruneCandidate(
        article_id=1,
        first_seen=NOW - timedelta(days=40),
        published=NOW - timedelta(days=41),
        extract_status="done",
        translation_status="done",
        classify_status="done",
        story_status="done",
        title="t",
        text="x",
        translation_engine=None,
        body_bytes=10,
        feature_bytes=5,
    )
    return dataclasses.replace(base, **kwargs)


BEFORE = NOW - timedelta(days=30)


def test_an_old_finished_article_is_pruned():
    assert is_prunable(candidate(), BEFORE)
    assert is_prunable(candidate(published=None), BEFORE)
    assert is_prunable(candidate(translation_status="no_model"), BEFORE)


@pytest.mark.parametrize(
    "change",
    [
        {"first_seen": BEFORE},
        {"published": NOW - timedelta(days=2)},  # its digest day is recent
        {"extract_status": "pending"},
        {"translation_status": "pending"},
        {"classify_status": "pending"},
        {"story_status": "pending"},
    ],
)
def test_a_recent_or_unfinished_article_waits(change):
    assert not is_prunable(candidate(**change), BEFORE)


def test_untranslated_article_is_pruned_when_translation_is_off():
    c = candidate(translation_status="pending")
    assert is_prunable(c, BEFORE, wait_for_translation=False)
    assert not is_prunable(c, BEFORE)


def test_report_sums_batches_and_says_what_it_did():
    a = report_of([candidate(), candidate(article_id=2)], skipped=1, cache_rows=7)
    total = a + PruneReport(articles=1, body_bytes=2_000_000)
    assert (total.articles, total.skipped, total.cache_rows) == (3, 1, 7)
    assert total.line() == (
        "pruned 3 articles: bodies 2.0 MB, story features 10 B, 7 cached sentences;"
        " 1 old articles still in the pipeline skipped"
    )
    assert a.line(dry_run=True).startswith("would prune 2 articles: bodies 20 B")


def test_article_cache_keys_are_the_translators_keys():
    """The keys prune drops are the ones the translator stored (same split)."""
    title, text = "Заголовок статьи.", "Первое предложение. Второе.\n\n12:00"
    cache = translate.MemoryCache()

    class Engine:
        name = "m1,m2"
        can_retry = False

        def pairs(self):
            return frozenset({("ru", "en")})

        def model_id(self, src, dst):
            return "m1"

        def translate(self, src, dst, sentences, *, retry, stats=None):
            return [f"EN {s}" for s in sentences]

    translator = translate.ArticleTranslator(Engine(), cache=cache, target="en")
    translator.translate_articles(
        [translate.ArticleText(title=title, text=text, src="ru")]
    )
    stored = {key for _, key in cache.entries}
    keys = set(translate.article_cache_keys("m1,m2", title, text))
    assert len(stored) == 3  # the title and two sentences; "12:00" needs no model
    assert stored <= keys
    assert translate.article_cache_keys(None, title, text) == ()
