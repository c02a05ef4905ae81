"""Every stage as a procrastinate job (issue #13), with real processes: `monitor
run` queues, two `monitor worker` processes drain extraction, translation (the
random-weight test model), classification, stories and the digest, and one of
them is SIGKILLed while it holds a job."""

from __future__ import annotations

import subprocess
import time
from contextlib import closing
from datetime import UTC, datetime
from datetime import time as clock
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

from monitor import queue, schedule, translate
from monitor.config import DigestConfig
from monitor.store.pg import PgStorage
from tests.sitegen import TITLES, build_site, write_config
from tests.test_pipeline_backends import MONITOR, _child_env, _monitor

FIXTURE_MODEL = "models/test-fixture/translate-ru_en-testfixture-0_0.argosmodel"


def _jobs(pg_url: str) -> dict[tuple[str, str], int]:
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute(
            "SELECT queue_name, status::text, count(*) FROM procrastinate_jobs"
            " GROUP BY 1, 2"
        ).fetchall()
    return {(str(q), str(s)): int(n) for q, s, n in rows}


def _status_of(pg_url: str, article_id: int) -> str | None:
    with psycopg.connect(pg_url) as conn:
        row = conn.execute(
            "SELECT status::text FROM procrastinate_jobs"
            " WHERE args->>'article_id' = %s",
            (str(article_id),),
        ).fetchone()
    return None if row is None else str(row[0])


def _drained(pg_url: str) -> bool:
    jobs = _jobs(pg_url)
    waiting = sum(n for (_, s), n in jobs.items() if s in ("todo", "doing"))
    return waiting == 0 and (queue.DIGEST, "succeeded") in jobs


def _until(done, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def test_two_workers_one_killed_drain_every_stage_and_write_the_digest_once(
    http_server, tmp_path, pg_url, shared_dir
):
    # articles of the local day whose digest is due now (yesterday, in Almaty)
    now = datetime.now(UTC)
    day = schedule.digest_days_due(now, {}, DigestConfig())[-1]
    published = datetime.combine(day, clock(12), tzinfo=ZoneInfo("Asia/Almaty"))
    site = build_site(http_server, ["protest", "energy", "court"], published)
    write_config(tmp_path, [("kz-news", site.feed_url, "ru")])
    translate.install_from_path(shared_dir / FIXTURE_MODEL, tmp_path / "models")
    env = {"MONITOR_STORE_URL": pg_url, "MONITOR_QUEUE_ENABLED": "1"}

    done = _monitor(tmp_path, env, "run", "-q")
    assert done.returncode == 0, done.stderr
    queued = _jobs(pg_url)
    assert queued == {
        ("extract", "todo"): 3,
        ("translate", "todo"): 1,
        ("classify", "todo"): 1,
        ("stories", "todo"): 1,
        ("digest", "todo"): 1,
    }
    assert not (tmp_path / "digests").exists()  # the run itself wrote nothing
    with closing(PgStorage(pg_url)) as storage:
        slow = min(a.id for a, _ in storage.get_articles_needing_extraction(10))
        slug = storage.get_article(slow).url.rsplit("/", 1)[-1].split("?")[0]
    http_server.slow_down(f"/news/{slug}", 4.0)  # under fetch.timeout (5 s)

    def worker(name: str) -> tuple[subprocess.Popen[str], Path]:
        log = tmp_path / f"{name}.log"
        with log.open("w") as err:  # -v: the INFO lines name each digest written
            proc = subprocess.Popen(
                [MONITOR, "worker", "-v", "--config", str(tmp_path)],
                env=_child_env(env),
                stdout=subprocess.DEVNULL,
                stderr=err,
                text=True,
            )
        return proc, log

    doomed, doomed_log = worker("doomed")
    _until(lambda: _status_of(pg_url, slow) == "doing", 120, "no worker took the job")
    survivor, survivor_log = worker("survivor")
    try:
        doomed.kill()  # SIGKILL mid-job: its page is still being fetched
        doomed.wait()
        _until(lambda: _drained(pg_url), 240, f"not drained: {_jobs(pg_url)}")
    finally:
        survivor.terminate()  # SIGTERM: procrastinate stops after the current job
        survivor.wait(timeout=60)
    logs = doomed_log.read_text() + survivor_log.read_text()
    assert survivor.returncode == 0, logs
    assert "status=stalled requeued (its worker died)" in logs

    with closing(PgStorage(pg_url)) as storage:
        stages = storage.get_stage_counts()
        assert stages["extract"] == {"done": 3}, stages
        assert stages["classify"] == {"done": 3}, stages
        assert stages["stories"] == {"done": 3}, stages
        arts = storage.get_articles(range(1, 9))
        assert {a.title for a in arts} == set(TITLES.values())
        # random weights: the guards reject much of the output, but every
        # article went through the model (none left pending, none "no_model")
        assert {a.translation_status.value for a in arts} <= {"done", "partial"}
        assert all(a.story_id is not None for a in arts)
        assert set(storage.get_daily_digest_times()) == {day}
    assert logs.count(f"digest day={day} status=written") == 1, logs
    (html,) = (tmp_path / "digests").rglob(f"{day}.html")
    text = html.read_text(encoding="utf-8")
    assert all(title in text for title in TITLES.values())  # after the drain

    # a second run queues the sweeps again, but no digest: the day is done
    assert _monitor(tmp_path, env, "run", "-q").returncode == 0
    assert _jobs(pg_url).get(("digest", "todo")) is None


def test_a_due_digest_waits_for_the_upstream_queues_but_not_forever():
    assert queue.digest_should_wait(busy_upstream=2, waits=0)
    assert not queue.digest_should_wait(busy_upstream=0, waits=0)
    assert not queue.digest_should_wait(busy_upstream=2, waits=queue.DIGEST_MAX_WAITS)


def test_worker_refuses_an_unknown_stage(tmp_path):
    write_config(tmp_path, [("a", "http://127.0.0.1:9/rss", "ru")])
    done = _monitor(tmp_path, {}, "worker", "--once", "--stages", "extract,poll")
    assert done.returncode == 2
    assert "poll: choose from extract, translate, classify, stories, digest" in (
        done.stderr
    )


def test_a_worker_takes_only_the_stages_it_is_given(http_server, tmp_path, pg_url):
    site = build_site(http_server, ["protest", "energy"], datetime.now(UTC))
    write_config(tmp_path, [("kz-news", site.feed_url, "ru")])
    env = {"MONITOR_STORE_URL": pg_url, "MONITOR_QUEUE_ENABLED": "1"}
    assert _monitor(tmp_path, env, "run", "-q").returncode == 0
    done = _monitor(tmp_path, env, "worker", "--once", "-q", "--stages", "extract")
    assert done.returncode == 0, done.stderr
    jobs = _jobs(pg_url)
    assert jobs[("extract", "succeeded")] == 2
    # the extractions found the translate sweep waiting: still one, not run
    assert jobs[("translate", "todo")] == 1
    assert ("translate", "succeeded") not in jobs
    with closing(PgStorage(pg_url)) as storage:
        stages = storage.get_stage_counts()
        assert stages["extract"] == {"done": 2}
        assert stages["classify"] == {"pending": 2}, stages


class _NoRunner:
    """A runner for a test that only queues and takes jobs: running one is a bug."""

    def extract(self, article_id: int) -> None:
        raise AssertionError("not run here")

    def sweep(self, stage: str) -> None:
        raise AssertionError("not run here")

    def digest_days_due(self) -> list:
        raise AssertionError("not run here")

    def digest(self, day) -> bool:
        raise AssertionError("not run here")


def test_one_story_clusterer_at_a_time_and_one_waiting(tmp_path, pg_url):
    """The stories sweep's lock and queueing lock, on real procrastinate: while one
    runs, a second may wait, but no worker can take it; a third never queues."""
    import asyncio

    from monitor.config import load_config

    write_config(tmp_path, [("a", "http://127.0.0.1:9/rss", "ru")])
    cfg = load_config(tmp_path, env={"MONITOR_STORE_URL": pg_url})
    app = queue.make_app(cfg, _NoRunner())
    with app.open():
        queue.ensure_schema(app)
        assert queue.defer_sweep(app, "stories")
        assert not queue.defer_sweep(app, "stories")  # one waits already

    async def take_twice() -> tuple[object, object]:
        async with app.open_async():
            manager = app.job_manager
            worker_id = await manager.register_worker()
            first = await manager.fetch_job(queues=["stories"], worker_id=worker_id)
            # the first is running: a new one may wait (deferred from a thread,
            # as a worker's job defers it), but only one
            assert await asyncio.to_thread(queue.defer_sweep, app, "stories")
            assert not await asyncio.to_thread(queue.defer_sweep, app, "stories")
            # ... but no worker takes it while the first holds the lock
            second = await manager.fetch_job(queues=["stories"], worker_id=worker_id)
            return first, second

    first, second = asyncio.run(take_twice())
    assert first is not None
    assert second is None
    assert _jobs(pg_url) == {("stories", "doing"): 1, ("stories", "todo"): 1}
