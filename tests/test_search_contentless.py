"""The contentless FTS5 index (schema v11, issue #19's size goal) on SQLite.

A contentless row can only be taken out with the tokens it was indexed with, so
every write must keep ``search_fts`` and ``search_text`` in step.  The check
here is exact: every token instance FTS5 holds (``fts5vocab``, read from the
index itself) must be what a fresh FTS5 table built from ``search_text`` holds:
a stale or wrongly deleted token shows up as a difference.
"""

from __future__ import annotations

import logging
import sqlite3
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.models import Extracted, TextSource
from monitor.search import index_pending, reindex, search_archive
from monitor.store import VERSION, Storage
from monitor.store import _search as store_search
from tests.searchdata import NOW, build_archive

REPO = Path(__file__).resolve().parents[1]
CHILDREN = ("entries", "filings", "story_members", "story_features")
QUERIES = ("дрон", "Kulibayev", "Кулибаев", '"halyk bank"', "снег OR wind", "банк")


@pytest.fixture
def storage(tmp_path: Path):
    """SQLite only: PostgreSQL's index is tsvectors (tests/test_search_store.py)."""
    with closing(Storage(tmp_path / "m.db")) as s:
        yield s


def instances(db: sqlite3.Connection, table: str) -> set[tuple[str, int, str, int]]:
    """Every token instance in an FTS5 table's index: (term, rowid, column, offset)."""
    vocab = f"fts5vocab(main, {table}, 'instance')"
    db.execute(f"CREATE VIRTUAL TABLE temp.v_{table} USING {vocab}")
    try:
        rows = db.execute(f"SELECT term, doc, col, offset FROM temp.v_{table}")
        return {(r[0], int(r[1]), str(r[2]), int(r[3])) for r in rows}
    finally:
        db.execute(f"DROP TABLE temp.v_{table}")


def expected_instances(db: sqlite3.Connection) -> set[tuple[str, int, str, int]]:
    """The instances a fresh index of what ``search_text`` keeps would hold."""
    db.execute(store_search._FTS.format(name="fresh").replace("content = '',", ""))
    try:
        rows = db.execute("SELECT article_id, doc FROM search_text").fetchall()
        docs = [store_search.unpack_doc(int(r[0]), r[1]) for r in rows]
        db.executemany(
            store_search._INSERT_FTS.format(table="fresh"),
            [store_search._row(d) for d in docs],
        )
        return instances(db, "fresh")
    finally:
        db.execute("DROP TABLE fresh")


def assert_in_step(storage: Storage) -> None:
    db = storage._db
    got, want = instances(db, "search_fts"), expected_instances(db)
    assert got == want, (sorted(got - want)[:5], sorted(want - got)[:5])
    docsize = db.execute("SELECT count(*) FROM search_fts_docsize").fetchone()[0]
    assert docsize == storage.count_search_index()[0]


def hits(storage: Storage) -> dict[str, list[int]]:
    return {q: [r.id for r in search_archive(storage, q).results] for q in QUERIES}


def make_v10(db: sqlite3.Connection) -> None:
    """Turn the v11 search block back into the v4-v10 one: FTS5 with its own
    copy of the tokens, filled from ``search_text``."""
    rows = db.execute("SELECT article_id, doc FROM search_text").fetchall()
    docs = [store_search.unpack_doc(int(r[0]), r[1]) for r in rows]
    db.execute("DROP TRIGGER search_forget")
    db.execute("DROP TABLE search_fts")
    db.execute("DROP TABLE search_text")
    old_fts, _queue, _update, old_forget = store_search._SEARCH_DDL_V4
    db.execute(old_fts)
    db.execute(old_forget)
    db.executemany(
        store_search._INSERT_FTS.format(table="search_fts"),
        [store_search._row(d) for d in docs],
    )
    db.execute("PRAGMA user_version = 10")


def tables(db: sqlite3.Connection) -> set[str]:
    return {r[0] for r in db.execute("SELECT name FROM sqlite_master")}


def test_a_v10_index_becomes_contentless_and_finds_the_same(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="monitor")
    path = tmp_path / "m.db"
    with closing(Storage(path)) as storage:
        build_archive(storage)
        before, docs = hits(storage), storage.get_search_docs(range(1, 100))
        make_v10(storage._db)
    assert "search_fts_content" in tables(sqlite3.connect(path))
    with closing(Storage(path)) as storage:
        db = storage._db
        assert db.execute("PRAGMA user_version").fetchone()[0] == VERSION
        assert "search_fts_content" not in tables(db)  # the second copy is gone
        assert storage.count_search_index() == (len(docs), 0)  # nothing re-queued
        assert storage.get_search_docs(range(1, 100)) == docs
        assert hits(storage) == before
        assert all(before[q] for q in ("дрон", "Kulibayev", "Кулибаев"))
        assert_in_step(storage)
    assert "migrating the search index" in caplog.text
    assert "rebuilding" not in caplog.text  # FTS5's own tables were adopted


def test_reindex_and_new_text_keep_the_index_in_step(storage) -> None:
    ids = build_archive(storage)
    assert_in_step(storage)
    assert reindex(storage) == len(ids)
    assert_in_step(storage)
    with storage._tx() as db:  # a new text: the trigger queues it
        db.execute(
            "UPDATE articles SET text = 'Метель в Астане' WHERE id = ?",
            (ids["pogoda"],),
        )
    assert index_pending(storage) == 1
    assert_in_step(storage)
    found = [r.id for r in search_archive(storage, "метель").results]
    assert found == [ids["pogoda"]]
    assert not search_archive(storage, "гололёд").results  # the old text


def test_an_article_deleted_by_hand_leaves_the_index_at_the_next_run(storage) -> None:
    ids = build_archive(storage)
    gone = (ids["drony-almaty"],)
    with storage._tx() as db:  # as `sqlite3 monitor.db 'DELETE ...'` would
        db.execute("PRAGMA defer_foreign_keys = ON")
        for table in CHILDREN:
            db.execute(f"DELETE FROM {table} WHERE article_id = ?", gone)
        db.execute(
            "UPDATE stories SET representative_id = NULL WHERE representative_id = ?",
            gone,
        )
        db.execute("DELETE FROM articles WHERE id = ?", gone)
    assert storage.count_search_index()[1] == 1  # queued by the trigger
    index_pending(storage)
    assert storage.count_search_index() == (len(ids) - 1, 0)
    assert_in_step(storage)
    found = {r.id for r in search_archive(storage, "дрон").results}
    assert found
    assert ids["drony-almaty"] not in found


def test_a_pruned_article_keeps_its_headline_in_step(storage) -> None:
    ids = build_archive(storage)
    pruned = ids["pogoda"]
    assert storage.prune_articles([pruned], [], NOW + timedelta(days=1))[0] == 1
    assert_in_step(storage)  # before the index stage rebuilds the row
    assert not search_archive(storage, "гололёд").results  # body: gone
    headline = [r.id for r in search_archive(storage, "Астане").results]
    assert headline == [pruned]
    index_pending(storage)
    assert_in_step(storage)


def test_a_merged_copy_leaves_the_index_in_its_own_transaction(storage) -> None:
    """Re-extraction finds that an article is a copy of another (same canonical
    URL): the copy is deleted and its row taken out at once, not at the next run."""
    ids = build_archive(storage)
    copy, kept = ids["kulibaev-forum"], ids["drony-almaty"]
    url = storage.get_articles([kept])[0].canonical_url
    extracted = Extracted(text="Другой текст", title="Копия", author=None,
                          published=NOW, lang="ru", canonical_url=url,
                          source=TextSource.PAGE)  # fmt: skip
    assert storage.save_extraction(copy, extracted, NOW) == kept
    assert_in_step(storage)
    assert storage.count_search_index()[0] == len(ids) - 1
    found = {r.id for r in search_archive(storage, "Кулибаев").results}
    assert copy not in found


def test_a_copy_that_fails_its_check_is_rebuilt_from_the_kept_tokens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The migration's fallback: here the copy of FTS5's tables is skipped, so the
    new index is empty and the row count gives it away."""
    path = tmp_path / "m.db"
    with closing(Storage(path)) as storage:
        build_archive(storage)
        before = hits(storage)
        make_v10(storage._db)
    monkeypatch.setattr(store_search, "_adopt_index", lambda db: None)
    with closing(Storage(path)) as storage:
        assert "rebuilding it" in caplog.text
        assert hits(storage) == before
        assert_in_step(storage)


def _v10_folder(tmp_path: Path) -> Path:
    """A config folder whose database is at schema v10 (the old index)."""
    folder = tmp_path / "cfg"
    folder.mkdir(parents=True)
    db = folder / "monitor.db"
    with closing(Storage(db)) as storage:
        build_archive(storage)
        make_v10(storage._db)
    (folder / "monitor.toml").write_text(f'[store]\npath = "{db}"\n')
    (folder / "feeds.toml").write_text(
        '[[feed]]\nname = "vlast"\nurl = "https://vlast.kz/rss"\nlang = "ru"\n'
        'outlet = "Vlast.kz"\ncountry = "KZ"\n'
    )
    (folder / "topics.toml").write_bytes((REPO / "config" / "topics.toml").read_bytes())
    return folder


def test_the_migration_says_so_on_a_terminal_and_not_under_cron(
    tmp_path: Path,
) -> None:
    """The first command after the upgrade may take minutes at 1M articles: a
    person at a terminal is told once; cron (no TTY) stays silent."""
    from tests.test_cli_terminal import on_pty, piped

    terminal, cron = _v10_folder(tmp_path / "a"), _v10_folder(tmp_path / "b")
    code, out = on_pty("status", "--config", str(terminal))
    assert code == 0, out
    assert out.count("migrating the search index to schema v11 (5 rows") == 1
    proc = piped("status", "--config", str(cron))
    assert proc.returncode == 0, proc.stderr
    assert "migrating" not in proc.stderr + proc.stdout
    with closing(Storage(cron / "monitor.db")) as storage:  # it did migrate
        assert storage._db.execute("PRAGMA user_version").fetchone()[0] == VERSION
    code, out = on_pty("status", "--config", str(terminal))  # once only
    assert "migrating" not in out
