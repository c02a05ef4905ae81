"""`monitor alerts` and `monitor watch test` (issue #16): thin wrappers.

Registered on the `monitor` group by monitor/cli.py.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from .cli import Options, _echo, _echo_json, _storage, cli, common_options, load
from .runtime import utc_now

DURATION_RE = re.compile(r"^(\d+)([hd])$")


class _SinceType(click.ParamType["datetime", Any]):
    """``24h``, ``7d``, ``YYYY-MM-DD`` or an ISO time (UTC unless it says)."""

    name = "SINCE"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        text = str(value).strip()
        m = DURATION_RE.match(text)
        if m:
            unit = "hours" if m.group(2) == "h" else "days"
            return utc_now() - timedelta(**{unit: int(m.group(1))})
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            self.fail(
                f"{value!r} is not 24h, 7d, YYYY-MM-DD or an ISO time", param, ctx
            )
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@cli.command("alerts")
@common_options
@click.option("--since", type=_SinceType(), help="Sent at or after: 24h, 7d, a date.")
@click.option("--watch", "watch_name", help="Only this watch.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def alerts_cmd(
    opts: Options, since: datetime | None, watch_name: str | None, as_json: bool
) -> None:
    """List the alerts that were sent, oldest first (one line per target).

    Example:

        monitor alerts --since 24h
    """
    from . import alerts

    cfg = load(opts)
    with _storage(cfg, must_exist=True) as storage:
        rows = alerts.records_json(storage.get_sent_alerts(since, watch=watch_name))
    if as_json:
        _echo_json(rows, indent=2)
        return
    if not rows:
        _echo("no alerts sent" + (" in that period" if since else ""))
    for r in rows:
        kind = " (follow-up)" if r["kind"] == "follow_up" else ""
        _echo(
            f"{r['sent_at']}  {r['watch']}  story {r['story_id']}"
            f" at {r['level']} outlets{kind} -> {r['target']}: {r['title']}"
        )


@cli.group("watch")
def watch_group() -> None:
    """Inspect the [[watch]] tables (docs/alerts.md)."""


@watch_group.command("test")
@common_options
@click.argument("name")
def watch_test(opts: Options, name: str) -> None:
    """Show what the watch NAME would send now, without sending anything.

    Example:

        monitor watch test protests
    """
    from . import alerts
    from .classify import compile_topics

    cfg = load(opts)
    known = {w.name: w for w in cfg.watches}
    if name not in known:
        names = ", ".join(sorted(known)) or "none configured"
        raise click.UsageError(f"unknown watch {name!r} (watches: {names})")
    watches, _ = alerts.compile_watches([known[name]], compile_topics(cfg.topics))
    with _storage(cfg, must_exist=True) as storage:
        planned = alerts.plan_alerts(storage, cfg, watches, now=utc_now())
    if not planned:
        _echo(f"watch {name}: nothing would be sent now")
    for p in planned:
        _echo(_planned_line(p))


def _planned_line(p: Any) -> str:
    from . import alerts

    d = p.decision
    what = {
        alerts.Verdict.FIRE: "would send",
        alerts.Verdict.FOLLOW_UP: "would send a follow-up",
        alerts.Verdict.BURST: "would send a burst alert",
        alerts.Verdict.DEFERRED: "deferred (quiet hours) until "
        + (d.until.isoformat(timespec="minutes") if d.until else "?"),
    }[d.verdict]
    terms = ", ".join(p.match.terms) or "-"
    targets = ", ".join(p.match.watch.cfg.notify)
    return (
        f"{what}: {alerts.story_line(p.match.story)}\n"
        f"  level {d.level} outlets; matched: {terms}; to: {targets}"
    )


@cli.command("bursts")
@common_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def bursts_cmd(opts: Options, as_json: bool) -> None:
    """Show what is bursting now: topics and countries far above their own
    hourly baseline, and stories gaining outlets fast (docs/alerts.md).

    Example:

        monitor bursts --json
    """
    from . import alerts

    cfg = load(opts)
    now = utc_now()
    th = alerts.thresholds_from(cfg.alerts)
    with _storage(cfg, must_exist=True) as storage:
        since = now - timedelta(days=th.baseline_days, hours=th.volume_hours)
        volume = alerts.volume_bursts(storage.get_filing_times(since), now=now, th=th)
        grown = storage.get_story_ids_grown_since(
            now - timedelta(hours=cfg.alerts.lookback_hours)
        )
        stories = storage.get_stories(grown)
    spreading = alerts.story_bursts(stories.values(), now=now, th=th)
    if as_json:
        _echo_json(
            {
                "volume": [dataclasses.asdict(b) for b in volume],
                "stories": [dataclasses.asdict(b) for b in spreading],
            },
            indent=2,
        )
        return
    if not (volume or spreading):
        _echo("no bursts now")
    for b in volume:
        _echo(
            f"{b.facet} {b.label}: {b.count} articles in {th.volume_hours} h"
            f" (usually {b.expected:g}; z {b.z:g})"
        )
    for sb in spreading:
        _echo(
            f"story: {alerts.story_line(stories[sb.story_id])}:"
            f" {sb.new_outlets} new outlets in {th.growth_hours:g} h"
        )
