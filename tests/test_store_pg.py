"""What is particular to the PostgreSQL backend (issue #13): schema ownership,
concurrent creation, error mapping, URL handling."""

from __future__ import annotations

import threading
import time
from contextlib import closing
from datetime import UTC, datetime

import psycopg
import pytest

from monitor.exceptions import StorageError
from monitor.models import FeedItem, FeedSpec
from monitor.store.pg import PgStorage, is_postgres_url, redact_url
from monitor.store.pg._conn import to_psycopg
from monitor.store.pg._schema import VERSION

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def test_new_database_gets_the_schema_at_the_current_version(pg_url):
    PgStorage(pg_url).close()
    with psycopg.connect(pg_url) as conn:
        row = conn.execute("SELECT version FROM monitor_schema").fetchone()
        fk = conn.execute(
            "SELECT count(*) FROM information_schema.table_constraints"
            " WHERE table_name = 'articles' AND constraint_type = 'FOREIGN KEY'"
        ).fetchone()
    assert row == (VERSION,)
    assert fk == (2,)  # feed_name -> feeds and the forward story_id -> stories
    PgStorage(pg_url).close()  # opening again changes nothing


def test_a_foreign_database_is_refused(pg_url):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE something_else (x int)")
    with pytest.raises(StorageError, match="not created by monitor"):
        PgStorage(pg_url)


def test_a_newer_schema_is_refused(pg_url):
    PgStorage(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE monitor_schema SET version = version + 1")
    with pytest.raises(StorageError, match="newer than this monitor"):
        PgStorage(pg_url)


def test_two_processes_creating_the_schema_at_once_both_succeed(pg_url):
    errors: list[BaseException] = []

    def open_it():
        try:
            PgStorage(pg_url).close()
        except BaseException as e:  # pragma: no cover - the failure being tested
            errors.append(e)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_an_unreachable_server_is_one_storage_error(pg_cluster):
    url = f"postgresql://postgres:secret@127.0.0.1:{pg_cluster.port + 1}/x"
    with pytest.raises(StorageError) as info:
        PgStorage(url, connect_timeout=2)
    assert "cannot open database postgresql://postgres:***@127.0.0.1" in str(info.value)
    assert "secret" not in str(info.value)


def test_a_value_postgresql_refuses_is_an_item_error(pg_url):
    with closing(PgStorage(pg_url)) as storage:
        storage.sync_feeds([FeedSpec(name="a", url="https://a/", outlet="A",
                                     lang="ru", country="KZ")])  # fmt: skip
        with pytest.raises(ValueError, match="value refused by PostgreSQL"):
            storage.add_failure("poll", "a", "nul \x00 inside", NOW)
        # the transaction was rolled back and the connection is still usable
        storage.add_failure("poll", "a", "fine", NOW)
        assert [f.error for f in storage.get_recent_failures()] == ["fine"]


def _kill_monitor_connections(cluster) -> None:
    with psycopg.connect(cluster.url(), autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = 'monitor'"
        )


def _feed(storage: PgStorage) -> None:
    storage.sync_feeds([FeedSpec(name="a", url="https://a/", outlet="A",
                                 lang="ru", country="KZ")])  # fmt: skip


def test_a_lost_connection_is_replaced_and_the_call_repeated(
    pg_url, pg_cluster, caplog
):
    with closing(PgStorage(pg_url)) as storage:
        _feed(storage)
        _kill_monitor_connections(pg_cluster)
        item = FeedItem(feed_name="a", entry_id="e", link="https://a/1", title="t")
        assert storage.add_feed_items([(item, "https://a/1")], NOW) == 1
        _kill_monitor_connections(pg_cluster)
        assert storage.get_stage_counts()["extract"] == {"pending": 1}
    assert "database connection lost and restored after" in caplog.text


def test_a_server_that_stays_away_is_one_storage_error_after_the_bound(
    pg_url, pg_cluster
):
    name = pg_url.rsplit("/", 1)[1]
    with closing(PgStorage(pg_url, reconnect_for=1)) as storage:
        _feed(storage)
        pg_cluster.sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        try:
            _kill_monitor_connections(pg_cluster)
            started = time.monotonic()
            with pytest.raises(StorageError) as info:
                storage.add_failure("poll", "a", "x", NOW)
            assert 0.9 < time.monotonic() - started < 10
        finally:
            pg_cluster.sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        message = str(info.value)
        assert message.startswith("lost the connection to postgresql://postgres@")
        assert "could not reconnect within 1 s" in message
        assert "\n" not in message
        # the server is back: the same object carries on
        storage.add_failure("poll", "a", "y", NOW)
        assert [f.error for f in storage.get_recent_failures()] == ["y"]


def test_a_connection_lost_during_commit_repeats_a_write_that_did_not_commit(
    pg_url, pg_cluster, caplog
):
    """A deferred trigger holds COMMIT open; the backend is killed inside it.
    The server rolled the write back (``pg_xact_status`` says aborted), so the
    method runs again, and the failure is stored once."""
    with closing(PgStorage(pg_url)) as storage:
        _feed(storage)
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(
                "CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS"
                " $$ BEGIN PERFORM pg_sleep(0.5); RETURN NULL; END $$"
            )
            admin.execute(
                "CREATE CONSTRAINT TRIGGER slow AFTER INSERT ON failures"
                " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW"
                " EXECUTE FUNCTION slow_commit()"
            )
        killed = threading.Event()

        def kill_in_commit() -> None:
            with psycopg.connect(pg_cluster.url(), autocommit=True) as admin:
                while not killed.is_set():
                    row = admin.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE application_name = 'monitor' AND query = 'COMMIT'"
                        " AND state = 'active'"
                    ).fetchone()
                    if row is not None and row[0]:
                        killed.set()
                    time.sleep(0.02)

        killer = threading.Thread(target=kill_in_commit, daemon=True)
        killer.start()
        storage.add_failure("poll", "a", "once", NOW)
        killer.join(timeout=10)
        assert killed.is_set()
        assert [f.error for f in storage.get_recent_failures()] == ["once"]
    assert "database connection lost" in caplog.text


def test_every_public_write_method_is_one_transaction():
    """What makes repeating a whole method on a fresh connection safe: each
    public storage method opens at most one transaction, and one that calls
    another public method opens none of its own."""
    import ast
    import inspect
    import textwrap

    public = {n for n in dir(PgStorage) if not n.startswith("_")}
    txs: dict[str, int] = {}
    calls: dict[str, set[str]] = {}
    for name in sorted(public):
        value = inspect.getattr_static(PgStorage, name)
        func = getattr(value, "__wrapped__", value)
        if not inspect.isfunction(func):
            continue
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
        attrs = [
            n.attr for n in ast.walk(tree)
            if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
            and n.value.id == "self"
        ]  # fmt: skip
        txs[name] = attrs.count("_tx")
        calls[name] = {a for a in attrs if a in public}
    for name, own in txs.items():
        called = sum(txs.get(c, 0) for c in calls[name])
        assert own + called <= 1, (name, own, calls[name])
    assert sum(txs.values()) >= 20  # the write methods were found


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT * FROM t WHERE a = ? AND b = ?", "SELECT * FROM t WHERE a = %s AND b = %s"),
        ("SET x = :now, y = :now", "SET x = %(now)s, y = %(now)s"),
        ("WHERE day LIKE 'since:%' AND d = :d", "WHERE day LIKE 'since:%%' AND d = %(d)s"),
        ("SELECT 'a ? :b' , x::text", "SELECT 'a ? :b' , x::text"),
        ("SELECT 'it''s ?' WHERE a = ?", "SELECT 'it''s ?' WHERE a = %s"),
    ],
)  # fmt: skip
def test_placeholders_are_translated_outside_string_literals(sql, expected):
    assert to_psycopg(sql) == expected


def test_urls():
    assert is_postgres_url("postgresql://u@h/d")
    assert is_postgres_url("postgres://u@h/d")
    assert not is_postgres_url("sqlite:///x.db")
    assert redact_url("postgresql://u:pw@h:5433/d") == "postgresql://u:***@h:5433/d"
    assert redact_url("postgresql://u@h/d") == "postgresql://u@h/d"


def _undo(statement: str) -> str | None:
    """The statement that takes one migration statement back (tests only)."""
    words = statement.split()
    if words[:2] == ["CREATE", "TABLE"]:
        return f"DROP TABLE {words[2]}"
    if words[:2] == ["ALTER", "TABLE"] and words[3:5] == ["ADD", "COLUMN"]:
        return f"ALTER TABLE {words[2]} DROP COLUMN {words[5]}"
    if words[:5] == ["CREATE", "INDEX", "IF", "NOT", "EXISTS"]:
        return f"DROP INDEX {words[5]}"
    if words[:2] == ["CREATE", "FUNCTION"]:
        return f"DROP FUNCTION {words[2]} CASCADE"  # its trigger goes with it
    return None  # an index of a new table goes with it; DROP INDEX, ANALYZE


def test_a_database_at_the_previous_version_is_migrated(pg_url):
    """Built by undoing the last migration with statements (later ones are
    twins of SQLite-only changes: v10 -> v11 is empty here), from that version."""
    from monitor.store.pg._schema import MIGRATIONS

    PgStorage(pg_url).close()
    before = max(v for v, make in MIGRATIONS.items() if make())
    last = MIGRATIONS[before]()
    undo = [u for u in map(_undo, reversed(last)) if u]
    assert undo
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for statement in undo:
            conn.execute(statement)
        conn.execute("UPDATE monitor_schema SET version = %s", (before,))
    with closing(PgStorage(pg_url)) as storage:
        storage.sync_feeds([FeedSpec(name="a", url="https://a/", outlet="A",
                                     lang="ru", country="KZ")])  # fmt: skip
        assert list(storage.get_feed_states()) == ["a"]
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT version FROM monitor_schema").fetchone() == (
            VERSION,
        )
        for statement in undo:  # everything undone is back
            kind, name = statement.split()[1:3]
            check = "to_regprocedure" if kind == "FUNCTION" else "to_regclass"
            assert conn.execute(f"SELECT {check}(%s)", (name,)).fetchone()[0]
