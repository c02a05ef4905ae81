"""Records of the stories domain (kept free of heavy imports: storage uses them)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class Relation(enum.StrEnum):
    """How an article joined its story (``story_members.relation``)."""

    SEED = "seed"  # first article: the story's id is this article's id
    EXACT = "exact"  # same outlet, same normalised title, within the window
    NEAR = "near"  # MinHash Jaccard of word shingles >= near_duplicate_threshold
    STORY = "story"  # same event: TF-IDF cosine + shared entities >= story_threshold


@dataclass(frozen=True, slots=True, kw_only=True)
class Assignment:
    """The clusterer's decision for one article.

    ``story_id`` is the id of the story's seed article, so ids are stable and
    known before anything is written; ``matched_id`` is the member that
    decided it (``None`` for a seed).
    """

    article_id: int
    story_id: int
    relation: Relation
    score: float
    time: datetime
    matched_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StoryMember:
    """One article of a story, with what the digest shows about it."""

    article_id: int
    outlet: str
    lang: str | None
    url: str
    title: str
    title_en: str | None
    published: datetime | None
    relation: Relation
    score: float
    is_teaser: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Story:
    """A group of articles reporting the same event (issue #5)."""

    id: int
    created_at: datetime
    representative_id: int | None
    first_published: datetime | None
    last_published: datetime | None
    members: tuple[StoryMember, ...]

    @property
    def representative(self) -> StoryMember | None:
        """The member chosen to stand for the story in the digest."""
        return next(
            (m for m in self.members if m.article_id == self.representative_id), None
        )

    @property
    def outlets(self) -> tuple[str, ...]:
        """Distinct outlets, in member order."""
        return tuple(dict.fromkeys(m.outlet for m in self.members))
