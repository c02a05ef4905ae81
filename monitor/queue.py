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

import asyncio
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
# Workers beat every HEARTBEAT seconds; a worker silent for STALLED_AFTER is dead
# (SIGKILL, a lost machine) and the job it held is queued again.
HEARTBEAT = 2.0
STALLED_AFTER = 10.0


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


def queue_status(app: procrastinate.App) -> dict[str, object]:
    """Jobs per queue and status, and the workers beating now (`monitor status`).

    A job that failed every one of its attempts stays ``failed``: it is not
    tried again, and its article stays pending for the next run's jobs.
    """
    connector = app.connector.get_sync_connector()
    rows = connector.execute_query_all(
        "SELECT queue_name, status::text AS status, count(*) AS n"
        " FROM procrastinate_jobs GROUP BY 1, 2 ORDER BY 1, 2"
    )
    jobs: dict[str, dict[str, int]] = {}
    for r in rows:
        jobs.setdefault(str(r["queue_name"]), {})[str(r["status"])] = int(r["n"])
    live = connector.execute_query_one(
        "SELECT count(*) AS n FROM procrastinate_workers"
        " WHERE last_heartbeat > now() - make_interval(secs => %(secs)s)",
        secs=STALLED_AFTER,
    )
    return {"jobs": jobs, "live_workers": int(live["n"])}


def run_worker(app: procrastinate.App, *, concurrency: int, once: bool) -> None:
    """Process jobs until stopped (SIGINT/SIGTERM), or until none is left.

    Jobs held by dead workers are queued again when this worker starts, and then
    every `STALLED_AFTER` seconds while it runs.
    """
    asyncio.run(_work(app, concurrency=concurrency, once=once))


async def _work(app: procrastinate.App, *, concurrency: int, once: bool) -> None:
    async with app.open_async():
        await recover_stalled_jobs(app)
        recovering = asyncio.create_task(_recover_forever(app))
        try:
            await app.run_worker_async(
                queues=[EXTRACT_QUEUE],
                concurrency=concurrency,
                wait=not once,
                install_signal_handlers=True,
                update_heartbeat_interval=HEARTBEAT,
                stalled_worker_timeout=STALLED_AFTER,
            )
        finally:
            recovering.cancel()


async def recover_stalled_jobs(app: procrastinate.App) -> int:
    """Queue again every job whose worker stopped beating; returns how many."""
    stalled = list(
        await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER)
    )
    for job in stalled:
        logger.warning("job=%s status=stalled requeued (its worker died)", job.id)
        await app.job_manager.retry_job(job)
    return len(stalled)


async def _recover_forever(app: procrastinate.App) -> None:
    while True:
        await asyncio.sleep(STALLED_AFTER)
        await recover_stalled_jobs(app)
