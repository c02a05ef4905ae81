"""Bursts: a topic or country suddenly louder than usual, a story spreading fast.

Pure functions; times and thresholds are passed in (STYLE.md 8).  The defaults
are documented in docs/alerts.md "Bursts" and measured by bench/alerts_bursts.py.

Volume burst: the articles filed under one label in the last ``volume_hours``
against that label's own baseline: the same hours of the day on each of the
``baseline_days`` before (hourly counts; news has a day/night rhythm).  With
mean m and variance v of those window counts, z = (count - m) / sd where
sd = sqrt(max(v, m, N/4)) for a window of N hours (Poisson at least, and never
less than a quarter article per hour, so a label that is usually silent does
not burst on two articles).  It bursts when z >= ``min_z`` and the window
holds at least ``min_count`` articles.

Story burst: the outlets that first carried a story within the last
``growth_hours``, per hour.  It bursts when that rate is at least
``min_growth`` and the story has at least ``min_outlets`` outlets now.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..config import AlertsConfig
from ..models import Story


@dataclass(frozen=True, slots=True, kw_only=True)
class BurstThresholds:
    """The documented defaults (docs/alerts.md "Bursts")."""

    volume_hours: int = 3  # the recent window of a volume burst
    baseline_days: int = 28  # the hourly baseline before it
    min_z: float = 4.0
    min_count: int = 5  # articles in the window, at least
    growth_hours: float = 2.0  # the window of a story burst
    min_growth: float = 2.5  # new outlets per hour in it (5 in two hours)
    min_outlets: int = 5  # outlets the story has now, at least


def thresholds_from(cfg: AlertsConfig) -> BurstThresholds:
    """The thresholds as configured in ``[alerts]``."""
    return BurstThresholds(
        volume_hours=cfg.volume_hours,
        baseline_days=cfg.volume_baseline_days,
        min_z=cfg.volume_min_z,
        min_count=cfg.volume_min_count,
        growth_hours=cfg.burst_hours,
        min_growth=cfg.burst_outlets_per_hour,
        min_outlets=cfg.burst_min_outlets,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class VolumeBurst:
    """A label whose recent volume is far above its own baseline."""

    facet: str  # topic | country
    label: str
    count: int  # articles in the window
    expected: float
    z: float


@dataclass(frozen=True, slots=True, kw_only=True)
class StoryBurst:
    """A story that gained outlets fast."""

    story_id: int
    outlets: int  # now
    new_outlets: int  # first seen within the window
    rate: float  # new outlets per hour


def hourly_counts(times: Iterable[datetime], *, end: datetime, hours: int) -> list[int]:
    """Counts per hour for the ``hours`` hours before ``end``, oldest first."""
    counts = [0] * hours
    start = end - timedelta(hours=hours)
    for t in times:
        if start <= t < end:
            counts[int((t - start).total_seconds() // 3600)] += 1
    return counts


def volume_z(counts: Sequence[int], recent: int) -> tuple[int, float, float]:
    """(count in the last ``recent`` hours, expected count, z) for hourly counts.

    The baseline is the same hours of the day on each earlier day the counts
    cover (news has a day/night rhythm: 03:00 is not compared with noon).
    """
    observed = sum(counts[-recent:])
    days = (len(counts) - recent) // 24
    if days < 1:
        return observed, 0.0, 0.0
    n = len(counts)
    samples = [
        sum(counts[n - recent - 24 * d : n - 24 * d]) for d in range(1, days + 1)
    ]
    mean = sum(samples) / days
    var = sum((x - mean) ** 2 for x in samples) / days
    sd = math.sqrt(max(var, mean, 0.25 * recent))
    return observed, mean, (observed - mean) / sd


def volume_bursts(
    filings: Iterable[tuple[str, str, datetime]],
    *,
    now: datetime,
    th: BurstThresholds = BurstThresholds(),
) -> list[VolumeBurst]:
    """Every (facet, label) bursting now, highest z first.

    Args:
        filings: (facet, label, article time) for the baseline and the window.
        now: aware UTC time, the end of the window.
        th: thresholds.
    """
    hours = th.baseline_days * 24 + th.volume_hours
    by_label: dict[tuple[str, str], list[datetime]] = {}
    for facet, label, t in filings:
        by_label.setdefault((facet, label), []).append(t)
    out = []
    for (facet, label), times in by_label.items():
        counts = hourly_counts(times, end=now, hours=hours)
        count, expected, z = volume_z(counts, th.volume_hours)
        if z >= th.min_z and count >= th.min_count:
            out.append(
                VolumeBurst(
                    facet=facet,
                    label=label,
                    count=count,
                    expected=round(expected, 2),
                    z=round(z, 2),
                )
            )
    return sorted(out, key=lambda b: (-b.z, b.facet, b.label))


def outlet_first_times(story: Story) -> dict[str, datetime]:
    """Each outlet's first article time in a story (members without a time skipped)."""
    first: dict[str, datetime] = {}
    for m in story.members:
        if m.published is not None and (
            m.outlet not in first or m.published < first[m.outlet]
        ):
            first[m.outlet] = m.published
    return first


def story_burst(
    story_id: int,
    first_times: Mapping[str, datetime],
    *,
    now: datetime,
    th: BurstThresholds = BurstThresholds(),
) -> StoryBurst | None:
    """The story's burst now, if it gained outlets faster than ``min_growth``."""
    start = now - timedelta(hours=th.growth_hours)
    new = sum(1 for t in first_times.values() if start <= t <= now)
    seen = sum(1 for t in first_times.values() if t <= now)
    rate = new / th.growth_hours
    if rate < th.min_growth or seen < th.min_outlets:
        return None
    return StoryBurst(story_id=story_id, outlets=seen, new_outlets=new, rate=rate)


def story_bursts(
    stories: Iterable[Story],
    *,
    now: datetime,
    th: BurstThresholds = BurstThresholds(),
) -> list[StoryBurst]:
    """Every story bursting now, fastest first."""
    found = [
        b
        for s in stories
        if (b := story_burst(s.id, outlet_first_times(s), now=now, th=th)) is not None
    ]
    return sorted(found, key=lambda b: (-b.rate, b.story_id))
