"""Pure scheduling decisions, with time passed in."""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import closing
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitor import fetch
from monitor.config import DigestConfig, PollConfig, load_config
from monitor.models import FeedState
from monitor.pipeline import Pipeline, open_storage
from monitor.schedule import (
    digest_days_due,
    feed_is_due,
    next_poll_after_failure,
    next_poll_after_success,
)
from tests.sitegen import NOW as SITE_NOW
from tests.sitegen import build_site, write_config

REPO = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
CFG = PollConfig(min_interval=900, max_backoff=3600 * 24)


def state(**kw) -> FeedState:
    return FeedState(name="a", url="https://a.example/rss", **kw)


def test_never_polled_is_due():
    assert feed_is_due(None, NOW, CFG)
    assert feed_is_due(state(), NOW, CFG)


def test_interval():
    assert not feed_is_due(state(last_polled_at=NOW - timedelta(minutes=5)), NOW, CFG)
    assert feed_is_due(state(last_polled_at=NOW - timedelta(minutes=15)), NOW, CFG)


def test_retry_after_and_backoff_hold_a_feed_back():
    held = state(
        last_polled_at=NOW - timedelta(hours=2), next_poll_at=NOW + timedelta(hours=1)
    )
    assert not feed_is_due(held, NOW, CFG)
    assert feed_is_due(held, NOW + timedelta(hours=1), CFG)


def test_backoff_doubles_and_is_capped():
    delays = [next_poll_after_failure(n, NOW, None, CFG) - NOW for n in (1, 2, 3, 20)]
    assert delays[:3] == [
        timedelta(seconds=900),
        timedelta(seconds=1800),
        timedelta(seconds=3600),
    ]
    assert delays[3] == timedelta(days=1)


def test_retry_after_wins_when_later_but_is_capped():
    later = NOW + timedelta(hours=5)
    assert next_poll_after_failure(1, NOW, later, CFG) == later
    assert next_poll_after_failure(
        1, NOW, NOW + timedelta(days=30), CFG
    ) == NOW + timedelta(days=1)
    assert next_poll_after_success(NOW, later, CFG) == later
    assert next_poll_after_success(NOW, None, CFG) is None


# ---------------------------------------------------------------------- digest days
# Asia/Almaty is UTC+5 (the default digest time zone); due_hour 6 is 01:00 UTC.

DIGEST = DigestConfig()  # Asia/Almaty, due_hour 6, catch_up_days 3
ALMATY = ZoneInfo("Asia/Almaty")


def local(y: int, m: int, d: int, h: int = 0, minute: int = 0) -> datetime:
    return datetime(y, m, d, h, minute, tzinfo=ALMATY)


def done(*days: date) -> dict[date, datetime]:
    """Digests written by the scheduler: at the due hour of the next morning."""
    return {d: local(d.year, d.month, d.day, 6) + timedelta(days=1) for d in days}


def days(first: int, last: int) -> list[date]:
    return [date(2026, 3, n) for n in range(first, last + 1)]


def test_digest_due_once_local_due_hour_passes():
    assert (
        digest_days_due(local(2026, 3, 14, 5, 59), done(date(2026, 3, 12)), DIGEST)
        == []
    )
    assert digest_days_due(local(2026, 3, 14, 6), done(date(2026, 3, 12)), DIGEST) == [
        date(2026, 3, 13)
    ]
    assert digest_days_due(local(2026, 3, 14, 6), done(date(2026, 3, 13)), DIGEST) == []


def test_utc_evening_is_already_the_next_almaty_morning():
    # 23:30 UTC on the 13th is 04:30 on the 14th in Almaty: the 13th is not due yet
    now = datetime(2026, 3, 13, 23, 30, tzinfo=UTC)
    assert digest_days_due(now, done(date(2026, 3, 12)), DIGEST) == []
    # 01:00 UTC on the 14th is 06:00 in Almaty: due
    now = datetime(2026, 3, 14, 1, 0, tzinfo=UTC)
    assert digest_days_due(now, done(date(2026, 3, 12)), DIGEST) == [date(2026, 3, 13)]
    # in UTC the same moment is 01:00, before the due hour: only the 12th was due
    utc = replace(DIGEST, timezone="UTC")
    assert digest_days_due(now, done(date(2026, 3, 12)), utc) == []


def test_fresh_database_writes_only_the_latest_due_day():
    assert digest_days_due(local(2026, 3, 14, 7), {}, DIGEST) == [date(2026, 3, 13)]
    assert digest_days_due(local(2026, 3, 14, 5), {}, DIGEST) == [date(2026, 3, 12)]


def test_manual_digest_of_a_future_day_does_not_suppress_the_due_one():
    # fresh database, `monitor digest --date <next week>` at 10:00 on the 13th
    written = {date(2026, 3, 20): local(2026, 3, 13, 10)}
    assert digest_days_due(local(2026, 3, 14, 6), written, DIGEST) == [
        date(2026, 3, 13)
    ]


def test_manual_digest_of_today_does_not_suppress_todays_due_digest():
    written = done(date(2026, 3, 13)) | {date(2026, 3, 14): local(2026, 3, 14, 15)}
    assert digest_days_due(local(2026, 3, 14, 20), written, DIGEST) == []
    assert digest_days_due(local(2026, 3, 15, 6), written, DIGEST) == [
        date(2026, 3, 14)
    ]


def test_a_digest_written_after_the_day_ended_counts_whoever_wrote_it():
    # `digest --date <yesterday>` at 00:00 Almaty: the day is over, it covers all of it
    written = done(date(2026, 3, 12)) | {date(2026, 3, 13): local(2026, 3, 14, 0)}
    assert digest_days_due(local(2026, 3, 14, 6), written, DIGEST) == []
    # one minute before local midnight (18:59 UTC) the day had not ended yet
    written[date(2026, 3, 13)] = datetime(2026, 3, 13, 18, 59, tzinfo=UTC)
    assert digest_days_due(local(2026, 3, 14, 6), written, DIGEST) == [
        date(2026, 3, 13)
    ]


def test_downtime_catches_up_missed_days_up_to_the_cap():
    written = done(*days(1, 8))  # then five days down: the 9th..13th were missed
    now = local(2026, 3, 14, 7)
    assert digest_days_due(now, written, DIGEST) == days(10, 13)  # 3 + the latest
    assert digest_days_due(now, written, replace(DIGEST, catch_up_days=0)) == days(
        13, 13
    )
    assert digest_days_due(now, written, replace(DIGEST, catch_up_days=10)) == days(
        9, 13
    )


def test_catch_up_fills_gaps_between_done_days_but_not_before_the_first():
    written = done(date(2026, 3, 10), date(2026, 3, 12))
    now = local(2026, 3, 14, 7)
    assert digest_days_due(now, written, DIGEST) == [
        date(2026, 3, 11),
        date(2026, 3, 13),
    ]
    # after a run wrote them, nothing is left
    written |= done(date(2026, 3, 11), date(2026, 3, 13))
    assert digest_days_due(now, written, DIGEST) == []


def test_daylight_saving_day_ends_at_local_midnight():
    berlin = replace(DIGEST, timezone="Europe/Berlin")
    # 2026-03-29 (clocks go forward) ends at 22:00 UTC
    day = date(2026, 3, 29)
    before = {day: datetime(2026, 3, 29, 21, 59, tzinfo=UTC)}
    after = {day: datetime(2026, 3, 29, 22, 0, tzinfo=UTC)}
    now = datetime(2026, 3, 30, 6, tzinfo=UTC)  # 08:00 in Berlin
    assert digest_days_due(now, before, berlin) == [day]
    assert digest_days_due(now, after, berlin) == []


# ---------------------------------------------------------------------- the run's digest step


@pytest.fixture
def digest_run(http_server, tmp_path):
    """A pipeline factory over one database; each call gets its own clock."""
    site = build_site(http_server, ["protest", "energy"], SITE_NOW)
    write_config(tmp_path, [("kz-news", site.feed_url, "ru")])
    cfg = load_config(tmp_path, env={})
    with closing(open_storage(cfg)) as storage:

        def at(moment: datetime) -> Pipeline:
            return Pipeline(
                cfg=cfg,
                storage=storage,
                client=fetch.make_client(cfg.fetch),
                now=lambda: moment,
            )

        yield at, storage


def written_days(storage) -> dict[date, datetime]:
    return storage.get_daily_digest_times()


def test_run_after_a_future_manual_digest_still_writes_the_due_day(
    digest_run, tmp_path
):
    at, storage = digest_run
    with at(local(2026, 3, 13, 10)) as p:  # fresh database: a digest of next week
        p.write_digest(day=date(2026, 3, 20), send=False)
    with at(local(2026, 3, 14, 7)) as p:
        p.write_digest_if_due()
        assert p.summary.counts["digests_written"] == 1
    assert set(written_days(storage)) == {date(2026, 3, 13), date(2026, 3, 20)}
    assert list((tmp_path / "digests").rglob("2026-03-13.html"))


def test_run_after_a_manual_digest_of_today_rewrites_it_once_the_day_is_over(
    digest_run,
):
    at, storage = digest_run
    with at(local(2026, 3, 14, 15)) as p:
        p.write_digest(day=date(2026, 3, 14), send=False)
    with at(local(2026, 3, 14, 23)) as p:  # the 13th is due, the 14th not yet
        p.write_digest_if_due()
    assert set(written_days(storage)) == {date(2026, 3, 13), date(2026, 3, 14)}
    assert written_days(storage)[date(2026, 3, 14)] == local(2026, 3, 14, 15)
    with at(local(2026, 3, 15, 6, 30)) as p:
        p.write_digest_if_due()
        assert p.summary.counts["digests_written"] == 1
    assert written_days(storage)[date(2026, 3, 14)] == local(2026, 3, 15, 6, 30)


def test_downtime_run_writes_each_missed_day_up_to_the_cap(digest_run):
    at, storage = digest_run
    for day in range(2, 10):  # one run every morning: digests of the 1st..8th
        with at(local(2026, 3, day, 6, 5)) as p:
            p.write_digest_if_due()
    assert sorted(written_days(storage)) == days(1, 8)
    with at(local(2026, 3, 14, 6, 5)) as p:  # five days down: 9th..13th missed
        p.write_digest_if_due()
        assert p.summary.counts["digests_written"] == 4
    assert sorted(written_days(storage)) == days(1, 8) + days(10, 13)
    with at(local(2026, 3, 14, 9)) as p:  # the next run has nothing to do
        p.write_digest_if_due()
        assert "digests_written" not in p.summary.counts


def test_cli_future_manual_digest_leaves_the_due_digest_written(http_server, tmp_path):
    """End to end: the installed `monitor`, a local site, the real clock."""
    site = build_site(http_server, ["protest", "energy"], SITE_NOW)
    write_config(tmp_path, [("kz-news", site.feed_url, "ru")], extra="due_hour = 0\n")
    zone = ZoneInfo("Asia/Almaty")
    today = datetime.now(UTC).astimezone(zone).date()
    next_week = today + timedelta(days=7)
    assert monitor_cli(tmp_path, "init-db", "-q").returncode == 0  # a fresh database
    manual = monitor_cli(tmp_path, "digest", "--date", next_week.isoformat())
    assert manual.returncode == 0, manual.stderr
    assert manual.stdout.split()[0].endswith(f"{next_week}.html")
    manual = monitor_cli(tmp_path, "digest", "--date", today.isoformat())
    assert manual.returncode == 0, manual.stderr
    run = monitor_cli(tmp_path, "run", "-q")
    assert run.returncode == 0, run.stderr
    yesterday = {
        d - timedelta(days=1)
        for d in (today, datetime.now(UTC).astimezone(zone).date())
    }
    written = {p.stem for p in (tmp_path / "digests").rglob("*.html")} - {"index"}
    assert written & {d.isoformat() for d in yesterday}, written
    assert {next_week.isoformat(), today.isoformat()} <= written


def monitor_cli(folder, *args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("monitor")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "monitor"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [*cmd, *args, "--config", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
