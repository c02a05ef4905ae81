"""Storage methods for runs, failures and the `monitor status` report."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from ..models import Failure, PageHealth, RunInfo  # Failure, RunInfo: re-exported
from ._base import StorageBase, from_db_time, to_db_time
from ._counts import STATUS_COLUMNS

# Failures older than the newest this-many are pruned: status shows recent ones.
FAILURES_KEPT = 5000
# Page fetches older than this are pruned: health looks back 24 hours.
PAGE_FETCHES_KEPT = timedelta(days=7)


class RunsMixin(StorageBase):
    """SQL for `runs` and `failures`, plus the aggregate counts `status` shows."""

    def start_run(self, now: datetime) -> int:
        with self._tx() as db:
            row = db.execute(
                "INSERT INTO runs (started_at) VALUES (?) RETURNING id",
                (to_db_time(now),),
            ).fetchone()
            return int(row[0])

    def finish_run(self, run_id: int, summary: dict[str, int], now: datetime) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET finished_at = ?, summary = ? WHERE id = ?",
                (to_db_time(now), json.dumps(summary, sort_keys=True), run_id),
            )

    def add_failure(self, stage: str, resource: str, error: str, now: datetime) -> None:
        """Record a failure where `monitor status` shows it."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO failures (at, stage, resource, error) VALUES (?, ?, ?, ?)",
                (to_db_time(now), stage, resource, error),
            )
            db.execute(
                "DELETE FROM failures WHERE id <= (SELECT max(id) FROM failures) - ?",
                (FAILURES_KEPT,),
            )

    def get_recent_failures(self, limit: int = 20) -> list[Failure]:
        """The latest failures, each distinct (stage, resource, error) once.

        A page retried on three runs is one entry with ``count=3`` and the time
        of its latest occurrence; newest first.
        """
        rows = self._query(
            "SELECT stage, resource, error, max(id) AS last_id, max(at) AS at,"
            " count(*) AS n FROM failures GROUP BY stage, resource, error"
            " ORDER BY last_id DESC LIMIT ?",
            (limit,),
        )
        return [
            Failure(
                at=from_db_time(r["at"]),  # type: ignore[arg-type]
                stage=r["stage"],
                resource=r["resource"],
                error=r["error"],
                count=r["n"],
            )
            for r in rows
        ]

    def add_page_fetch(self, feed_name: str, *, ok: bool, now: datetime) -> None:
        """Record one article-page fetch of ``feed_name``'s (for `get_page_health`)."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO page_fetches (at, feed_name, ok) VALUES (?, ?, ?)",
                (to_db_time(now), feed_name, int(ok)),
            )
            db.execute(
                "DELETE FROM page_fetches WHERE at < ?",
                (to_db_time(now - PAGE_FETCHES_KEPT),),
            )

    def get_page_health(self, start: datetime, end: datetime) -> dict[str, PageHealth]:
        """Page fetches attempted and failed per feed in ``[start, end]``.

        Both ends inclusive: times are stored to the second, so a fetch in the
        same second as `end` (a `status` right after a run) still counts.
        """
        rows = self._query(
            "SELECT feed_name, count(*) AS attempted,"
            " sum(CASE WHEN ok = 0 THEN 1 ELSE 0 END) AS failed"
            " FROM page_fetches WHERE at >= ? AND at <= ?"
            " GROUP BY feed_name ORDER BY feed_name",
            (to_db_time(start), to_db_time(end)),
        )
        return {
            r["feed_name"]: PageHealth(attempted=r["attempted"], failed=r["failed"])
            for r in rows
        }

    def get_last_run(self) -> RunInfo | None:
        row = self._one("SELECT * FROM runs ORDER BY id DESC LIMIT 1")
        if row is None:
            return None
        return RunInfo(
            id=row["id"],
            started_at=from_db_time(row["started_at"]),  # type: ignore[arg-type]
            finished_at=from_db_time(row["finished_at"]),
            summary=json.loads(row["summary"]) if row["summary"] else {},
        )

    def get_stage_counts(self) -> dict[str, dict[str, int]]:
        """Articles per status for each stage, e.g. {"extract": {"done": 10}}.

        Read from the counters the triggers keep (monitor/store/_counts.py): a
        dozen rows whatever the archive holds.
        """
        out: dict[str, dict[str, int]] = {stage: {} for stage, _ in STATUS_COLUMNS}
        total = 0
        for stage, status, n in self._counters():
            if stage == "articles":
                total = n
            elif stage in out and n:
                out[stage][status] = n
        out["articles"] = {"total": total}
        return out

    def _counters(self) -> list[tuple[str, str, int]]:
        rows = self._query("SELECT stage, status, n FROM status_counts")
        return [(r["stage"], r["status"], int(r["n"])) for r in rows]
