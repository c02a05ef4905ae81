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

from monitor.store.pg import PgStorage
from tests.pgcluster import PgCluster, find_bindir, unique_name
from tests.sitegen import NOW, build_site, write_config
from tests.test_pipeline_backends import MONITOR, _child_env, _monitor

SLUGS = ["protest", "energy", "court"]
PAGE_SECONDS = 2.0  # each article page answers this late (under fetch.timeout)


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[PgCluster]:
    bindir = find_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not installed")
    cluster = PgCluster(bindir).start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def db_url(own_cluster: PgCluster) -> Iterator[str]:
    name = unique_name("faults")
    url = own_cluster.create_database(name)
    try:
        yield url
    finally:
        own_cluster.drop_database(name)


def _slow_site(http_server, tmp_path) -> None:
    site = build_site(http_server, SLUGS, NOW)
    for slug in SLUGS:
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
    with closing(PgStorage(db_url)) as storage:
        stages = storage.get_stage_counts()
    assert stages["extract"] == {"done": 3}
    assert stages["classify"] == {"done": 3}


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
    with closing(PgStorage(db_url)) as storage:
        stages = storage.get_stage_counts()
    assert stages["extract"] == {"done": 3}
    assert stages["classify"] == {"done": 3}
