"""PostgreSQL going away under real processes (issue #13 part 4): the server is
stopped or restarted while the installed `monitor run` fetches slow pages from a
127.0.0.1 site.  These tests take the server down, so they run on a cluster of
their own, not the suite's shared one."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import closing

import pytest

from monitor import queue
from monitor.store.pg import PgStorage
from tests.pgcluster import PgCluster, running_cluster, temporary_database
from tests.sitegen import NOW, build_site, write_config
from tests.test_pipeline_backends import MONITOR, _child_env, _monitor

SLUGS = ["protest", "energy", "court"]
PAGE_SECONDS = 2.0  # each article page answers this late (under fetch.timeout)


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[PgCluster]:
    """A cluster of this module's own: its tests stop and restart the server."""
    with running_cluster() as cluster:
        yield cluster


@pytest.fixture
def db_url(own_cluster: PgCluster) -> Iterator[str]:
    with temporary_database(own_cluster, "faults") as url:
        yield url


def _slow_site(http_server, tmp_path, *, slow: bool = True) -> None:
    site = build_site(http_server, SLUGS, NOW)
    for slug in SLUGS if slow else ():
        http_server.slow_down(f"/news/{slug}", PAGE_SECONDS)
    write_config(tmp_path, [("kz-news", site.feed_url, "ru")])


def _start_run(tmp_path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [MONITOR, "run", "-q", "--no-digest", "--config", str(tmp_path)],
        env=_child_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )


def _wait_for_a_page_request(http_server, proc: subprocess.Popen[str]) -> None:
    """Block until the run is fetching article pages (mid-run, after the poll)."""
    deadline = time.monotonic() + 120
    while not any(http_server.requests_to(f"/news/{s}") for s in SLUGS):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run never fetched a page"
        time.sleep(0.05)


def test_a_run_carries_on_across_a_server_restart(
    http_server, tmp_path, db_url, own_cluster
):
    _slow_site(http_server, tmp_path)
    env = {"MONITOR_STORE_URL": db_url}
    run = _start_run(tmp_path, env)
    _wait_for_a_page_request(http_server, run)
    own_cluster.restart()  # while the pages are still being fetched
    _out, err = run.communicate(timeout=240)
    assert run.returncode == 0, err
    assert "database connection lost and restored after" in err
    assert "Error" not in err
    _assert_every_article_stored(db_url)


def test_a_server_down_past_the_bound_is_one_line_and_the_next_run_finishes(
    http_server, tmp_path, db_url, own_cluster
):
    _slow_site(http_server, tmp_path)
    env = {"MONITOR_STORE_URL": db_url, "MONITOR_STORE_RECONNECT_FOR": "2"}
    run = _start_run(tmp_path, env)
    _wait_for_a_page_request(http_server, run)
    own_cluster.stop_server()
    try:
        _out, err = run.communicate(timeout=240)
    finally:
        own_cluster.start_server()
    assert run.returncode == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("Error: database error: lost the connection to")
    assert "could not reconnect within 2 s" in lines[0]

    done = _monitor(tmp_path, env, "run", "-q", "--no-digest")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    _assert_every_article_stored(db_url)


def test_a_worker_carries_on_across_a_server_restart(
    http_server, tmp_path, db_url, own_cluster
):
    _slow_site(http_server, tmp_path)
    env = {"MONITOR_STORE_URL": db_url, "MONITOR_QUEUE_ENABLED": "1"}
    done = _monitor(tmp_path, env, "run", "-q", "--no-digest")
    assert done.returncode == 0, done.stderr
    worker = subprocess.Popen(
        [MONITOR, "worker", "--concurrency", "1", "--config", str(tmp_path)],
        env=_child_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        _wait_for_a_page_request(http_server, worker)
        own_cluster.restart()  # a job is fetching its page; two more wait
        deadline = time.monotonic() + 120
        while _extracted(db_url) < 3:
            assert worker.poll() is None, worker.communicate()
            assert time.monotonic() < deadline, "the worker did not carry on"
            time.sleep(0.5)
    finally:
        worker.terminate()
        _out, err = worker.communicate(timeout=60)
    assert _job_counts(db_url) == {"succeeded": 3}, err
    # the job under way when the server went down: its storage reconnected
    assert "database connection lost and restored after" in err
    assert "stopping worker" not in err  # procrastinate's own loops carried on


def test_a_job_that_fails_every_time_is_tried_a_bounded_number_of_times_then_parked(
    http_server, tmp_path, db_url
):
    """A trigger refuses every write to one article (a stand-in for a bug that
    hits one job each time): its job fails, is retried `queue.JOB_ATTEMPTS`
    times (procrastinate counts retries), then stays ``failed``, and `monitor status` shows it."""
    _slow_site(http_server, tmp_path, slow=False)
    env = {"MONITOR_STORE_URL": db_url, "MONITOR_QUEUE_ENABLED": "1"}
    assert _monitor(tmp_path, env, "run", "-q", "--no-digest").returncode == 0
    import psycopg

    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$"
        )
        conn.execute(
            "CREATE TRIGGER refuse BEFORE UPDATE ON articles FOR EACH ROW"
            " WHEN (OLD.id = 1) EXECUTE FUNCTION refuse()"
        )
    worker = subprocess.Popen(
        [MONITOR, "worker", "--config", str(tmp_path)],
        env=_child_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 180
        while _job_counts(db_url) != {"succeeded": 2, "failed": 1}:
            assert worker.poll() is None, worker.communicate()
            assert time.monotonic() < deadline, _job_counts(db_url)
            time.sleep(0.5)
        time.sleep(queue.JOB_RETRY_WAIT + 1)  # no further attempt comes
    finally:
        worker.terminate()
        _out, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT status::text, attempts FROM procrastinate_jobs"
            " WHERE args->>'article_id' = '1'"
        ).fetchone()
    # procrastinate's RetryStrategy(max_attempts=N) retries N times: N + 1 runs
    assert row == ("failed", queue.JOB_ATTEMPTS + 1)
    assert "refused by the test" in err  # the final failure, with its traceback
    human = _monitor(tmp_path, env, "status").stdout.splitlines()
    assert any(
        line.startswith("  extract") and "1 failed" in line and "2 succeeded" in line
        for line in human
    ), human


def _extracted(url: str) -> int:
    try:
        with closing(PgStorage(url, reconnect_for=0)) as storage:
            return storage.get_stage_counts()["extract"].get("done", 0)
    except Exception:
        return 0


def _job_counts(url: str) -> dict[str, int]:
    """Extraction jobs by status (the later stages' sweeps are queued behind them)."""
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT status::text, count(*) FROM procrastinate_jobs"
            " WHERE queue_name = %s GROUP BY 1",
            (queue.EXTRACT_QUEUE,),
        ).fetchall()
    return {str(s): int(n) for s, n in rows}


def _assert_every_article_stored(url: str) -> None:
    """The site's 3 articles, each extracted and classified."""
    with closing(PgStorage(url)) as storage:
        stages = storage.get_stage_counts()
    assert stages["extract"] == {"done": 3}
    assert stages["classify"] == {"done": 3}
