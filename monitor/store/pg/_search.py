"""Full-text search on PostgreSQL (issues #13, #15): tsvector/GIN, same tokens.

The index holds the very tokens the SQLite FTS5 index holds (`SearchDoc`:
lemmas, stems, name keys, aliases, built in Python by monitor/search/_index.py).
PostgreSQL's own parser and stemmers are not used at all: the tsvector and the
tsquery are written as literals (``'token':3A``), which is the ``simple``
configuration minus its parser (that parser would split ``~stem``, ``§name``
and hyphenated keys, and move positions).

* **Positions are words.**  Every key of one word sits at that word's position
  (the title from 1, the body after a gap of `GAP`, the aliases after another),
  so a phrase is ``a <-> b`` exactly, where FTS5 needs a widened ``NEAR``.
* **Two vectors per article**, ``original`` (title, body, aliases) and
  ``english`` (title_en, body_en), each with a GIN index; a query matches
  either, as ``{title body aliases} : (E) OR {title_en body_en} : (E)`` does on
  SQLite.  Titles carry weight A and count twice in ``ts_rank_cd``.
* **Kept in step** as on SQLite: a trigger on ``articles`` queues an article in
  the same transaction as the stage write that changed its text, ``ON DELETE
  CASCADE`` drops a merged article's row and queue entry, and the index stage
  replaces rows and empties the queue entries it handled in one transaction.

Where the index verdict differs from SQLite's (both are re-checked in Python by
the rules' evaluator whenever the query has a phrase, NEAR or prefix, so the
*results* agree): see `render_tsquery` and docs/search.md.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence

from ...models import (
    SearchAnd,
    SearchDoc,
    SearchFilters,
    SearchNear,
    SearchNode,
    SearchOr,
    SearchWord,
)
from .._base import StorageBase
from .._search import _filter_sql

MAX_POS = 16383  # PostgreSQL's largest tsvector position (later ones are clamped)
GAP = 210  # positions between title, body and aliases: more than MAX_NEAR + 1
MAX_VECTOR_BYTES = 512 * 1024  # lexeme text per vector (PostgreSQL refuses > 1 MB)
MAX_NEAR_TERMS = 256  # NEAR/n alternatives (2(n+2) per pair) before falling to AND
# ts_rank_cd weights {D, C, B, A}: bodies and aliases D, titles A (twice as much).
RANK_WEIGHTS = "{0.5, 0.5, 0.5, 1.0}"
WORD_JOIN = "+"  # monitor/search/_index.py: the tokens of one word


class PgSearchMixin(StorageBase):
    """SQL for ``search_docs`` and ``search_queue`` on PostgreSQL (the queue's
    reads, which are portable, come from SQLite's `SearchMixin` after this)."""

    _INDEX_TABLE = "search_docs"

    def save_search_docs(
        self, docs: Iterable[SearchDoc], handled: Sequence[int]
    ) -> None:
        """Replace the index rows of `handled` articles by `docs`, in one transaction.

        An id in `handled` without a doc (no longer extracted) is dropped from the
        index; every handled id leaves the queue.
        """
        ids = list(handled)
        rows = [(d.article_id, *build_vectors(d)) for d in docs]
        with self._tx() as db:
            db.execute("DELETE FROM search_docs WHERE article_id = ANY(?)", (ids,))
            db.execute("DELETE FROM search_queue WHERE article_id = ANY(?)", (ids,))
            if rows:
                db.executemany(
                    "INSERT INTO search_docs (article_id, original, english)"
                    " SELECT ?, ?::tsvector, ?::tsvector"
                    " WHERE EXISTS (SELECT 1 FROM articles WHERE id = ?)",
                    [(r[0], r[1], r[2], r[0]) for r in rows],
                )
            # Merge GIN's pending list now, in bulk: left to autovacuum, queries
            # after a run scanned it linearly (200-500 ms at 10k articles, not
            # under 10 ms: bench/search.py, docs/search.md).  Only the index's
            # owner may; another role leaves it to autovacuum.
            db.execute(
                "SELECT gin_clean_pending_list(c.oid) FROM pg_class c"
                " WHERE c.relname IN ('search_docs_original', 'search_docs_english')"
                " AND c.relnamespace = 'public'::regnamespace"
                " AND pg_has_role(c.relowner, 'USAGE')"
            )

    def _clear_index(self, db: sqlite3.Connection) -> None:
        """Empty the index (``--reindex``)."""
        db.execute("DELETE FROM search_docs")

    def _drop_from_index(self, db: sqlite3.Connection, article_id: int) -> None:
        """Nothing: an article's ``search_docs`` row cascades with it."""

    def search_articles(
        self,
        node: SearchNode,
        filters: SearchFilters,
        *,
        limit: int,
        offset: int = 0,
    ) -> list[tuple[int, float]]:
        """Articles matching `node` in their original or their English view.

        Returns:
            (article id, minus ts_rank_cd: lower is better, as bm25) pairs, best
            first.
        """
        where, params = _filter_sql(filters)
        params.update(q=render_tsquery(node), limit=limit, offset=offset)
        rows = self._query(
            f"""
            SELECT a.id, -greatest(
                ts_rank_cd('{RANK_WEIGHTS}', d.original, q, 1),
                ts_rank_cd('{RANK_WEIGHTS}', d.english, q, 1)) AS score
            FROM search_docs d JOIN articles a ON a.id = d.article_id,
                 CAST(:q AS tsquery) AS q
            WHERE (d.original @@ q OR d.english @@ q) {where}
            ORDER BY score, a.id LIMIT :limit OFFSET :offset
            """,
            params,
        )
        return [(int(r[0]), float(r[1])) for r in rows]

    def get_search_docs(self, article_ids: Iterable[int]) -> dict[int, SearchDoc]:
        """Nothing: the tsvectors keep no word groups (clamped positions, 256 per
        lexeme), so the search pre-filter has nothing sound to read here and
        every candidate goes to the exact check (the tsquery's ``<->`` already
        makes phrase candidates positional)."""
        del article_ids
        return {}


# ---------------------------------------------------------------- documents


def lexeme(token: str) -> str:
    """A token as a quoted tsvector/tsquery lexeme (``'`` doubled, ``\\`` escaped)."""
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


def build_vectors(doc: SearchDoc) -> tuple[str, str]:
    """The ``original`` and ``english`` tsvector literals of one `SearchDoc`."""
    original = _vector(((doc.title, "A"), (doc.body, ""), (doc.aliases, "")))
    english = _vector(((doc.title_en, "A"), (doc.body_en, "")))
    return original, english


def _vector(columns: Iterable[tuple[str, str]]) -> str:
    """Columns of space-separated words laid out one after the other, `GAP` apart."""
    positions: dict[str, list[str]] = {}
    size = 0
    start = 1
    for text, weight in columns:
        words = text.split(" ") if text else []
        for i, word in enumerate(words):
            pos = f"{min(start + i, MAX_POS)}{weight}"
            for token in word.split(WORD_JOIN) if word else ():
                if token not in positions:
                    size += len(token.encode()) + 4
                    if size > MAX_VECTOR_BYTES:
                        continue  # an absurd text: the rest is left out of the index
                    positions[token] = []
                positions[token].append(pos)
        start += len(words) + GAP
    return " ".join(f"{lexeme(t)}:{','.join(ps[:256])}" for t, ps in positions.items())


# ---------------------------------------------------------------- queries


def render_tsquery(node: SearchNode) -> str:
    """The tsquery for a `SearchNode`.

    Differences from the FTS5 rendering (monitor/store/_search.py), all on the
    side of finding more candidates, never fewer, except where noted:

    * a phrase (`SearchNear` with ``split == 0``) is ``a <-> b <-> c`` on word
      positions: exact, where FTS5 has an unordered widened NEAR;
    * ``a NEAR/n b`` between two single words is every exact distance PostgreSQL
      can say, ``a <d> b | b <d> a`` for d = 0..n+1 (0: the same word, as the
      rules' evaluator allows overlap); with a phrase on either side, or more
      than `MAX_NEAR_TERMS` alternatives, it is ``L & R`` (both sides anywhere in
      the view: a superset, made exact by the Python re-check);
    * positions past 16,383 words are clamped by PostgreSQL, so a phrase or NEAR
      deep in a very long article can be missed (FTS5 has no such limit);
    * FTS5's NEAR keeps to one column; here title, body and aliases are one
      vector `GAP` positions apart, which no phrase or NEAR bridges.
    """
    if isinstance(node, SearchWord):
        return lexeme(node.token) + (":*" if node.prefix else "")
    if isinstance(node, SearchNear):
        return _near(node)
    if isinstance(node, SearchOr):
        return "(" + " | ".join(render_tsquery(c) for c in node.children) + ")"
    return _and(node)


def _and(node: SearchAnd) -> str:
    parts = [render_tsquery(c) for c in node.children]
    parts += [f"!{render_tsquery(e)}" for e in node.excluded]
    return "(" + " & ".join(parts) + ")"


def _chain(words: Sequence[SearchWord]) -> str:
    return "(" + " <-> ".join(render_tsquery(w) for w in words) + ")"


def _near(node: SearchNear) -> str:
    if node.split == 0:
        return _chain(node.words)
    left, right = node.words[: node.split], node.words[node.split :]
    alternatives = 2 * (node.apart + 2)
    if len(left) > 1 or len(right) > 1 or alternatives > MAX_NEAR_TERMS:
        return f"({_chain(left)} & {_chain(right)})"
    a, b = render_tsquery(left[0]), render_tsquery(right[0])
    terms = [
        f"{x} <{d}> {y}" for d in range(node.apart + 2) for x, y in ((a, b), (b, a))
    ]
    return "(" + " | ".join(terms) + ")"
