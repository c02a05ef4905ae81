"""Workers on procrastinate (issue #13 part 3), with real processes: `monitor
run` queues one extraction job per article (and one sweep per later stage),
`monitor worker` processes on the same PostgreSQL database do them.  Every
stage through the workers, with a SIGKILL and the digest: test_queue_stages.py."""

from __future__ import annotations

import json
import subprocess
import time
from contextlib import closing

import psycopg

from monitor import queue
from monitor.store.pg import PgStorage
from tests.sitegen import NOW, TITLES, build_site, write_config
from tests.test_pipeline_backends import MONITOR, _child_env, _monitor


def _jobs(pg_url: str, queue_name: str = "extract") -> dict[str, int]:
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute(
            "SELECT status::text, count(*) FROM procrastinate_jobs"
            " WHERE queue_name = %s GROUP BY 1",
            (queue_name,),
        ).fetchall()
    return {str(s): int(n) for s, n in rows}


def test_run_queues_and_two_workers_extract_every_article(
    http_server, tmp_path, pg_url
):
    site = build_site(http_server, ["protest", "energy", "court"], NOW)
    write_config(tmp_path, [("kz-news", site.feed_url, "ru")])
    env = {"MONITOR_STORE_URL": pg_url, "MONITOR_QUEUE_ENABLED": "1"}

    done = _monitor(tmp_path, env, "run", "-q")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert _jobs(pg_url) == {"todo": 3}
    with closing(PgStorage(pg_url)) as storage:
        assert storage.get_stage_counts()["extract"] == {"pending": 3}
    assert http_server.requests_to("/news/protest") == []  # run fetched no page

    report = json.loads(_monitor(tmp_path, env, "status", "--json").stdout)
    one_each = {"todo": 1}
    assert report["queue"] == {
        "jobs": {
            "extract": {"todo": 3},
            **dict.fromkeys(("translate", "classify", "stories"), one_each),
            "digest": one_each,  # yesterday's, due on a fresh database
        },
        "live_workers": 0,
    }
    human = _monitor(tmp_path, env, "status").stdout.splitlines()
    assert "Queue: 0 live workers" in human
    assert "  extract    3 todo" in human

    # a second run while the jobs wait queues nothing twice
    assert _monitor(tmp_path, env, "run", "-q").returncode == 0
    again = json.loads(_monitor(tmp_path, env, "status", "--json").stdout)
    assert again["queue"] == report["queue"]
    assert again["last_run"]["summary"]["jobs_already_queued"] == 7

    workers = [
        subprocess.Popen(
            [MONITOR, "worker", "--once", "-q", "--config", str(tmp_path)],
            env=_child_env(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [w.communicate(timeout=240) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    assert _jobs(pg_url) == {"succeeded": 3}, outputs
    with closing(PgStorage(pg_url)) as storage:
        assert storage.get_stage_counts()["extract"] == {"done": 3}
        assert {a.title for a in storage.get_articles(range(1, 9))} == set(
            TITLES.values()
        )

        # the workers also carried them through the later stages
        stages = storage.get_stage_counts()
        assert stages["classify"] == {"done": 3}
        assert stages["stories"] == {"done": 3}
    for stage in ("translate", "classify", "stories"):
        assert set(_jobs(pg_url, stage)) == {"succeeded"}, stage


def test_worker_needs_the_queue_enabled(tmp_path, pg_url):
    write_config(tmp_path, [("a", "http://127.0.0.1:9/rss", "ru")])
    done = _monitor(tmp_path, {"MONITOR_STORE_URL": pg_url}, "worker", "--once")
    assert done.returncode == 2
    assert "monitor worker needs [queue] enabled = true" in done.stderr


def _job_status(pg_url: str, article_id: int) -> str | None:
    with psycopg.connect(pg_url) as conn:
        row = conn.execute(
            "SELECT status::text FROM procrastinate_jobs WHERE args->>'article_id' = %s",
            (str(article_id),),
        ).fetchone()
    return None if row is None else str(row[0])


def test_a_job_of_a_sigkilled_worker_is_done_again_once(http_server, tmp_path, pg_url):
    site = build_site(http_server, ["protest", "energy", "court"], NOW)
    write_config(tmp_path, [("kz-news", site.feed_url, "ru")])
    env = {"MONITOR_STORE_URL": pg_url, "MONITOR_QUEUE_ENABLED": "1"}
    assert _monitor(tmp_path, env, "run", "-q").returncode == 0
    with closing(PgStorage(pg_url)) as storage:
        first = min(a.id for a, _ in storage.get_articles_needing_extraction(10))
        slug = storage.get_article(first).url.rsplit("/", 1)[-1].split("?")[0]
    http_server.slow_down(f"/news/{slug}", 4.0)  # under fetch.timeout (5 s)

    def worker():
        return subprocess.Popen(
            [MONITOR, "worker", "--once", "-q", "--config", str(tmp_path)],
            env=_child_env(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    doomed = worker()
    deadline = time.monotonic() + 120
    while _job_status(pg_url, first) != "doing":
        assert time.monotonic() < deadline, "the worker never took the job"
        time.sleep(0.1)
    doomed.kill()  # SIGKILL mid-job: the page is still being fetched
    doomed.communicate()
    assert _job_status(pg_url, first) == "doing"  # held by a dead worker
    time.sleep(queue.STALLED_AFTER + 2 * queue.HEARTBEAT)

    survivor = worker()
    _out, err = survivor.communicate(timeout=240)
    assert survivor.returncode == 0, err
    assert f"job={_job_id(pg_url, first)} status=stalled requeued" in err
    assert _jobs(pg_url) == {"succeeded": 3}
    with closing(PgStorage(pg_url)) as storage:
        assert storage.get_stage_counts()["extract"] == {"done": 3}
        assert storage.get_article(first).extract_status == "done"


def _job_id(pg_url: str, article_id: int) -> int:
    with psycopg.connect(pg_url) as conn:
        row = conn.execute(
            "SELECT id FROM procrastinate_jobs WHERE args->>'article_id' = %s",
            (str(article_id),),
        ).fetchone()
    return int(row[0])
