"""`monitor status`: what happened, from storage, as data and as text."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .config import Config, resolve_path
from .models import PAGE_HEALTH_WINDOW, FeedState, PageHealth

if TYPE_CHECKING:
    from .store import StorageType


def build_status(storage: StorageType, cfg: Config, now: datetime) -> dict[str, Any]:
    """Collect feed health, stage counts, the last run and recent failures.

    Returns:
        A JSON-ready dict (the `--json` form); `format_status` renders it.
    """
    states = storage.get_feed_states()
    pages = storage.get_page_health(now - PAGE_HEALTH_WINDOW, now)
    kinds = cfg.source_kinds()
    feeds = [
        {
            **_feed_entry(
                name,
                states.get(name),
                now,
                cfg.digest.silent_feed_hours,
                pages.get(name),
            ),
            "kind": kinds.get(name, "feed"),
        }
        for name in sorted(kinds)
    ]
    last = storage.get_last_run()
    return {
        "feeds": feeds,
        "disabled": sorted(f.name for f in cfg.feeds if not f.enabled),
        "removed": sorted(set(states) - {f.name for f in cfg.feeds}),
        "feed_totals": _totals(feeds, "health"),
        "last_poll_totals": _totals(feeds, "last_status"),
        "stages": storage.get_stage_counts(),
        "stories": storage.get_story_counts(),
        "translation": _translation(cfg),
        "last_run": None
        if last is None
        else {
            "started_at": last.started_at.isoformat(),
            "finished_at": last.finished_at.isoformat() if last.finished_at else None,
            "summary": last.summary,
        },
        "alerts": _alerts(storage, cfg, now),
        "recent_failures": [
            {
                "at": f.at.isoformat(),
                "stage": f.stage,
                "resource": f.resource,
                "error": _without_resource(f.resource, f.error),
                "count": f.count,
            }
            for f in storage.get_recent_failures(20)
        ],
    }


def _alerts(storage: StorageType, cfg: Config, now: datetime) -> dict[str, Any]:
    """Watches, alerts sent in 24 h, deliveries waiting for a retry or given up.

    The alerts package (its matchers and senders) loads only when a delivery is
    unsent: the usual status reads none."""
    waiting, gave_up = 0, []
    unsent = storage.get_unsent_alerts()
    if unsent:
        from .alerts import SendAction, decide_delivery
    for r in unsent:
        action = decide_delivery(r, now=now, max_failures=cfg.alerts.max_failures)
        if action == SendAction.GAVE_UP:
            gave_up.append(
                f"{r.key.watch} -> {r.key.target} (story {r.key.story_id}):"
                f" {r.last_error or 'interrupted twice while sending'}"
            )
        else:
            waiting += 1
    return {
        "watches": len([w for w in cfg.watches if w.enabled]),
        "sent_24h": len(storage.get_sent_alerts(now - timedelta(hours=24))),
        "waiting": waiting,
        "given_up": gave_up,
    }


def _translation(cfg: Config) -> dict[str, Any]:
    """Which backend translates, and (for Argos) which pairs are installed."""
    out: dict[str, Any] = {
        "backend": cfg.translate.backend,
        "target": cfg.translate.target,
    }
    if cfg.translate.backend == "argos":
        from .translate import list_installed  # httpx and CTranslate2 helpers

        pkgs = list_installed(resolve_path(cfg, cfg.translate.models_dir))
        out["pairs"] = sorted(f"{p.from_code}-{p.to_code}" for p in pkgs)
        out["ru_model"] = f"ru-{cfg.translate.target}" in out["pairs"]
    elif cfg.translate.backend == "libretranslate":
        out["url"] = cfg.translate.libretranslate_url
    return out


def _feed_entry(
    name: str,
    state: FeedState | None,
    now: datetime,
    silent_hours: float,
    pages: PageHealth | None = None,
) -> dict[str, Any]:
    if state is None:
        return {"name": name, "health": "never polled"}
    health = state.health(now, silent_hours, pages)
    pages = pages or PageHealth()
    return {
        "name": name,
        "url": state.url,
        "health": health,
        "last_status": state.last_status,
        "last_polled_at": _iso(state.last_polled_at),
        "last_ok_at": _iso(state.last_ok_at),
        "last_new_item_at": _iso(state.last_new_item_at),
        "failure_count": state.failure_count,
        "last_error": state.last_error,
        "next_poll_at": _iso(state.next_poll_at),
        "pages_24h": {"attempted": pages.attempted, "failed": pages.failed},
        # the last good poll's URL and route (issue #20; no credentials in either)
        "served_url": state.served_url,
        "served_via": state.served_via,
        "on_mirror": state.served_url not in (None, state.url),
    }


def _without_resource(resource: str, error: str) -> str:
    """The error without a leading copy of its resource (rows recorded before
    0.2.0 repeated the URL: "URL: URL: message")."""
    return error.removeprefix(f"{resource}: ")


def _totals(feeds: list[dict[str, Any]], key: str) -> dict[str, int]:
    """How many feeds have each value of `key` (health, or the last poll's outcome)."""
    out: dict[str, int] = {}
    for f in feeds:
        value = f.get(key) or "never polled"
        out[value] = out.get(value, 0) + 1
    return out


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def format_status(report: dict[str, Any]) -> str:
    """Render the status report for a terminal."""
    lines = [
        "Feeds: "
        + ", ".join(f"{n} {k}" for k, n in sorted(report["feed_totals"].items()))
    ]
    polls = report["last_poll_totals"]
    lines.append(
        "Last poll: "
        + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(polls.items()))
    )
    for f in report["feeds"]:
        pages = f.get("pages_24h") or {}
        page_text = PageHealth(**pages).text + " in 24 h" if pages.get("failed") else ""
        if f["health"] == "ok" and not page_text:
            continue
        detail = (
            f.get("last_error")
            or page_text
            or f"last new item {f.get('last_new_item_at') or 'never'}"
        )
        if page_text and page_text != detail:
            detail += f"; {page_text}"
        fails = f" ×{f['failure_count']}" if f.get("failure_count") else ""
        kind = f" [{f['kind']}]" if f.get("kind", "feed") != "feed" else ""
        lines.append(f"  {f['health']:<13} {f['name']}{kind}{fails}: {detail}")
    lines += _served_lines(report["feeds"])
    for key, what in (("disabled", "Disabled"), ("removed", "No longer configured")):
        if report.get(key):
            names = ", ".join(report[key][:10])
            more = f" and {len(report[key]) - 10} more" if len(report[key]) > 10 else ""
            lines.append(f"{what} (articles kept): {names}{more}")
    lines.append(
        "Articles: " + str(report["stages"].get("articles", {}).get("total", 0))
    )
    for stage in ("extract", "translate", "classify", "stories"):
        counts = report["stages"].get(stage, {})
        shown = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "none"
        lines.append(f"  {stage:<10} {shown}")
    if "queue" in report:  # [queue] enabled (monitor/queue.py)
        lines.append(f"Queue: {report['queue']['live_workers']} live workers")
        for name, counts in sorted(report["queue"]["jobs"].items()):
            shown = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
            lines.append(f"  {name:<10} {shown}")
    if report.get("stories"):
        lines.append(
            "Stories: "
            + ", ".join(f"{n} {k}" for k, n in sorted(report["stories"].items()))
        )
    tr = report.get("translation", {})
    if tr.get("backend") == "argos":
        pairs = ", ".join(tr["pairs"]) or "none"
        warn = (
            ""
            if tr["ru_model"]
            else "  (no ru→en model: `monitor models install ru en`)"
        )
        lines.append(f"Translation: argos, models installed: {pairs}{warn}")
    elif tr:
        lines.append(f"Translation: {tr['backend']} {tr.get('url', '')}".rstrip())
    al = report.get("alerts") or {}
    if (
        al.get("watches")
        or al.get("sent_24h")
        or al.get("waiting")
        or al.get("given_up")
    ):
        lines.append(
            f"Alerts: {al.get('watches', 0)} watches, {al.get('sent_24h', 0)} sent"
            f" in 24 h, {al.get('waiting', 0)} waiting to be retried,"
            f" {len(al.get('given_up', []))} given up"
        )
        lines += [f"  given up: {g}" for g in al.get("given_up", [])[:10]]
    last = report["last_run"]
    lines.append(
        "Last run: never"
        if last is None
        else f"Last run: {last['started_at']} → {last['finished_at'] or 'did not finish'}"
    )
    if report["recent_failures"]:
        lines.append("Recent failures:")
        lines += [
            f"  {f['at']} {f['stage']:<9} {f['resource']}: {f['error']}"
            + (f" (×{f['count']})" if f.get("count", 1) > 1 else "")
            for f in report["recent_failures"][:10]
        ]
    return "\n".join(lines)


def _served_lines(feeds: list[dict[str, Any]]) -> list[str]:
    """Feeds whose last good poll came from a mirror or through a proxy (#20)."""
    out = []
    for f in feeds:
        via = f.get("served_via")
        if not f.get("on_mirror") and via in (None, "direct"):
            continue
        where = f"served by mirror {f['served_url']}" if f.get("on_mirror") else ""
        how = f"via {via}" if via not in (None, "direct") else "direct"
        out.append(f"  {f['name']}: {where}{' ' if where else ''}{how}")
    return ["Served via mirror or proxy (last good poll):", *out] if out else []


def feed_rows(storage: StorageType, cfg: Config, now: datetime) -> list[dict[str, Any]]:
    """Configured feeds with their health, for `monitor feeds list`."""
    states = storage.get_feed_states()
    pages = storage.get_page_health(now - PAGE_HEALTH_WINDOW, now)
    return [
        {
            **_feed_entry(
                f.name,
                states.get(f.name),
                now,
                cfg.digest.silent_feed_hours,
                pages.get(f.name),
            ),
            "url": f.url,
            "outlet": f.outlet,
            "lang": f.lang,
            "country": f.country,
            "enabled": f.enabled,
            "kind": f.kind,
        }
        for f in cfg.feeds
    ]
