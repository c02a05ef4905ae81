"""Storage methods for runs, failures and the `monitor status` report."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ._base import StorageBase, from_db_time, to_db_time

# Failures older than the newest this-many are pruned: status shows recent ones.
FAILURES_KEPT = 5000


@dataclass(frozen=True, slots=True, kw_only=True)
class Failure:
    at: datetime
    stage: str
    resource: str
    error: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RunInfo:
    id: int
    started_at: datetime
    finished_at: datetime | None
    summary: dict[str, Any]


class RunsMixin(StorageBase):
    """SQL for `runs` and `failures`, plus the aggregate counts `status` shows."""

    def start_run(self, now: datetime) -> int:
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO runs (started_at) VALUES (?)", (to_db_time(now),)
            )
            return int(cur.lastrowid or 0)

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
        rows = self._query("SELECT * FROM failures ORDER BY id DESC LIMIT ?", (limit,))
        return [
            Failure(
                at=from_db_time(r["at"]),  # type: ignore[arg-type]
                stage=r["stage"],
                resource=r["resource"],
                error=r["error"],
            )
            for r in rows
        ]

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
        """Articles per status for each stage, e.g. {"extract": {"done": 10}}."""
        out: dict[str, dict[str, int]] = {}
        for stage, column in (
            ("extract", "extract_status"),
            ("translate", "translation_status"),
            ("classify", "classify_status"),
            ("stories", "story_status"),
        ):
            rows = self._query(
                f"SELECT {column} AS s, count(*) AS n FROM articles GROUP BY {column}"
            )
            out[stage] = {r["s"]: r["n"] for r in rows}
        row = self._one("SELECT count(*) AS n FROM articles")
        out["articles"] = {"total": row["n"] if row else 0}
        return out
