"""The schema, as one commented DDL string, and the migrations that reach it.

``PRAGMA user_version`` holds the schema version.  A new database gets `SCHEMA`
directly; an older one runs ``MIGRATIONS[v]`` for each version ``v`` up to
`VERSION`, all inside one ``BEGIN IMMEDIATE`` transaction (which also
serialises two processes creating the same new file), each followed by
``foreign_key_check`` (STYLE.md 14).  To change the schema: edit `SCHEMA`, bump `VERSION`, add a
migration from the previous version, and add a test in tests/test_store.py.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable

from ..exceptions import StorageError
from ._counts import BACKFILL, SQLITE_DDL, sqlite_drops
from ._search import SEARCH_DDL, compact_search_index, create_search_schema

logger = logging.getLogger(__name__)

APPLICATION_ID = 0x4D4F4E31  # "MON1"
# 4: search (#15); 5: feed routes (#20); 6: alerts (#16); 7: indexes (#19);
# 8: pruning (#19); 9: status counters (#19); 10: search on PostgreSQL (no-op here);
# 11: a contentless search index (#19)
VERSION = 11

SCHEMA = """
-- One row per configured feed: HTTP validators and health, for `monitor status`.
CREATE TABLE feeds (
    name              TEXT PRIMARY KEY,
    url               TEXT NOT NULL,
    outlet            TEXT NOT NULL DEFAULT '',
    lang              TEXT NOT NULL DEFAULT '',
    country           TEXT NOT NULL DEFAULT '',
    etag              TEXT,
    last_modified     TEXT,
    content_hash      TEXT,              -- of the last body: catches servers that ignore validators
    next_poll_at      TEXT,              -- Retry-After / failure backoff
    last_polled_at    TEXT,
    last_ok_at        TEXT,
    last_new_item_at  TEXT,
    last_status       TEXT,              -- ok | not_modified | unchanged | error
    failure_count     INTEGER NOT NULL DEFAULT 0,
    last_error        TEXT,
    served_url        TEXT,              -- the URL (primary or mirror) of the last good poll
    served_via        TEXT,              -- "direct" or the proxy, without credentials
    primary_failed_at TEXT               -- on a mirror since the primary failed then (#20)
);

-- One row per distinct article, keyed by canonical URL: the same article reached
-- from two feeds is stored once (its sightings are in `entries`).
CREATE TABLE articles (
    id                  INTEGER PRIMARY KEY,
    canonical_url       TEXT NOT NULL UNIQUE,
    url                 TEXT NOT NULL,     -- link as the feed gave it
    feed_name           TEXT NOT NULL REFERENCES feeds(name),  -- first feed that carried it
    title               TEXT NOT NULL DEFAULT '',
    summary             TEXT NOT NULL DEFAULT '',   -- feed summary, HTML stripped
    feed_content        TEXT NOT NULL DEFAULT '',   -- feed full content, HTML stripped
    feed_lang           TEXT,
    published           TEXT,              -- UTC; see docs/design.md "dates"
    first_seen          TEXT NOT NULL,
    -- extraction stage
    extract_status      TEXT NOT NULL DEFAULT 'pending',  -- pending | done
    text                TEXT,
    source              TEXT,              -- page | feed_content | feed_summary | title_only
    is_teaser           INTEGER NOT NULL DEFAULT 0,
    author              TEXT,
    lang                TEXT,              -- detected
    attempts            INTEGER NOT NULL DEFAULT 0,
    last_error          TEXT,              -- JSON {"type", "message", "stage"}
    -- translation stage
    translation_status  TEXT NOT NULL DEFAULT 'pending',
    title_en            TEXT,
    text_en             TEXT,
    translation_engine  TEXT,
    translation_note    TEXT,
    translation_flagged INTEGER NOT NULL DEFAULT 0,
    -- classification and story stages
    classify_status     TEXT NOT NULL DEFAULT 'pending',   -- pending | done
    story_status        TEXT NOT NULL DEFAULT 'pending',   -- pending | done
    story_id            INTEGER REFERENCES stories(id),
    updated_at          TEXT NOT NULL,
    pruned_at           TEXT               -- body and features dropped (#19 prune)
);
CREATE INDEX articles_extract ON articles(extract_status);
-- The translate stage's queue (issue #19): one seek per status it wants, in id
-- order, instead of every extracted article; NO_MODEL rows are sought by the
-- languages a model now covers.  The first also serves status counts.
CREATE INDEX articles_translate_queue ON articles(translation_status, extract_status);
CREATE INDEX articles_translate_lang
    ON articles(translation_status, lang, extract_status);
CREATE INDEX articles_classify ON articles(classify_status);
CREATE INDEX articles_story ON articles(story_status);
CREATE INDEX articles_published ON articles(published);
CREATE INDEX articles_first_seen ON articles(first_seen);  -- digest windows (#19)
-- prune's candidates: the articles not pruned yet, oldest first (#19, v8)
CREATE INDEX articles_unpruned ON articles(first_seen, id) WHERE pruned_at IS NULL;

-- Sightings: every (feed, entry id) that pointed at an article.
CREATE TABLE entries (
    feed_name     TEXT NOT NULL REFERENCES feeds(name),
    entry_id      TEXT NOT NULL,
    article_id    INTEGER NOT NULL REFERENCES articles(id),
    link          TEXT NOT NULL,
    title         TEXT NOT NULL DEFAULT '',
    published     TEXT,
    hash          TEXT NOT NULL,
    first_seen    TEXT NOT NULL,
    updated_count INTEGER NOT NULL DEFAULT 0,   -- capped: see HASH_CHANGED_LIMIT
    PRIMARY KEY (feed_name, entry_id)
);
CREATE INDEX entries_article ON entries(article_id);

-- Runs and failures, for `monitor status`.
CREATE TABLE runs (
    id          INTEGER PRIMARY KEY,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    summary     TEXT                          -- JSON counts
);
CREATE TABLE failures (
    id        INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    stage     TEXT NOT NULL,                  -- poll | fetch | extract | translate | ...
    resource  TEXT NOT NULL,                  -- feed name, URL or article id
    error     TEXT NOT NULL
);
CREATE INDEX failures_at ON failures(at);
-- Every article-page fetch, ok or not, for "pages failing: F of A" per feed
-- (#10.6).  Rows older than a week are pruned as new ones arrive.
CREATE TABLE page_fetches (
    id         INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    feed_name  TEXT NOT NULL,                -- the article's feed (no FK: feeds may go)
    ok         INTEGER NOT NULL              -- 1 fetched, 0 failed
);
CREATE INDEX page_fetches_at ON page_fetches(at);

-- Sentence-level translation cache, keyed by hash(source text, model).
CREATE TABLE translation_cache (
    key        TEXT PRIMARY KEY,
    model      TEXT NOT NULL,
    output     TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX translation_cache_created ON translation_cache(created_at);  -- pruning (#19)

-- Topic and country filings with their explanations.
CREATE TABLE filings (
    article_id INTEGER NOT NULL REFERENCES articles(id),
    facet      TEXT NOT NULL,                 -- topic | country
    label      TEXT NOT NULL,
    score      REAL NOT NULL,
    rule       TEXT NOT NULL,
    terms      TEXT NOT NULL,                 -- JSON list of rule terms that matched
    matched    TEXT NOT NULL,                 -- JSON list of words in the text
    PRIMARY KEY (article_id, facet, label)
);
CREATE INDEX filings_label ON filings(facet, label);

-- Stories: groups of articles reporting the same event.
CREATE TABLE stories (
    id                INTEGER PRIMARY KEY,
    created_at        TEXT NOT NULL,
    representative_id INTEGER REFERENCES articles(id),
    first_published   TEXT,
    last_published    TEXT
);
CREATE TABLE story_members (
    article_id INTEGER PRIMARY KEY REFERENCES articles(id),
    story_id   INTEGER NOT NULL REFERENCES stories(id),
    relation   TEXT NOT NULL,                 -- seed | exact | near | story
    score      REAL NOT NULL,
    added_at   TEXT NOT NULL
);
CREATE INDEX story_members_story ON story_members(story_id);
-- Per-article features kept for incremental clustering (MinHash, entities...).
CREATE TABLE story_features (
    article_id INTEGER PRIMARY KEY REFERENCES articles(id),
    published  TEXT,
    features   BLOB NOT NULL
);
CREATE INDEX story_features_published ON story_features(published);

-- Digests written and mails sent: a digest is never sent twice unless forced.
CREATE TABLE digests (
    day          TEXT NOT NULL,               -- local date, or 'since:<iso>' for since-last
    generated_at TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    path         TEXT NOT NULL,
    PRIMARY KEY (day)
);
CREATE TABLE deliveries (
    day        TEXT NOT NULL,
    recipient  TEXT NOT NULL,
    sent_at    TEXT NOT NULL,
    message_id TEXT NOT NULL,
    PRIMARY KEY (day, recipient)
);
-- Claims (issue #11.10): taken before a mail is sent, dropped when the
-- `deliveries` row is written.  One left behind means the sender crashed.
CREATE TABLE delivery_claims (
    day        TEXT NOT NULL,
    recipient  TEXT NOT NULL,
    claimed_at TEXT NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (day, recipient)
);
"""

Migration = Callable[[sqlite3.Connection], None]


def _add_page_fetches(db: sqlite3.Connection) -> None:
    """v1 -> v2: the page_fetches log behind "pages failing" (issue #10.6)."""
    db.execute(
        "CREATE TABLE page_fetches (id INTEGER PRIMARY KEY, at TEXT NOT NULL,"
        " feed_name TEXT NOT NULL, ok INTEGER NOT NULL)"
    )
    db.execute("CREATE INDEX page_fetches_at ON page_fetches(at)")


def _add_delivery_claims(db: sqlite3.Connection) -> None:
    """v2 -> v3: claims that make a digest mail go out once (issue #11.10)."""
    db.execute(
        "CREATE TABLE delivery_claims (day TEXT NOT NULL, recipient TEXT NOT NULL,"
        " claimed_at TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 1,"
        " PRIMARY KEY (day, recipient))"
    )


# {from_version: function that upgrades from_version -> from_version + 1}
MIGRATIONS: dict[int, Migration] = {1: _add_page_fetches, 2: _add_delivery_claims}

# ---------------------------------------------------------------- search (issue #15)
# The full-text index, its queue and the triggers that fill the queue live in
# monitor/store/_search.py; a new database gets them with the schema, an older one
# through this migration.
SCHEMA += "".join(f"{statement};\n" for statement in SEARCH_DDL)
MIGRATIONS[3] = create_search_schema  # v3 -> v4
# ------------------------------------------------------------ end of search block

# ---------------------------------------------------------------- alerts (issue #16)
ALERTS_DDL = (
    # One row per delivery: (watch, story, outlet level reached, notify target).
    # claim -> send -> mark (monitor/alerts/_decide.py: decide_delivery).
    """CREATE TABLE alerts (
    watch       TEXT NOT NULL,
    story_id    INTEGER NOT NULL,            -- no FK: the alert outlives its story
    level       INTEGER NOT NULL,            -- min_outlets or a follow_up value
    target      TEXT NOT NULL,               -- mailto:... | http(s)://... | atom:...
    created_at  TEXT NOT NULL,
    claimed_at  TEXT,                        -- set while a send is under way
    attempts    INTEGER NOT NULL DEFAULT 0,  -- sends started
    failures    INTEGER NOT NULL DEFAULT 0,  -- sends that ended in a failure
    sent_at     TEXT,
    last_error  TEXT,
    payload     TEXT NOT NULL,               -- the JSON document sent
    PRIMARY KEY (watch, story_id, level, target)
)""",
    "CREATE INDEX alerts_sent ON alerts(sent_at)",
)
SCHEMA += "".join(f"{statement};\n" for statement in ALERTS_DDL)


def _add_alerts(db: sqlite3.Connection) -> None:
    """v5 -> v6: the alerts deliveries table (issue #16)."""
    for statement in ALERTS_DDL:
        db.execute(statement)


MIGRATIONS[5] = _add_alerts  # v5 -> v6
# ------------------------------------------------------------ end of alerts block


def _add_feed_routes(db: sqlite3.Connection) -> None:
    """v4 -> v5: which URL and proxy served each feed, for mirrors (issue #20)."""
    for column in ("served_url", "served_via", "primary_failed_at"):
        db.execute(f"ALTER TABLE feeds ADD COLUMN {column} TEXT")


MIGRATIONS[4] = _add_feed_routes  # v4 -> v5


def _index_hot_queries(db: sqlite3.Connection) -> None:
    """v6 -> v7: indexes behind the per-run queries, then statistics (issue #19).

    The translate queue gets (status, extract status), which replaces the
    single-column index (a prefix of it), and (status, language, extract
    status) for NO_MODEL rows whose language a model now covers; digest windows
    get ``first_seen``; the translation cache's pruning gets ``created_at``.
    The planner then gets ``sqlite_stat1`` so it is not guessing at 1M rows.
    """
    db.execute("DROP INDEX IF EXISTS articles_translation")
    db.execute(
        "CREATE INDEX IF NOT EXISTS articles_translate_queue"
        " ON articles(translation_status, extract_status)"
    )
    db.execute(
        "CREATE INDEX IF NOT EXISTS articles_translate_lang"
        " ON articles(translation_status, lang, extract_status)"
    )
    db.execute("CREATE INDEX IF NOT EXISTS articles_first_seen ON articles(first_seen)")
    db.execute(
        "CREATE INDEX IF NOT EXISTS translation_cache_created"
        " ON translation_cache(created_at)"
    )
    analyze(db)


MIGRATIONS[6] = _index_hot_queries  # v6 -> v7


def _add_pruning(db: sqlite3.Connection) -> None:
    """v7 -> v8: ``articles.pruned_at`` and the index of unpruned articles (#19).

    Idempotent, like the v7 indexes: a file put back to an older version by
    hand (or by a test) that still has the column migrates all the same.
    """
    columns = {row[1] for row in db.execute("PRAGMA table_info(articles)")}
    if "pruned_at" not in columns:
        db.execute("ALTER TABLE articles ADD COLUMN pruned_at TEXT")
    db.execute(
        "CREATE INDEX IF NOT EXISTS articles_unpruned"
        " ON articles(first_seen, id) WHERE pruned_at IS NULL"
    )


MIGRATIONS[7] = _add_pruning  # v7 -> v8


# ------------------------------------------------------ status counters (issue #19)
SCHEMA += "".join(f"{statement};\n" for statement in SQLITE_DDL)


def _add_status_counts(db: sqlite3.Connection) -> None:
    """v8 -> v9: the counters `monitor status` reads (monitor/store/_counts.py),
    filled from the rows once; triggers keep them from then on."""
    for statement in sqlite_drops() + SQLITE_DDL + BACKFILL:
        db.execute(statement)


MIGRATIONS[8] = _add_status_counts  # v8 -> v9
# ---------------------------------------------- end of status counters block


def _pg_search_twin(db: sqlite3.Connection) -> None:
    """v9 -> v10: nothing on SQLite (its FTS5 index came in v4).  The PostgreSQL
    twin adds that backend's search index (monitor/store/pg/_schema.py
    ``_add_search``); both backends keep the same version numbers."""


MIGRATIONS[9] = _pg_search_twin  # v9 -> v10
MIGRATIONS[10] = compact_search_index  # v10 -> v11: monitor/store/_search.py

# ANALYZE reads at most about this many rows per index (SQLite's own advice for
# `PRAGMA optimize`): statistics at 1M articles in well under a second.
ANALYSIS_LIMIT = 1000


def analyze(db: sqlite3.Connection) -> None:
    """Gather planner statistics (``sqlite_stat1``), bounded in time."""
    db.execute(f"PRAGMA analysis_limit = {ANALYSIS_LIMIT}")
    db.execute("ANALYZE")


def optimize(db: sqlite3.Connection) -> None:
    """Refresh statistics that have gone stale, as a connection closes.

    SQLite's ``PRAGMA optimize`` re-analyses only the tables this connection
    queried whose statistics are missing or out of date, so it costs nothing on
    most closes.  It needs the write lock: when another process holds it the
    refresh is simply left to the next close (never wait, never fail a close).
    """
    try:
        db.execute("PRAGMA busy_timeout = 0")
        db.execute(f"PRAGMA analysis_limit = {ANALYSIS_LIMIT}")
        db.execute("PRAGMA optimize")
    except sqlite3.OperationalError as e:  # locked, read-only, disk full
        logger.debug("optimize skipped error=%s", e)


def setup_schema(db: sqlite3.Connection) -> None:
    """Create or migrate the schema; refuse files that are not ours or too new.

    Two processes may open a database that does not exist yet at the same moment
    (``monitor poll`` and ``monitor status`` from cron, issue #11.11).  Creation
    and migration therefore happen inside one ``BEGIN IMMEDIATE`` transaction
    that re-reads the version first: the second process waits for the write
    lock (``busy_timeout``), then finds the schema in place and does nothing.
    An up-to-date database takes no write lock at all, so read-only files open.
    """
    version, app_id = _versions(db)
    if app_id == APPLICATION_ID and version == VERSION:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        _create_or_migrate(db)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def enable_wal(db: sqlite3.Connection, *, timeout: float) -> str:
    """Switch to WAL, waiting out a concurrent first open; returns the new mode.

    Changing the journal mode of a brand-new file can fail at once with
    "database is locked" while another process creates the schema: SQLite does
    not always call the busy handler for it (issue #11.11).  Retry until
    ``timeout``.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            return str(db.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() >= deadline:
                raise
            time.sleep(0.02)


def _versions(db: sqlite3.Connection) -> tuple[int, int]:
    version = db.execute("PRAGMA user_version").fetchone()[0]
    app_id = db.execute("PRAGMA application_id").fetchone()[0]
    return int(version), int(app_id)


def _create_or_migrate(db: sqlite3.Connection) -> None:
    """The version check and the DDL, inside the caller's write transaction."""
    version, app_id = _versions(db)
    if version == 0 and app_id == 0:
        if db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
            raise StorageError("database exists but was not created by monitor")
        for statement in _statements(SCHEMA):
            db.execute(statement)
        db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        db.execute(f"PRAGMA user_version = {VERSION}")
        return
    if app_id != APPLICATION_ID:
        raise StorageError(f"not a monitor database (application_id={app_id:#x})")
    if version > VERSION:
        raise StorageError(
            f"database schema v{version} is newer than this monitor (v{VERSION})"
        )
    for v in range(version, VERSION):
        _migrate(db, v)


def _statements(script: str) -> list[str]:
    """Split a DDL script into statements (``executescript`` would COMMIT first)."""
    out, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            out.append(current.strip())
            current = ""
    if current.strip():
        out.append(current)  # no final semicolon: sqlite3 still runs it
    return out


def _migrate(db: sqlite3.Connection, from_version: int) -> None:
    """One step, inside the transaction `setup_schema` holds."""
    migration = MIGRATIONS.get(from_version)
    if migration is None:
        raise StorageError(f"no migration from schema v{from_version}")
    migration(db)
    problems = db.execute("PRAGMA foreign_key_check").fetchall()
    if problems:
        raise StorageError(
            f"migration from v{from_version} broke foreign keys: {problems[:3]}"
        )
    db.execute(f"PRAGMA user_version = {from_version + 1}")
