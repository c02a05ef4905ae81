"""Every stage through the queue (issue #13): 1 and 2 `monitor worker` processes
against the single-process run, on the same work, timed in the same run.

    .venv/bin/python bench/queue_workers.py [--articles 40] [--delay 0.3]

A local site on 127.0.0.1 serves ``--articles`` pages, each answering after
``--delay`` seconds (a slow origin).  Baseline: `monitor run --no-digest` on
SQLite, whose extract stage fetches pages concurrently in one process.  Queue
mode: the same articles polled and queued on a throw-away PostgreSQL cluster,
then drained by `monitor worker --once` (one process, then two, each on a
fresh database) through extraction, translation, classification and stories
(the digest stage is left out, as ``--no-digest`` leaves it out of the
baseline).  No translation model is installed: the translate stage marks each
article ``no_model``, as it does in the baseline.  Times are wall clock of the
installed executables.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.httpserver import LocalHTTPServer  # noqa: E402
from tests.pgcluster import PgCluster, find_bindir  # noqa: E402
from tests.test_hardening_site import build_site, write_config  # noqa: E402

MONITOR = str(Path(sys.executable).parent / "monitor")


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    return env | {"PYTHONPATH": str(ROOT)} | extra


def _timed(cmds: list[list[str]], env: dict[str, str]) -> float:
    start = time.perf_counter()
    procs = [subprocess.Popen(c, env=_env(env)) for c in cmds]
    codes = [p.wait() for p in procs]
    assert codes == [0] * len(codes), codes
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=40)
    parser.add_argument("--delay", type=float, default=0.3)
    args = parser.parse_args()
    cluster = PgCluster(find_bindir()).start()  # type: ignore[arg-type]
    try:
        with LocalHTTPServer() as server, TemporaryDirectory() as tmp:
            feeds = build_site(
                server, datetime.now(UTC), feeds=1, per_feed=args.articles,
                delay=args.delay,
            )  # fmt: skip
            cfg = write_config(
                Path(tmp) / "cfg", feeds, models_dir=Path(tmp) / "models",
                max_articles=args.articles,
            )  # fmt: skip
            run = [MONITOR, "run", "-q", "--no-digest", "--config", str(cfg)]
            base = _timed([run], {})
            worker = [MONITOR, "worker", "--once", "-q", "--config", str(cfg)]
            worker += ["--stages", "extract,translate,classify,stories"]
            times = {}
            for n in (1, 2):
                url = cluster.create_database(f"w{n}")
                env = {"MONITOR_STORE_URL": url, "MONITOR_QUEUE_ENABLED": "1"}
                queued = _timed([run], env)
                times[n] = (queued, _timed([worker] * n, env))
    finally:
        cluster.stop()
    print(f"{args.articles} pages, {args.delay} s each; wall seconds")
    print(f"single process, SQLite, run (every stage but the digest): {base:.1f}")
    for n, (queued, drained) in times.items():
        total = queued + drained
        print(
            f"queue, {n} worker(s): run {queued:.1f} + drain {drained:.1f}"
            f" = {total:.1f} ({total / base:.2f}x the single process)"
        )
    print(f"2 workers vs 1 (drain only): {times[1][1] / times[2][1]:.2f}x faster")
    one, two = (sum(times[n]) for n in (1, 2))
    print(f"2 workers vs 1 (run + drain): {one / two:.2f}x faster")


if __name__ == "__main__":
    main()
