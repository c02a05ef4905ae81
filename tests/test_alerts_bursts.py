"""Bursts (issue #16): pure functions, replayed days, the clock passed in."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

from monitor.alerts._burst import (
    BurstThresholds,
    hourly_counts,
    story_burst,
    story_bursts,
    volume_bursts,
    volume_z,
)
from monitor.models import Relation, Story, StoryMember

DAY = datetime(2026, 3, 14, tzinfo=UTC)
TH = BurstThresholds()


def story(story_id: int, outlet_times: list[tuple[str, datetime]]) -> Story:
    members = tuple(
        StoryMember(
            article_id=story_id * 100 + i,
            outlet=o,
            lang="ru",
            url=f"https://{o}.example/{story_id}",
            title="t",
            title_en=None,
            published=t,
            relation=Relation.SEED if i == 0 else Relation.STORY,
            score=1.0,
        )
        for i, (o, t) in enumerate(outlet_times)
    )
    return Story(
        id=story_id,
        created_at=outlet_times[0][1],
        representative_id=members[0].article_id,
        first_published=outlet_times[0][1],
        last_published=outlet_times[-1][1],
        members=members,
    )


def every_quarter_hour(day: datetime):
    return [day + timedelta(minutes=15 * i) for i in range(96)]


def ordinary_day(rng: random.Random, day: datetime) -> list[Story]:
    """40 stories: most one or two outlets, a few reaching 6 over half a day."""
    out = []
    for sid in range(1, 41):
        start = day + timedelta(minutes=rng.randrange(0, 20 * 60))
        n = rng.choice([1, 1, 1, 2, 2, 3]) if sid > 3 else 6
        gap = timedelta(hours=rng.uniform(1.5, 3.0))
        out.append(story(sid, [(f"o{k}", start + k * gap) for k in range(n)]))
    return out


def test_a_story_growing_from_1_to_8_outlets_in_two_hours_bursts():
    t0 = DAY + timedelta(hours=10)
    fast = story(99, [(f"o{k}", t0 + timedelta(minutes=17 * k)) for k in range(8)])
    # 8 outlets by 11:59; evaluated every 15 minutes over the day
    hits = [
        now for now in every_quarter_hour(DAY) if story_burst(99, _first(fast), now=now)
    ]
    assert hits, "no burst raised"
    first = hits[0]
    assert t0 + timedelta(hours=1) <= first <= t0 + timedelta(hours=2)
    b = story_burst(99, _first(fast), now=t0 + timedelta(hours=2))
    assert b is not None
    assert (b.outlets, b.new_outlets) == (8, 8)
    assert math.isclose(b.rate, 4.0)


def test_no_story_burst_on_ordinary_days():
    rng = random.Random(16)
    for d in range(7):
        day = DAY + timedelta(days=d)
        stories = ordinary_day(rng, day)
        for now in every_quarter_hour(day):
            assert story_bursts(stories, now=now) == [], now


def test_the_burst_day_among_ordinary_stories_raises_only_that_story():
    rng = random.Random(3)
    t0 = DAY + timedelta(hours=10)
    stories = [
        *ordinary_day(rng, DAY),
        story(99, [(f"o{k}", t0 + timedelta(minutes=17 * k)) for k in range(8)]),
    ]
    raised = {
        b.story_id
        for now in every_quarter_hour(DAY)
        for b in story_bursts(stories, now=now)
    }
    assert raised == {99}


def _first(s: Story) -> dict[str, datetime]:
    from monitor.alerts._burst import outlet_first_times

    return outlet_first_times(s)


def test_hourly_counts_and_z():
    end = DAY + timedelta(hours=5)
    times = [DAY + timedelta(hours=h, minutes=5) for h in (0, 3, 4, 4)]
    assert hourly_counts(times, end=end, hours=5) == [1, 0, 0, 1, 2]
    # two days of baseline: the same two hours of the day held 2 and 4 articles
    counts = [0] * 22 + [1, 1] + [0] * 22 + [2, 2] + [0] * 22 + [6, 6]
    count, expected, z = volume_z(counts, 2)
    assert (count, expected) == (12, 3.0)
    assert math.isclose(z, 9 / math.sqrt(3.0))  # var 1 < mean 3: Poisson floor
    # the other hours of the day do not count: a quiet night is no baseline
    night = [0] * 24 + [0] * 22 + [6, 6]
    assert volume_z(night, 2)[1] == 0.0


def poisson(rng: random.Random, lam: float) -> int:
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def archive(rng: random.Random, start: datetime, hours: int, rate: float):
    """(facet, label, time) of a label filed ``rate`` articles an hour on average."""
    out = []
    for h in range(hours):
        for _ in range(poisson(rng, rate)):
            t = start + timedelta(hours=h, minutes=rng.randrange(60))
            out.append(("topic", "unrest", t))
    return out


def test_a_topic_spike_bursts_against_its_own_baseline():
    rng = random.Random(7)
    start = DAY - timedelta(days=28)
    filings = archive(rng, start, 28 * 24 + 14, 0.5)
    spike = DAY + timedelta(hours=12)
    filings += [
        ("topic", "unrest", spike + timedelta(minutes=10 * i)) for i in range(12)
    ]
    found = volume_bursts(filings, now=DAY + timedelta(hours=14))
    assert [(b.label, b.count >= 12) for b in found] == [("unrest", True)]
    assert found[0].z >= TH.min_z


def test_no_volume_burst_over_ordinary_days():
    rng = random.Random(11)
    start = DAY - timedelta(days=28)
    filings = archive(rng, start, 35 * 24, 0.5)
    raised = [
        now
        for h in range(7 * 24)
        if volume_bursts(filings, now=(now := DAY + timedelta(hours=h)))
    ]
    assert len(raised) <= 2  # at most a stray window in a week (bench: per day)


def test_a_usually_silent_label_does_not_burst_on_two_articles():
    filings = [
        ("country", "tajikistan", DAY + timedelta(hours=1, minutes=m)) for m in (1, 2)
    ]
    assert volume_bursts(filings, now=DAY + timedelta(hours=2)) == []
