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

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from ..config import StoriesConfig
from ..dates import clamp_stored, shift
from ._cluster import StoryClusterer
from ._features import (
    StoryCandidate,
    StoryFeatures,
    candidate_from_article,
    compute_features,
    features_from_bytes,
    features_to_bytes,
)
from ._format import format_stories, summarise_languages
from ._similarity import DocumentFrequencies, story_similarity, vectors_of
from ._types import Assignment, Relation, Story, StoryMember

__all__ = [
    "Assignment",
    "DocumentFrequencies",
    "Relation",
    "Story",
    "StoryCandidate",
    "StoryClusterer",
    "StoryFeatures",
    "StoryMember",
    "candidate_from_article",
    "compute_features",
    "features_from_bytes",
    "features_to_bytes",
    "format_stories",
    "load_known",
    "story_similarity",
    "summarise_languages",
    "vectors_of",
    "window_start",
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
