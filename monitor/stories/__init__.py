"""Duplicate detection and story clustering (issue #5).

Copies are grouped, never deleted.  Pipeline use::

    known = load_known(storage.get_story_features(since=window_start(batch, cfg)))
    clusterer = StoryClusterer(cfg, known)
    for features in sorted_batch:
        assignment = clusterer.assign(features)
        storage.add_story_member(assignment, features_to_bytes(features), now=now)

See docs/stories.md for the rules, thresholds and measured quality.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from ..config import StoriesConfig
from ..dates import clamp_stored, shift
from ..models import Article
from ._cluster import StoryClusterer, paused_gc
from ._features import (
    StoryCandidate,
    StoryFeatures,
    candidate_from_article,
    compute_features,
    features_from_bytes,
    features_to_bytes,
)
from ._format import format_pair_evidence, format_stories, summarise_languages
from ._similarity import (
    DocumentFrequencies,
    PairEvidence,
    explain_pair,
    story_similarity,
    vectors_of,
    weigh,
)
from ._types import Assignment, Relation, Story, StoryMember

__all__ = [
    "Assignment",
    "DocumentFrequencies",
    "PairEvidence",
    "Relation",
    "Story",
    "StoryCandidate",
    "StoryClusterer",
    "StoryFeatures",
    "StoryMember",
    "candidate_from_article",
    "compute_features",
    "explain_articles",
    "explain_pair",
    "features_from_bytes",
    "features_to_bytes",
    "format_pair_evidence",
    "format_stories",
    "load_known",
    "stories_for_day",
    "story_similarity",
    "summarise_languages",
    "vectors_of",
    "weigh",
    "window_start",
    "with_article_times",
]

logger = logging.getLogger(__name__)


def load_known(
    rows: Iterable[tuple[int, int, bytes]],
) -> list[tuple[int, StoryFeatures]]:
    """Parse stored ``(article_id, story_id, features)`` rows; skip unreadable ones.

    A row that cannot be read is logged and left out (its article keeps its
    story; it just cannot attract new members).

    Args:
        rows: from `Storage.get_story_features`.

    Returns:
        ``(story_id, features)`` pairs for `StoryClusterer`.
    """
    known: list[tuple[int, StoryFeatures]] = []
    with paused_gc():  # a whole window of small objects (issue #19)
        for article_id, story_id, blob in rows:
            try:
                known.append((story_id, features_from_bytes(blob)))
            except (ValueError, KeyError, TypeError) as e:
                logger.warning(
                    "story features unreadable article=%d error=%s", article_id, e
                )
    return known


def window_start(
    batch: Sequence[StoryCandidate | StoryFeatures],
    config: StoriesConfig,
    now: datetime,
) -> datetime:
    """The earliest article time a batch can match: load stored features from here.

    Args:
        batch: the new articles.
        config: the ``[stories]`` section.
        now: the run's clock (used when the batch is empty).

    Returns:
        ``min(article times, now) - window_hours``; a stored year-1 date (a
        database written before issue #11) is clamped first, never overflows.
    """
    earliest = min((clamp_stored(c.time) for c in batch), default=now)
    return shift(min(earliest, now), -timedelta(hours=config.window_hours))


def with_article_times(story: Story, articles: Mapping[int, Article]) -> Story:
    """The story with each member's time and order from its article's own time
    (`candidate_from_article`), as they were while its features were stored.

    A member whose stored features were dropped (``[stories]
    keep_features_days``, ``prune --features-only``; issue #19) would
    otherwise show its raw published date and sort by first seen.

    Args:
        story: as storage returns it.
        articles: its member articles by id (a missing one keeps its member).
    """
    members = [
        m
        if (a := articles.get(m.article_id)) is None
        else dataclasses.replace(m, published=candidate_from_article(a).time)
        for m in story.members
    ]
    members.sort(key=lambda m: (m.published is None, m.published, m.article_id))
    return dataclasses.replace(story, members=tuple(members))


class DayStories(Protocol):
    """The storage reads `stories_for_day` makes (the contract's `StoryStore`)."""

    def get_stories_for_day(self, start: datetime, end: datetime) -> list[Story]: ...

    def get_articles_for_digest(
        self, start: datetime, end: datetime, *, by: str = "time", bodies: bool = True
    ) -> list[Article]: ...

    def get_stories(self, story_ids: Iterable[int]) -> dict[int, Story]: ...

    def get_story_articles(self, story_ids: Iterable[int]) -> list[Article]: ...


def stories_for_day(storage: DayStories, start: datetime, end: datetime) -> list[Story]:
    """Stories with a member whose story time is in ``[start, end)`` (`monitor
    stories --date`), members timed and ordered by it, also when their stored
    features were dropped (`monitor run` past ``[stories] keep_features_days``;
    issue #19): storage finds members by their stored features, the rest are
    found by their article's time.

    Returns:
        Largest first, then by id.
    """
    found = {s.id: s for s in storage.get_stories_for_day(start, end)}
    more = {
        a.story_id
        for a in storage.get_articles_for_digest(start, end, bodies=False)
        if a.story_id is not None
        and a.story_id not in found
        and start <= candidate_from_article(a).time < end
    }
    found.update(storage.get_stories(more))
    articles = {a.id: a for a in storage.get_story_articles(found)}
    return sorted(
        (with_article_times(s, articles) for s in found.values()),
        key=lambda s: (-len(s.members), s.id),
    )


def explain_articles(
    a: StoryFeatures,
    b: StoryFeatures,
    window: Iterable[StoryFeatures] = (),
) -> PairEvidence:
    """The evidence for one pair, with document frequencies of ``window`` (the
    articles around them; the pair itself is always counted).

    The clusterer fixed each article's weights when it entered its window, so
    the score here can differ a little from the one stored with the member.
    """
    dfs = DocumentFrequencies()
    ids = {a.article_id, b.article_id}
    for f in window:
        if f.article_id not in ids:
            dfs.add(vectors_of(f))
    va, vb = vectors_of(a), vectors_of(b)
    dfs.add(va)
    dfs.add(vb)
    return explain_pair(weigh(a, va, dfs), weigh(b, vb, dfs))
