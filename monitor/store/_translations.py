"""Storage methods for the translations domain (issue #3).

The sentence cache (`translation_cache`) and the translation columns of
`articles`.  `get_cached_translations` / `add_cached_translations` make
`Storage` a ``monitor.translate.TranslationCache``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from ..models import (  # TranslationTask: re-exported
    Translation,
    TranslationStatus,
    TranslationTask,
)
from ._base import StorageBase, require_row, reset_sql, to_db_time

_CHUNK = 500  # keys per IN (...) query, well under SQLite's variable limit
_TASK_SELECT = (
    "SELECT id, title, coalesce(text, '') AS text, lang, translation_status"
    " FROM articles"
)


class TranslationsMixin(StorageBase):
    """SQL for translations (tables: see _schema.SCHEMA)."""

    def get_cached_translations(
        self, model: str, keys: Sequence[str]
    ) -> dict[str, str]:
        """Return {key: output} for the cached keys of `model`."""
        out: dict[str, str] = {}
        for start in range(0, len(keys), _CHUNK):
            chunk = list(keys[start : start + _CHUNK])
            marks = ",".join("?" * len(chunk))
            rows = self._query(
                "SELECT key, output FROM translation_cache"
                f" WHERE model = ? AND key IN ({marks})",
                (model, *chunk),
            )
            out.update((row["key"], row["output"]) for row in rows)
        return out

    def add_cached_translations(
        self, model: str, items: Mapping[str, str], now: datetime
    ) -> None:
        """Store {key: output} for `model` in one transaction (upsert)."""
        at = to_db_time(now)
        with self._tx() as db:
            db.executemany(
                "INSERT INTO translation_cache (key, model, output, created_at)"
                " VALUES (?, ?, ?, ?)"
                " ON CONFLICT(key) DO UPDATE SET output = excluded.output,"
                " model = excluded.model, created_at = excluded.created_at",
                [(key, model, output, at) for key, output in items.items()],
            )

    def prune_translation_cache(self, before: datetime, *, limit: int) -> int:
        """Drop at most ``limit`` cached sentences stored before ``before``, oldest
        first, in one transaction (an index range on ``created_at``).

        Returns:
            How many were dropped.
        """
        with self._tx() as db:
            cur = db.execute(
                "DELETE FROM translation_cache WHERE key IN (SELECT key"
                " FROM translation_cache WHERE created_at < ?"
                " ORDER BY created_at LIMIT ?)",
                (to_db_time(before), limit),
            )
        return int(cur.rowcount)

    def count_cached_translations(self, model: str | None = None) -> int:
        """Number of cached sentences (for `model`, or all)."""
        if model is None:
            row = self._one("SELECT count(*) FROM translation_cache")
        else:
            row = self._one(
                "SELECT count(*) FROM translation_cache WHERE model = ?", (model,)
            )
        return int(row[0]) if row else 0

    def get_articles_for_translation(
        self, covered: Collection[str], limit: int, *, max_attempts: int | None = None
    ) -> list[TranslationTask]:
        """Extracted articles that need translating, pending ones first.

        Args:
            covered: source languages the current translator has a model for;
                NO_MODEL articles in these languages are selected again (a model
                appeared since), as are FAILED ones.
            limit: at most this many.
            max_attempts: a FAILED article that has failed this many times is
                parked: no longer selected (None: always selected again).
        """
        langs = sorted(covered)
        # Each arm seeks articles_translate_queue, so a run reads the rows it
        # will work on, not the archive (issue #19).
        rows = self._query(
            f"{_TASK_SELECT} WHERE translation_status = 'pending'"
            " AND extract_status = 'done' ORDER BY id LIMIT ?",
            (limit,),
        )
        if len(rows) < limit:
            rows += self._retries(langs, max_attempts, limit - len(rows))
        return [
            TranslationTask(
                article_id=row["id"],
                title=row["title"],
                text=row["text"],
                lang=row["lang"],
                status=TranslationStatus(row["translation_status"]),
            )
            for row in rows
        ]

    def _retries(
        self, langs: list[str], max_attempts: int | None, limit: int
    ) -> list[Any]:
        """FAILED articles still under the cap, and NO_MODEL ones in ``langs``."""
        cap = -1 if max_attempts is None else max_attempts
        sql = (
            f"{_TASK_SELECT} WHERE translation_status = 'failed'"
            " AND extract_status = 'done' AND (? < 0 OR attempts < ?)"
        )
        params: list[Any] = [cap, cap]
        if langs:  # a language with no model is no work: do not read its rows
            marks = ",".join("?" * len(langs))
            sql += (
                f" UNION ALL {_TASK_SELECT} WHERE translation_status = 'no_model'"
                f" AND extract_status = 'done' AND lang IN ({marks})"
            )
            params += langs
        return self._query(f"{sql} ORDER BY id LIMIT ?", (*params, limit))

    def save_translation(
        self, article_id: int, translation: Translation, now: datetime
    ) -> None:
        """Record an article's translation outcome.

        Raises:
            NotFoundError: there is no article ``article_id``.
        """
        with self._tx() as db:
            cur = db.execute(
                "UPDATE articles SET translation_status = :status, title_en = :title,"
                " text_en = :text, translation_engine = :engine,"
                " translation_note = :note,"
                " translation_flagged = :flagged,"
                # the translator's language check refines a feed's label (Kazakh
                # text labelled ru): keep it, so a NO_MODEL row is selected again
                # only when a model for its real language appears
                " lang = coalesce(nullif(:src, ''), lang),"
                # rules also read the English text: file the article again
                f" updated_at = :now{reset_sql('translate')} WHERE id = :id",
                {
                    "status": translation.status.value,
                    "title": translation.title,
                    "text": translation.text,
                    "engine": translation.engine,
                    "note": translation.note,
                    "flagged": int(translation.flagged),
                    "src": translation.src,
                    "now": to_db_time(now),
                    "id": article_id,
                },
            )
            require_row(cur.rowcount, "article", article_id)

    def set_translation_status(
        self,
        article_id: int,
        status: TranslationStatus,
        note: str | None,
        now: datetime,
    ) -> None:
        """Set an article's translation status only (e.g. FAILED with a note)."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE articles SET translation_status = ?, translation_note = ?,"
                " updated_at = ? WHERE id = ?",
                (status.value, note, to_db_time(now), article_id),
            )
            require_row(cur.rowcount, "article", article_id)
