"""`monitor run` on both backends (issue #13): the same work, the same results.

In process through `Pipeline` on SQLite and on the real PostgreSQL cluster, then
the installed ``monitor`` executable against PostgreSQL as cron runs it
(``-q``, captured output) with a 127.0.0.1 feed server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest

from monitor import fetch
from monitor.config import load_config
from monitor.models import TextSource
from monitor.pipeline import Pipeline, open_storage
from monitor.store import Storage
from monitor.store.pg import PgStorage
from tests.sitegen import NOW, PARAGRAPHS, TITLES, build_site, write_config

REPO = Path(__file__).resolve().parents[1]
MONITOR = str(Path(sys.executable).parent / "monitor")  # the installed executable


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_env(request) -> dict[str, str]:
    """The environment that selects each backend (MONITOR_STORE_URL for PostgreSQL)."""
    if request.param == "sqlite":
        return {}
    return {"MONITOR_STORE_URL": request.getfixturevalue("pg_url")}


@pytest.fixture
def site(http_server, tmp_path):
    site = build_site(http_server, ["protest", "energy", "court"], NOW)
    write_config(
        tmp_path,
        [("kz-news", site.feed_url, "ru"), ("dead", "http://127.0.0.1:9/rss", "ru")],
    )
    return site


def _run(cfg, storage, now):
    with Pipeline(
        cfg=cfg, storage=storage, client=fetch.make_client(cfg.fetch), now=lambda: now
    ) as pipeline:
        return pipeline.run()


def test_run_and_rerun_give_the_same_results_on_each_backend(
    site, http_server, tmp_path, backend_env
):
    cfg = load_config(tmp_path, env=backend_env)
    with closing(open_storage(cfg)) as storage:
        assert isinstance(storage, PgStorage if backend_env else Storage)
        summary = _run(cfg, storage, NOW)
        assert summary.counts["feeds_ok"] == 1
        assert summary.counts["feeds_error"] == 1
        assert summary.counts["articles_new"] == 3
        articles = storage.get_articles(range(1, 10))
        by_title = {a.title: a for a in articles}
        assert set(by_title) == set(TITLES.values())
        protest = by_title[TITLES["protest"]]
        assert protest.source == TextSource.PAGE
        assert PARAGRAPHS["protest"][1] in protest.text
        assert protest.lang == "ru"
        assert "utm_" not in protest.canonical_url
        stages = storage.get_stage_counts()
        assert stages["extract"] == {"done": 3}
        assert stages["classify"] == {"done": 3}
        assert stages["stories"] == {"done": 3}
        assert storage.get_story_counts()["assigned_articles"] == 3
        assert storage.get_feed_states()["dead"].failure_count == 1

        pages = len([r for r in http_server.requests if r.path.startswith("/news/")])
        again = _run(cfg, storage, NOW + timedelta(hours=1))
        assert again.counts.get("articles_new", 0) == 0
        assert again.counts["feeds_not_modified"] == 1
        assert pages == 3
        assert (
            len([r for r in http_server.requests if r.path.startswith("/news/")]) == 3
        )
        assert storage.get_last_run().summary["feeds_not_modified"] == 1


def _child_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    return env | {"PYTHONPATH": str(REPO)} | extra


def _monitor(folder: Path, env: dict[str, str], *args: str):
    return subprocess.run(
        [MONITOR, *args, "--config", str(folder)],
        capture_output=True,
        text=True,
        timeout=240,
        env=_child_env(env),
        cwd=folder,
        check=False,
    )


def test_installed_monitor_runs_on_postgresql_from_cron(site, tmp_path, pg_url):
    env = {"MONITOR_STORE_URL": pg_url}
    done = _monitor(tmp_path, env, "run", "-q")
    # one feed is down: a warning is the only thing cron may mail
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert all("dead" in line for line in done.stderr.splitlines()), done.stderr
    assert not (tmp_path / "monitor.db").exists()  # nothing went to SQLite

    status = _monitor(tmp_path, env, "status", "--json")
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["stages"]["articles"] == {"total": 3}
    assert report["stages"]["extract"] == {"done": 3}
    with closing(PgStorage(pg_url)) as storage:
        assert {a.title for a in storage.get_articles(range(1, 10))} == set(
            TITLES.values()
        )


def test_run_indexes_and_search_finds_on_postgresql(site, tmp_path, pg_url):
    """The index stage runs inside `monitor run` on PostgreSQL; `search` reads it."""
    env = {"MONITOR_STORE_URL": pg_url}
    assert _monitor(tmp_path, env, "run", "-q").returncode == 0
    with closing(PgStorage(pg_url)) as storage:
        assert storage.count_search_index() == (3, 0)
    done = _monitor(tmp_path, env, "search", "митинги", "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [r["title"] for r in rows] == [TITLES["protest"]]  # «митинг», a lemma
    assert "**митинг**" in rows[0]["snippet"]
    again = _monitor(tmp_path, env, "search", "--reindex")
    assert again.returncode == 0, again.stderr
    assert "indexed 3 articles" in again.stderr


def test_a_bad_store_url_is_one_config_error(tmp_path):
    write_config(tmp_path, [("a", "http://127.0.0.1:9/rss", "ru")])
    done = _monitor(tmp_path, {"MONITOR_STORE_URL": "mysql://x@db/m"}, "status")
    assert done.returncode != 0
    assert "store.url: 'db/m' is not a PostgreSQL URL" in done.stderr
    assert "Traceback" not in done.stderr


HOLD_LOCK = """
import sys, time, psycopg
from monitor.store.pg._lock import RUN_LOCK
conn = psycopg.connect(sys.argv[1], autocommit=True, application_name="holder pid 4242")
conn.execute("SELECT pg_advisory_lock(%s)", (RUN_LOCK,))
print("held", flush=True)
time.sleep(600)
"""


def test_a_second_run_on_the_same_database_exits_0_with_one_line(
    site, tmp_path, pg_url
):
    """The run lock lives in PostgreSQL (any machine), and dies with its holder."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, pg_url],
        stdout=subprocess.PIPE,
        text=True,
        env=_child_env({}),
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        done = _monitor(tmp_path, {"MONITOR_STORE_URL": pg_url}, "run", "-q")
        assert done.returncode == 0
        assert done.stderr.splitlines() == [
            "monitor: skipped, another monitor run holds the lock (holder pid 4242)"
        ]
        with closing(PgStorage(pg_url)) as storage:
            assert storage.get_last_run() is None  # the second run did nothing
    finally:
        holder.kill()  # SIGKILL: the server ends its session and frees the lock
        holder.wait()
        holder.stdout.close()
    done = _monitor(tmp_path, {"MONITOR_STORE_URL": pg_url}, "run", "-q")
    assert done.returncode == 0, done.stderr
    assert "skipped" not in done.stderr
    with closing(PgStorage(pg_url)) as storage:
        assert storage.get_stage_counts()["articles"] == {"total": 3}
