"""Workers on a task queue (issue #13 part 3): procrastinate.

With ``[queue] enabled`` on a PostgreSQL store, `monitor run` polls as always
and queues the rest; `monitor worker`, on any machine that reaches the
database, does it.  Every stage is a job that runs the pipeline's own stage
(same fallbacks, per-item isolation, parking after ``fetch.max_attempts``):

    monitor run      poll ─▶ extract_article(id)*  + translate, classify, stories
    extract_article  one article's fetch + extraction ─▶ defer translate
    translate        every article pending translation (batched) ─▶ defer classify
    classify         every article pending filing ─▶ defer stories
    stories          every article pending a story ─▶ defer digest(day) if due
    digest(day)      once the upstream queues are empty: the day's digest, once

The stage jobs (translate, classify, stories) are *sweeps*: each selects what
still needs its stage through the storage contract, so running one twice, or
again after its worker died, does nothing twice.  Each is queued with a
queueing lock (at most one waits: a burst of 500 extractions queues one
translate job, which then batches across all of them) and a lock (at most one
runs, on any machine).  The lock is what keeps them correct: a sweep's
selection is not a claim, so two running at once would translate the same
articles twice, and two story clusterers would each compare against a window
that lacks the other's new stories and split one event into two stories.
The digest of a day has a queueing lock per day and re-checks
`schedule.digest_days_due` when it runs, so it is written once.

``ITEM_ERRORS`` are recorded on the article and the job succeeds;
``FATAL_ERRORS`` and bugs fail the job, which procrastinate retries a bounded
number of times.  A worker that dies holding a job (SIGKILL, a lost machine)
stops beating; its job is queued again (`recover_stalled_jobs`).

This is the only module that imports procrastinate.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Protocol

import procrastinate

from .config import Config
from .models import RunSummary

logger = logging.getLogger(__name__)

EXTRACT_QUEUE = "extract"
EXTRACT_TASK = "monitor.extract_article"
SWEEP_TASK = "monitor.sweep"
DIGEST_TASK = "monitor.digest"
# The sweeps, in pipeline order: each one's success queues the next.
SWEEPS = ("translate", "classify", "stories")
DIGEST = "digest"
STAGES = (EXTRACT_QUEUE, *SWEEPS, DIGEST)  # also the queue names
# Workers take extractions before sweeps: the sweep that waits meanwhile then
# covers (and translation batches across) every article extracted so far, rather
# than one sweep per extraction.
EXTRACT_PRIORITY = 1
# A job whose run failed (the database went away, a bug) is tried this often.
JOB_ATTEMPTS = 3
JOB_RETRY_WAIT = 5  # seconds
# Workers beat every HEARTBEAT seconds; a worker silent for STALLED_AFTER is dead
# (SIGKILL, a lost machine) and the job it held is queued again.
HEARTBEAT = 2.0
STALLED_AFTER = 10.0
# A due digest waits for the upstream queues to drain, checking this often, but
# no more than DIGEST_MAX_WAITS times (a queue that never drains cannot starve it).
DIGEST_RECHECK = 2  # seconds
DIGEST_MAX_WAITS = 300


class StageRunner(Protocol):
    """What a job runs: the pipeline's stages, each on a fresh pipeline."""

    def extract(self, article_id: int) -> None: ...

    def sweep(self, stage: str) -> None: ...

    def digest_days_due(self) -> list[date]: ...

    def digest(self, day: date) -> bool: ...


def digest_should_wait(busy_upstream: int, waits: int) -> bool:
    """Whether a due digest waits for more work first (pure: the counts come in).

    Args:
        busy_upstream: jobs still waiting or running in the queues before it.
        waits: how often this digest has waited already.
    """
    return busy_upstream > 0 and waits < DIGEST_MAX_WAITS


def make_app(cfg: Config, runner: StageRunner) -> procrastinate.App:
    """The procrastinate app on the configured PostgreSQL store.

    Args:
        cfg: a configuration whose ``store.url`` is set (config validation
            refuses ``queue.enabled`` otherwise).
        runner: runs the stages (the worker's pipeline).
    """
    assert cfg.store.url is not None
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=cfg.store.url)
    )
    retry = procrastinate.RetryStrategy(max_attempts=JOB_ATTEMPTS, wait=JOB_RETRY_WAIT)

    @app.task(
        name=EXTRACT_TASK, queue=EXTRACT_QUEUE, retry=retry, priority=EXTRACT_PRIORITY
    )
    def extract_article(article_id: int) -> None:
        runner.extract(article_id)
        defer_sweep(app, SWEEPS[0])

    @app.task(name=SWEEP_TASK, queue=SWEEPS[0], retry=retry)
    def sweep(stage: str) -> None:
        runner.sweep(stage)
        later = SWEEPS.index(stage) + 1
        if later < len(SWEEPS):
            defer_sweep(app, SWEEPS[later])
        else:
            enqueue_digests(app, runner.digest_days_due())

    @app.task(name=DIGEST_TASK, queue=DIGEST, retry=retry)
    def write_digest(day: str, waits: int) -> None:
        if digest_should_wait(_busy_upstream(app), waits):
            _defer_digest(app, day, waits + 1, schedule_in=DIGEST_RECHECK)
            return
        written = runner.digest(date.fromisoformat(day))
        logger.info("digest day=%s status=%s", day, "written" if written else "done")

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


def defer_sweep(app: procrastinate.App, stage: str) -> bool:
    """Queue the sweep of one stage unless one already waits; True if queued.

    One waiting is enough: it has not selected its articles yet, so it will
    see everything stored before it starts.
    """
    try:
        app.tasks[SWEEP_TASK].configure(
            queue=stage, lock=stage, queueing_lock=stage
        ).defer(stage=stage)
    except procrastinate.exceptions.AlreadyEnqueued:
        return False
    return True


def enqueue_sweeps(app: procrastinate.App, summary: RunSummary) -> None:
    """`monitor run`: a sweep of every stage, for work no job is carrying yet
    (articles stored by an older run, or whose jobs failed every attempt)."""
    for stage in SWEEPS:
        summary.add("jobs_queued" if defer_sweep(app, stage) else "jobs_already_queued")


def enqueue_digests(app: procrastinate.App, days: Iterable[date]) -> int:
    """Queue the digest of each due day, once (a queueing lock per day);
    returns how many were queued."""
    return sum(_defer_digest(app, day.isoformat(), 0) for day in days)


def _defer_digest(
    app: procrastinate.App, day: str, waits: int, *, schedule_in: int | None = None
) -> bool:
    deferrer = app.tasks[DIGEST_TASK].configure(
        lock=DIGEST,
        queueing_lock=f"{DIGEST}:{day}",
        schedule_in=None if schedule_in is None else {"seconds": schedule_in},
    )
    try:
        deferrer.defer(day=day, waits=waits)
    except procrastinate.exceptions.AlreadyEnqueued:
        return False  # that day's digest already waits
    return True


def _busy_upstream(app: procrastinate.App) -> int:
    """Jobs still waiting or running in the stages before the digest."""
    row = app.connector.get_sync_connector().execute_query_one(
        "SELECT count(*) AS n FROM procrastinate_jobs"
        " WHERE status IN ('todo', 'doing') AND queue_name = ANY(%(queues)s)",
        queues=[EXTRACT_QUEUE, *SWEEPS],
    )
    return int(row["n"])


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


def run_worker(
    app: procrastinate.App,
    *,
    stages: Sequence[str] = STAGES,
    concurrency: int,
    once: bool,
) -> None:
    """Process the jobs of ``stages`` until stopped (SIGINT/SIGTERM), or until
    none is left.

    Jobs held by dead workers are queued again when this worker starts, and then
    every `STALLED_AFTER` seconds while it runs.
    """
    asyncio.run(_work(app, list(stages), concurrency=concurrency, once=once))


async def _work(
    app: procrastinate.App, queues: list[str], *, concurrency: int, once: bool
) -> None:
    async with app.open_async():
        await recover_stalled_jobs(app)
        recovering = asyncio.create_task(_recover_forever(app))
        try:
            await app.run_worker_async(
                queues=queues,
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
