"""Counters behind `monitor status` (issue #19): a few rows, never the archive.

``status_counts`` holds one row per (stage, status) of the articles, the article
total, and the story tables' totals.  Triggers keep it in the transaction that
changes the counted rows, so it is exactly as right as the rows (kill -9 safe)
and `monitor status` reads a dozen rows instead of counting a million.  This is
bookkeeping, not a business rule: no decision reads it.

Keys (``stage``, ``status``):

* ``('articles', 'total')``;
* ``('extract' | 'translate' | 'classify' | 'stories', <status>)``, one per
  status column of ``articles``;
* ``('story_tables', 'stories' | 'assigned' | 'multi')``: rows of ``stories``,
  rows of ``story_members``, stories with more than one member (members never
  move: `add_story_members` inserts with ``ON CONFLICT DO NOTHING`` and never
  updates ``story_id``, so only inserts and deletes are counted).

The PostgreSQL twin (functions and triggers) is in monitor/store/pg/_schema.py;
`BACKFILL` is shared: it fills the table from the rows when the table is added
to an existing archive (a migration; the only full pass, once).
"""

from __future__ import annotations

# (stage shown by `monitor status`, articles column)
STATUS_COLUMNS: tuple[tuple[str, str], ...] = (
    ("extract", "extract_status"),
    ("translate", "translation_status"),
    ("classify", "classify_status"),
    ("stories", "story_status"),
)

TABLE = """CREATE TABLE status_counts (
    stage  TEXT NOT NULL,
    status TEXT NOT NULL,
    n      BIGINT NOT NULL,
    PRIMARY KEY (stage, status)
)"""

_UPSERT = "ON CONFLICT (stage, status) DO UPDATE SET n = status_counts.n + excluded.n"


def _values(row: str, sign: int) -> str:
    """``(stage, status, ±1)`` tuples for every counted column of ``row``."""
    out = [f"('articles', 'total', {sign})"]
    out += [f"('{stage}', {row}.{col}, {sign})" for stage, col in STATUS_COLUMNS]
    return ", ".join(out)


def delta_select(table: str, sign: int, *, with_total: bool = True) -> str:
    """``(stage, status, n)`` rows counting each row of ``table`` (PostgreSQL's
    transition tables use it; an update leaves the total out)."""
    parts = [
        f"SELECT '{stage}'::text, {col}, {sign} FROM {table}"
        for stage, col in STATUS_COLUMNS
    ]
    if with_total:
        parts.insert(0, f"SELECT 'articles'::text, 'total'::text, {sign} FROM {table}")
    return " UNION ALL ".join(parts)


def _members_of(story: str) -> str:
    return f"(SELECT count(*) FROM story_members WHERE story_id = {story})"


def _sqlite_ddl() -> tuple[str, ...]:
    ins = "INSERT INTO status_counts (stage, status, n)"
    ddl = [
        TABLE,
        f"CREATE TRIGGER articles_counted AFTER INSERT ON articles BEGIN"
        f" {ins} VALUES {_values('NEW', 1)} {_UPSERT}; END",
        f"CREATE TRIGGER articles_uncounted AFTER DELETE ON articles BEGIN"
        f" {ins} VALUES {_values('OLD', -1)} {_UPSERT}; END",
    ]
    ddl += [
        f"CREATE TRIGGER articles_{stage}_recounted AFTER UPDATE OF {col} ON articles"
        f" WHEN OLD.{col} IS NOT NEW.{col} BEGIN {ins} VALUES"
        f" ('{stage}', OLD.{col}, -1), ('{stage}', NEW.{col}, 1) {_UPSERT}; END"
        for stage, col in STATUS_COLUMNS
    ]
    multi = f"{ins} SELECT 'story_tables', 'multi', {{sign}} WHERE {{count}} {_UPSERT};"
    ddl += [
        f"CREATE TRIGGER stories_counted AFTER INSERT ON stories BEGIN"
        f" {ins} VALUES ('story_tables', 'stories', 1) {_UPSERT}; END",
        f"CREATE TRIGGER stories_uncounted AFTER DELETE ON stories BEGIN"
        f" {ins} VALUES ('story_tables', 'stories', -1) {_UPSERT}; END",
        f"CREATE TRIGGER story_members_counted AFTER INSERT ON story_members BEGIN"
        f" {ins} VALUES ('story_tables', 'assigned', 1) {_UPSERT};"
        f" {multi.format(sign=1, count=_members_of('NEW.story_id') + ' = 2')} END",
        f"CREATE TRIGGER story_members_uncounted AFTER DELETE ON story_members BEGIN"
        f" {ins} VALUES ('story_tables', 'assigned', -1) {_UPSERT};"
        f" {multi.format(sign=-1, count=_members_of('OLD.story_id') + ' = 1')} END",
    ]
    return tuple(ddl)


SQLITE_DDL = _sqlite_ddl()


def sqlite_drops() -> tuple[str, ...]:
    """Drop what `SQLITE_DDL` creates (a migration starts from a clean slate:
    tests build older versions by undoing later ones on a fresh file)."""
    triggers = [s.split()[2] for s in SQLITE_DDL if s.startswith("CREATE TRIGGER")]
    drops = [f"DROP TRIGGER IF EXISTS {t}" for t in triggers]
    return (*drops, "DROP TABLE IF EXISTS status_counts")


# Portable: fills the counters from the rows (run once, by the migration).
BACKFILL: tuple[str, ...] = (
    "DELETE FROM status_counts",
    "INSERT INTO status_counts (stage, status, n)"
    " SELECT 'articles', 'total', count(*) FROM articles",
    *(
        f"INSERT INTO status_counts (stage, status, n)"
        f" SELECT '{stage}', {col}, count(*) FROM articles GROUP BY {col}"
        for stage, col in STATUS_COLUMNS
    ),
    "INSERT INTO status_counts (stage, status, n)"
    " SELECT 'story_tables', 'stories', count(*) FROM stories",
    "INSERT INTO status_counts (stage, status, n)"
    " SELECT 'story_tables', 'assigned', count(*) FROM story_members",
    "INSERT INTO status_counts (stage, status, n)"
    " SELECT 'story_tables', 'multi', count(*) FROM (SELECT story_id"
    " FROM story_members GROUP BY story_id HAVING count(*) > 1) AS multi",
)
