"""Workers on a task queue (issue #13 part 4, first slice): procrastinate.

With ``[queue] enabled`` on a PostgreSQL store, `monitor run` polls as always
and, instead of extracting, enqueues one job per pending article.  `monitor
worker`, on any machine that reaches the database, takes jobs and runs the
pipeline's own extraction for that article: the same fetch, fallbacks,
per-item isolation (``ITEM_ERRORS`` are recorded on the article and the job
succeeds; ``FATAL_ERRORS`` and bugs fail the job, which procrastinate retries
a bounded number of times) and parking after ``fetch.max_attempts``.  The
other stages (translate, classify, index, stories, digest) still run inside
`monitor run`, on what the workers have extracted so far.

This is the only module that imports procrastinate.  A job is queued with a
queueing lock per article, so a second `monitor run` while it waits does not
queue it twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import procrastinate

from .config import Config
from .models import RunSummary

logger = logging.getLogger(__name__)

EXTRACT_QUEUE = "extract"
EXTRACT_TASK = "monitor.extract_article"
# A job whose run failed (the database went away, a bug) is tried this often.
JOB_ATTEMPTS = 3
JOB_RETRY_WAIT = 5  # seconds


def make_app(cfg: Config, run_extract: Callable[[int], None]) -> procrastinate.App:
    """The procrastinate app on the configured PostgreSQL store.

    Args:
        cfg: a configuration whose ``store.url`` is set (config validation
            refuses ``queue.enabled`` otherwise).
        run_extract: extracts one article (the worker's pipeline).
    """
    assert cfg.store.url is not None
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=cfg.store.url)
    )

    @app.task(
        name=EXTRACT_TASK,
        queue=EXTRACT_QUEUE,
        retry=procrastinate.RetryStrategy(
            max_attempts=JOB_ATTEMPTS, wait=JOB_RETRY_WAIT
        ),
    )
    def extract_article(article_id: int) -> None:
        run_extract(article_id)

    return app


def ensure_schema(app: procrastinate.App) -> None:
    """Create procrastinate's tables on first use (they live beside ours)."""
    row = app.connector.get_sync_connector().execute_query_one(
        "SELECT to_regclass('procrastinate_jobs') IS NOT NULL AS present"
    )
    if not row["present"]:
        app.schema_manager.apply_schema()


def enqueue_extraction(
    app: procrastinate.App, article_ids: list[int], summary: RunSummary
) -> None:
    """Queue one extraction job per article; one already queued is left alone."""
    task = app.tasks[EXTRACT_TASK]
    for article_id in article_ids:
        try:
            task.configure(queueing_lock=f"extract:{article_id}").defer(
                article_id=article_id
            )
            summary.add("jobs_queued")
        except procrastinate.exceptions.AlreadyEnqueued:
            summary.add("jobs_already_queued")
    logger.info("queued stage=extract articles=%d", len(article_ids))


def pending_jobs(app: procrastinate.App) -> dict[str, int]:
    """Jobs waiting or running, per queue (for tests and `status`)."""
    rows = app.connector.get_sync_connector().execute_query_all(
        "SELECT queue_name, count(*) AS n FROM procrastinate_jobs"
        " WHERE status IN ('todo', 'doing') GROUP BY queue_name"
    )
    return {str(r["queue_name"]): int(r["n"]) for r in rows}


def run_worker(app: procrastinate.App, *, concurrency: int, once: bool) -> None:
    """Process jobs until stopped (SIGINT/SIGTERM), or until none is left."""
    app.run_worker(
        queues=[EXTRACT_QUEUE],
        concurrency=concurrency,
        wait=not once,
        install_signal_handlers=True,
    )
