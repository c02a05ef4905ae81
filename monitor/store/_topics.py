"""Storage methods for topic and country filings (issue #4)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable

from ..models import Article, TopicMatch, Topics
from ._articles import _ARTICLE_SELECT, _article
from ._base import StorageBase, to_json


class TopicsMixin(StorageBase):
    """SQL for `filings`: one row per (article, facet, label) with its explanation."""

    def replace_filings(self, article_id: int, topics: Topics) -> None:
        """Replace an article's filings and mark it classified, in one transaction."""
        self.save_filings([(article_id, topics)])

    def save_filings(self, filings: Iterable[tuple[int, Topics]]) -> None:
        """Replace the filings of many articles in one transaction (a batch)."""
        with self._tx() as db:
            for article_id, topics in filings:
                _replace(db, article_id, topics)

    def get_filings(self, article_id: int) -> Topics:
        """An article's stored filings, topics first, best score first."""
        return self.get_filings_for([article_id]).get(article_id, Topics())

    def get_filings_for(self, article_ids: Iterable[int]) -> dict[int, Topics]:
        """Filings of many articles (for the digest), keyed by article id."""
        ids = list(article_ids)
        out: dict[int, list[TopicMatch]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._query(
                f"SELECT * FROM filings WHERE article_id IN ({marks})"
                " ORDER BY article_id, facet DESC, score DESC, label",
                tuple(chunk),
            )
            for row in rows:
                out.setdefault(row["article_id"], []).append(_match(row))
        return {k: Topics(labels=tuple(v)) for k, v in out.items()}

    def get_article_ids_for_label(self, facet: str, label: str) -> list[int]:
        """Ids of the articles filed under one label, newest first."""
        rows = self._query(
            "SELECT article_id FROM filings WHERE facet = ? AND label = ?"
            " ORDER BY article_id DESC",
            (facet, label),
        )
        return [int(r[0]) for r in rows]

    def count_filings(self) -> dict[tuple[str, str], int]:
        """Articles per (facet, label), for `monitor status`."""
        rows = self._query(
            "SELECT facet, label, count(*) FROM filings GROUP BY facet, label"
        )
        return {(r[0], r[1]): int(r[2]) for r in rows}

    def get_articles_to_classify(
        self, *, after_id: int = 0, limit: int = 500, pending_only: bool = True
    ) -> list[Article]:
        """Extracted articles with id > `after_id`, in id order (keyset pagination).

        Args:
            after_id: last id of the previous batch.
            limit: batch size.
            pending_only: only articles whose classify_status is 'pending'.
        """
        pending = " AND a.classify_status = 'pending'" if pending_only else ""
        rows = self._query(
            _ARTICLE_SELECT + " WHERE a.extract_status = 'done' AND a.id > ?"
            f"{pending} ORDER BY a.id LIMIT ?",
            (after_id, limit),
        )
        return [_article(r) for r in rows]


def _replace(db: sqlite3.Connection, article_id: int, topics: Topics) -> None:
    db.execute("DELETE FROM filings WHERE article_id = ?", (article_id,))
    db.executemany(
        "INSERT INTO filings (article_id, facet, label, score, rule, terms, matched)"
        " VALUES (:id, :facet, :label, :score, :rule, :terms, :matched)"
        " ON CONFLICT(article_id, facet, label) DO UPDATE SET score = excluded.score,"
        " rule = excluded.rule, terms = excluded.terms, matched = excluded.matched",
        [
            {
                "id": article_id,
                "facet": m.facet,
                "label": m.label,
                "score": m.score,
                "rule": m.rule,
                "terms": to_json(list(m.terms)),
                "matched": to_json(list(m.matched)),
            }
            for m in topics.labels
        ],
    )
    db.execute(
        "UPDATE articles SET classify_status = 'done' WHERE id = ?", (article_id,)
    )


def _match(row: sqlite3.Row) -> TopicMatch:
    return TopicMatch(
        facet=row["facet"],
        label=row["label"],
        score=float(row["score"]),
        rule=row["rule"],
        terms=tuple(json.loads(row["terms"])),
        matched=tuple(json.loads(row["matched"])),
    )
