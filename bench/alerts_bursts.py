"""How many alerts a typical config raises per day (issue #16), on a replayed archive.

Usage:
    .venv/bin/python bench/alerts_bursts.py [--days 30] [--seed 16]

The corpus has no timed archive (no real article stream with publication
times), so this replays a synthetic one, seeded, built to look like the
monitor's regional feeds: 12 labels (8 topics, 4 countries) with hourly rates
of 0.1 to 3 articles, a day/night cycle (x1.6 by day, x0.4 at night) and
Poisson noise; about 150 stories a day whose outlet counts are heavy-tailed
(most one outlet, a few 10+), their outlets joining 20 minutes to 6 hours
apart.  On every fifth day one event happens: a story that grows from 1 to 8
outlets in two hours and a spike of 15 extra articles in one topic over three
hours.  The story check runs every 15 minutes (a cron run), the volume check
hourly, with the thresholds documented in docs/alerts.md; each burst counts
once (per label and window, per story).  Outlet alerts: a watch matching 10 % of the stories, with
min_outlets = 3, follow_up = [10].

It takes about 1.5 minutes for 30 days on one core.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from bisect import bisect_left
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.alerts._burst import (  # noqa: E402
    BurstThresholds,
    outlet_first_times,
    story_burst,
    volume_bursts,
)
from monitor.models import Relation, Story, StoryMember  # noqa: E402

START = datetime(2026, 1, 1, tzinfo=UTC)
STEP = timedelta(minutes=15)


def poisson(rng: random.Random, lam: float) -> int:
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def filings(rng: random.Random, hours: int, events: list[datetime]):
    rates = [0.1, 0.2, 0.3, 0.5, 0.8, 1.0, 1.5, 3.0, 0.2, 0.4, 1.0, 2.0]
    out = []
    for h in range(hours):
        t0 = START + timedelta(hours=h)
        cycle = 1.6 if 6 <= (t0.hour + 5) % 24 < 22 else 0.4  # Almaty day/night
        for i, rate in enumerate(rates):
            facet = "topic" if i < 8 else "country"
            for _ in range(poisson(rng, rate * cycle)):
                out.append((facet, f"l{i}", t0 + timedelta(minutes=rng.randrange(60))))
    for e in events:  # 15 extra articles in topic l4 over 3 hours
        out += [("topic", "l4", e + timedelta(minutes=12 * k)) for k in range(15)]
    return out


def story(sid: int, times: list[datetime]) -> Story:
    members = tuple(
        StoryMember(
            article_id=sid * 100 + k,
            outlet=f"o{k}",
            lang="ru",
            url="",
            title="",
            title_en=None,
            published=t,
            relation=Relation.STORY,
            score=1.0,
        )
        for k, t in enumerate(times)
    )
    return Story(
        id=sid,
        created_at=times[0],
        representative_id=None,
        first_published=times[0],
        last_published=times[-1],
        members=members,
    )


def stories(rng: random.Random, days: int, events: list[datetime]) -> list[Story]:
    out, sid = [], 0
    for d in range(days):
        for _ in range(150):
            sid += 1
            n = min(1 + int(rng.paretovariate(1.6)) - 1, 25)
            t = START + timedelta(days=d, minutes=rng.randrange(24 * 60))
            times = [t]
            for _ in range(n - 1):
                times.append(times[-1] + timedelta(minutes=rng.uniform(20, 360)))
            out.append(story(sid, times))
    for e in events:
        sid += 1
        out.append(story(sid, [e + timedelta(minutes=17 * k) for k in range(8)]))
    return out


def replay(days: int, seed: int, th: BurstThresholds) -> dict[str, float]:
    rng = random.Random(seed)
    base = th.baseline_days
    events = [
        START + timedelta(days=base + d, hours=rng.randrange(8, 16))
        for d in range(0, days, 5)
    ]
    fil = filings(rng, (base + days) * 24, events)
    sts = stories(rng, base + days, events)
    injected_ids = [s.id for s in sts[-len(events) :]]
    first = {s.id: outlet_first_times(s) for s in sts}
    volume, spread, outlet_alerts = set(), set(), 0
    spikes: set[datetime] = set()
    watched = {s.id for s in sts if rng.random() < 0.1}
    for s in sts:
        if s.id in watched and s.first_published >= START + timedelta(days=base):
            outlet_alerts += (len(s.outlets) >= 3) + (len(s.outlets) >= 10)
    now = START + timedelta(days=base)
    end = now + timedelta(days=days)
    fil.sort(key=lambda f: f[2])
    times = [f[2] for f in fil]
    sts.sort(key=lambda s: s.created_at)
    starts = [s.created_at for s in sts]
    while now < end:
        lo = bisect_left(times, now - timedelta(days=base, hours=th.volume_hours))
        window = fil[lo : bisect_left(times, now)]
        if now.minute == 0:  # the volume check hourly (its windows are hours)
            for b in volume_bursts(window, now=now, th=th):
                volume.add((b.label, int(now.timestamp()) // (th.volume_hours * 3600)))
                if b.label == "l4":
                    spikes |= {e for e in events if e <= now <= e + timedelta(hours=4)}
        first_i = bisect_left(starts, now - timedelta(hours=30))
        for s in sts[first_i : bisect_left(starts, now + STEP)]:
            if s.id not in spread and story_burst(s.id, first[s.id], now=now, th=th):
                spread.add(s.id)
        now += STEP
    injected = set(injected_ids)
    return {
        "volume/day": len(volume) / days,
        "story/day": len(spread) / days,
        "injected caught": len(spread & injected) / len(injected),
        "spikes caught": len(spikes) / len(events),
        "outlet alerts/day": outlet_alerts / days,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args()
    default = BurstThresholds()
    variants = [
        ("defaults", default),
        ("min_z 3", replace(default, min_z=3.0)),
        ("min_z 5", replace(default, min_z=5.0)),
        ("min_growth 2", replace(default, min_growth=2.0)),
        ("min_growth 3", replace(default, min_growth=3.0)),
    ]
    print(
        f"{args.days} replayed days, seed {args.seed}; stories checked every 15 min, volume hourly"
    )
    print(
        f"{'thresholds':<14} {'volume/day':>10} {'spikes':>7}"
        f" {'story/day':>10} {'injected':>9}"
    )
    for name, th in variants:
        r = replay(args.days, args.seed, th)
        print(
            f"{name:<14} {r['volume/day']:>10.2f} {r['spikes caught']:>7.0%}"
            f" {r['story/day']:>10.2f}"
            f" {r['injected caught']:>9.0%}"
        )
    print(
        f"outlet alerts/day (watch on 10% of stories, 3 and 10): {r['outlet alerts/day']:.1f}"
    )


if __name__ == "__main__":
    main()
