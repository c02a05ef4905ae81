"""Only the stories a digest shows are built in full (the day page's first view).

The rest of a busy day is only ranked (`_ranked`): the digest must be exactly the
one built by giving every story in full to `arrange` with the same caps.
"""

from __future__ import annotations

from datetime import date

import pytest

from monitor.config import DigestConfig
from monitor.digest import Digest, build_digest
from monitor.digest._build import arrange
from monitor.store.contract import StorageType
from tests.test_digest_helpers import GENERATED_AT, TOPICS, sample_db

DAY = date(2026, 3, 13)


@pytest.fixture
def day(storage: StorageType) -> StorageType:
    """The sample day on each backend (tests/conftest.py ``storage``)."""
    sample_db(storage)
    return storage


def build(storage: StorageType, cfg: DigestConfig) -> Digest:
    return build_digest(storage, day=DAY, cfg=cfg, topic_order=TOPICS, now=GENERATED_AT)


def every_story(d: Digest) -> list:
    parts = [d.top] if d.top else []
    return [st for part in (*parts, *d.all_sections) for st in part.stories]


@pytest.mark.parametrize(("top", "cap"), [(0, 1), (1, 1), (2, 1), (5, 1)])
def test_capped_digest_is_the_full_one_arranged_with_the_same_caps(
    day: StorageType, top: int, cap: int
) -> None:
    whole = build(day, DigestConfig(top_stories=0, max_stories_per_topic=1000))
    stories = every_story(whole)
    assert len(stories) >= 5  # the control: a day with enough stories to cut
    capped = build(day, DigestConfig(top_stories=top, max_stories_per_topic=cap))
    want_top, want_sections, want_other = arrange(
        stories, whole.topic_order, top_n=top, cap=cap
    )
    assert capped.top == want_top
    assert capped.sections == want_sections
    assert capped.other == want_other
    assert sum(s.omitted for s in capped.all_sections) > 0  # the cap did cut
