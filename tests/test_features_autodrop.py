"""`monitor run` drops old story features by itself (issue #19).

Features whose story time is before ``now - window_hours - keep_features_days``
go after the stories stage, at most `FEATURE_DROP_PER_RUN` a run in
`FEATURE_DROP_BATCH` transactions; silent when there is nothing to drop.  The
archive is built through the write API (tests/prunedata.py: 40 articles over
100 days, one every 2.5 days, story time an hour before first seen), on SQLite
and PostgreSQL (conftest ``storage``); the end-to-end test runs
``python -m monitor`` on an SQLite file.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import subprocess
import sys
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from monitor import pipeline as pipeline_module
from monitor.config import Config, StoriesConfig, TranslateConfig, load_config
from monitor.exceptions import ConfigError
from monitor.pipeline import Pipeline
from monitor.retention import features_keep_cutoff
from monitor.runtime import ProgressBar, utc_now
from monitor.store import Storage
from monitor.stories import stories_for_day
from tests import prunedata
from tests.configfiles import write_config as write_config_files
from tests.prunedata import NOW, build, seen_at
from tests.searchdata import TOPICS, write_config

REPO = Path(__file__).resolve().parents[1]
N, DAYS = 40, 100


def story_time(i: int, now: datetime = NOW, n: int = N) -> datetime:
    """The story time prunedata gives article number ``i``."""
    return seen_at(i, n, now, DAYS) - timedelta(hours=1)


def config(*, window_hours: float = 72.0, keep_features_days: int = 30) -> Config:
    stories = StoriesConfig(
        window_hours=window_hours, keep_features_days=keep_features_days
    )
    return Config(
        stories=stories, translate=TranslateConfig(backend="none"), topics=TOPICS
    )


def stored(storage) -> set[int]:
    return {r[0] for r in storage.get_story_features(NOW - timedelta(days=9999))}


@pytest.fixture
def archive(storage):
    return storage, build(storage, N, days=DAYS)


class Bars:
    """A `Progress` that remembers which bars were opened."""

    def __init__(self) -> None:
        self.opened: list[str] = []

    @contextmanager
    def __call__(self, stage: str, total: int):
        self.opened.append(stage)
        yield ProgressBar()


def run(storage, cfg: Config, bars: Bars | None = None, now: datetime = NOW):
    with Pipeline(
        cfg=cfg,
        storage=storage,
        client=httpx.Client(),
        now=lambda: now,
        progress=bars or Bars(),
    ) as p:
        return p.run(digest=False)


def test_cutoff_is_window_plus_kept_days():
    got = features_keep_cutoff(NOW, window_hours=72, keep_features_days=30)
    assert got == NOW - timedelta(days=33)
    assert features_keep_cutoff(NOW, window_hours=24, keep_features_days=0) == (
        NOW - timedelta(hours=24)
    )


def test_a_huge_margin_drops_nothing(archive):
    storage, ids = archive
    assert features_keep_cutoff(
        NOW, window_hours=72, keep_features_days=10**9
    ) == datetime.min.replace(tzinfo=NOW.tzinfo)
    summary = run(storage, config(keep_features_days=10**9))
    assert stored(storage) == set(ids)
    assert "stage_errors" not in summary.counts


def test_a_run_drops_exactly_the_features_before_window_plus_margin(archive):
    storage, ids = archive
    cutoff = NOW - timedelta(hours=72, days=30)
    old = {ids[i] for i in range(N) if story_time(i) < cutoff}
    assert 0 < len(old) < N  # both sides are present
    summary = run(storage, config())
    assert "stage_errors" not in summary.counts  # a clean run
    assert stored(storage) == set(ids) - old
    assert summary.counts["features_dropped"] == len(old)
    assert summary.line().endswith(f"; features dropped {len(old)}")
    article = storage.get_article(ids[0])
    assert article.text  # the body stays
    assert article.pruned_at is None
    assert storage.get_story(article.story_id).members  # and the story


def test_a_wider_margin_keeps_more(archive):
    storage, ids = archive
    run(storage, config(keep_features_days=60))
    cutoff = NOW - timedelta(hours=72, days=60)
    assert stored(storage) == {ids[i] for i in range(N) if story_time(i) >= cutoff}


def test_the_next_run_drops_nothing_and_says_nothing(archive, caplog):
    storage, _ids = archive
    assert run(storage, config()).counts["features_dropped"] > 0
    kept = stored(storage)
    bars = Bars()
    with caplog.at_level(logging.DEBUG, logger="monitor"):
        summary = run(storage, config(), bars)
    assert stored(storage) == kept
    assert "features_dropped" not in summary.counts
    assert "features dropped" not in summary.line()
    assert "features" not in bars.opened  # no progress bar
    assert not [r for r in caplog.records if "feature" in r.getMessage()]


def test_each_run_is_bounded_and_later_runs_catch_up(archive, monkeypatch):
    storage, ids = archive
    monkeypatch.setattr(pipeline_module, "FEATURE_DROP_PER_RUN", 7)
    monkeypatch.setattr(pipeline_module, "FEATURE_DROP_BATCH", 3)
    limits: list[int] = []
    drop = storage.drop_story_features

    def spy(before, *, limit):
        limits.append(limit)
        return drop(before, limit=limit)

    monkeypatch.setattr(storage, "drop_story_features", spy)
    cutoff = NOW - timedelta(hours=72, days=30)
    old = [ids[i] for i in range(N) if story_time(i) < cutoff]  # oldest first
    assert len(old) > 14
    first = run(storage, config())
    assert first.counts["features_dropped"] == 7
    assert limits == [3, 3, 1]  # one transaction each
    assert stored(storage) == set(ids) - set(old[:7])  # the oldest went first
    second = run(storage, config())
    assert second.counts["features_dropped"] == 7
    while run(storage, config()).counts.get("features_dropped"):
        pass
    assert stored(storage) == set(ids) - set(old)


def test_with_zero_days_only_the_window_is_kept(archive):
    storage, ids = archive
    run(storage, config(keep_features_days=0))
    assert stored(storage) == {
        ids[i] for i in range(N) if story_time(i) >= NOW - timedelta(hours=72)
    }


def test_a_days_stories_are_listed_as_before_the_drop(archive):
    """`monitor stories --date` of an old day: the same stories, members, times
    and order as while the features were stored (both backends)."""
    storage, _ids = archive
    days = [
        (start, start + timedelta(days=1))
        for start in {story_time(i).replace(hour=0, minute=0) for i in range(N)}
    ]
    before = [stories_for_day(storage, *day) for day in days]
    assert before == [storage.get_stories_for_day(*day) for day in days]
    assert sum(len(b) for b in before) >= N // 2
    assert run(storage, config()).counts["features_dropped"] > 0
    assert [storage.get_stories_for_day(*day) for day in days] != before  # storage
    assert [stories_for_day(storage, *day) for day in days] == before


# ------------------------------------------------------------------ config


def test_default_is_30_days(tmp_path):
    assert load_config(write_config_files(tmp_path), env={}).stories == StoriesConfig()
    assert StoriesConfig().keep_features_days == 30


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", "stories.keep_features_days: must be >= 0"),
        ("true", "stories.keep_features_days: expected int, got bool True"),
        ('"30"', "stories.keep_features_days: expected int, got str '30'"),
        ("2.5", "stories.keep_features_days: expected int, got float 2.5"),
    ],
)
def test_a_bad_value_is_an_error_naming_the_key(tmp_path, value, message):
    monitor = f'[stories]\nkeep_features_days = {value}\n[digest]\ntimezone = "X/Y"\n'
    with pytest.raises(ConfigError) as info:
        load_config(write_config_files(tmp_path, monitor), env={})
    text = "\n".join(info.value.errors)
    assert message in text
    assert "digest.timezone" in text  # reported together


def test_the_environment_sets_it(tmp_path):
    env = {"MONITOR_STORIES_KEEP_FEATURES_DAYS": "7"}
    cfg = load_config(write_config_files(tmp_path), env=env)
    assert cfg.stories == dataclasses.replace(StoriesConfig(), keep_features_days=7)


# ------------------------------------------------------------------ end to end


def monitor(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m monitor`` from this worktree, as tests/test_hardening_site.py."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args, "--config", str(folder)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
        check=False,
    )


def test_monitor_run_drops_old_features_and_reports_them(tmp_path):
    db = tmp_path / "monitor.db"
    now = utc_now()  # the run reads the real clock
    with Storage(db) as storage:
        ids = build(storage, 20, now=now, days=DAYS)
    folder = write_config(tmp_path / "config", db)
    feeds = "".join(
        f'[[feed]]\nname = "{f.name}"\nurl = "{f.url}"\noutlet = "{f.outlet}"\n'
        f'lang = "ru"\ncountry = "KZ"\nenabled = false\n\n'
        for f in prunedata.FEEDS
    )  # no network: nothing is polled
    (folder / "feeds.toml").write_text(feeds, encoding="utf-8")
    cutoff = now - timedelta(hours=72, days=30)
    old = {ids[i] for i in range(20) if story_time(i, now, 20) < cutoff}
    assert 0 < len(old) < 20

    done = monitor(folder, "run", "--no-digest")
    assert done.returncode == 0, done.stderr
    assert done.stderr.rstrip().endswith(f"; features dropped {len(old)}")
    status = monitor(folder, "status", "--json")
    assert status.returncode == 0, status.stderr
    summary = json.loads(status.stdout)["last_run"]["summary"]
    assert summary["features_dropped"] == len(old)
    with Storage(db) as storage:
        left = {r[0] for r in storage.get_story_features(now - timedelta(days=999))}
    assert left == set(ids) - old

    oldest = story_time(0, now, 20).astimezone(ZoneInfo("Asia/Almaty")).date()
    listed = monitor(folder, "stories", "--date", oldest.isoformat())
    assert listed.returncode == 0, listed.stderr
    assert f"article {ids[0]}  https://f0.example/a/0" in listed.stdout

    again = monitor(folder, "run", "--no-digest")
    assert again.returncode == 0, again.stderr
    assert "features dropped" not in again.stderr
    assert again.stderr.count("\n") == 1  # the summary line alone
    quiet = monitor(folder, "run", "--no-digest", "-q")
    assert (quiet.returncode, quiet.stderr, quiet.stdout) == (0, "", "")
