"""`monitor migrate --to postgresql://…` (issue #13): an SQLite archive copied into
an empty PostgreSQL store, verified table by table, with the installed executable."""

from __future__ import annotations

import json
from contextlib import closing
from datetime import timedelta

from monitor.store import Storage
from monitor.store.pg import PgStorage
from tests.sitegen import NOW, build_site, write_config
from tests.test_pipeline_backends import _monitor

TABLES = {"feeds", "articles", "entries", "filings", "stories", "story_members",
          "story_features", "runs", "translation_cache", "digests"}  # fmt: skip


def _archive(http_server, tmp_path):
    site = build_site(http_server, ["protest", "energy", "court"], NOW)
    write_config(tmp_path, [("kz-news", site.feed_url, "ru")])
    done = _monitor(tmp_path, {}, "run", "-q")
    assert done.returncode == 0, done.stderr


def test_migrate_copies_every_table_and_postgresql_carries_on(
    http_server, tmp_path, pg_url
):
    _archive(http_server, tmp_path)
    before = json.loads(_monitor(tmp_path, {}, "status", "--json").stdout)

    done = _monitor(tmp_path, {}, "migrate", "--to", pg_url)
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(None, 1) for line in done.stdout.splitlines())
    assert TABLES <= set(lines)
    assert lines["articles"].split()[0] == "3"
    assert "3 verified" in lines["articles"]

    after = json.loads(
        _monitor(tmp_path, {"MONITOR_STORE_URL": pg_url}, "status", "--json").stdout
    )
    assert after["stages"] == before["stages"]
    assert after["stories"] == before["stories"]
    with (
        closing(Storage(tmp_path / "monitor.db")) as sqlite,
        closing(PgStorage(pg_url)) as pg,
    ):
        ids = range(1, 10)
        assert pg.get_articles(ids) == sqlite.get_articles(ids)
        assert pg.get_story(1) == sqlite.get_story(1)
        assert pg.get_story_features(NOW - timedelta(days=30)) == (
            sqlite.get_story_features(NOW - timedelta(days=30))
        )
        # the search index is not copied: every extracted article is queued
        assert pg.count_search_index() == (0, 3)
        # identities moved past the copied ids: a new run gets the next id
        last = sqlite.get_last_run().id
        assert pg.start_run(NOW) == last + 1
    found = _monitor(
        tmp_path, {"MONITOR_STORE_URL": pg_url}, "search", "--reindex", "митинг"
    )
    assert found.returncode == 0, found.stderr
    assert "indexed 3 articles" in found.stderr
    assert "митинг" in found.stdout


def test_migrate_refuses_a_database_that_holds_data(http_server, tmp_path, pg_url):
    _archive(http_server, tmp_path)
    assert _monitor(tmp_path, {}, "migrate", "--to", pg_url).returncode == 0
    again = _monitor(tmp_path, {}, "migrate", "--to", pg_url)
    assert again.returncode == 1
    assert again.stderr.strip().endswith(
        "already holds data (feeds is not empty): migrate copies into a new,"
        " empty database only"
    )
    assert "Traceback" not in again.stderr
