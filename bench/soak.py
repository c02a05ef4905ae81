"""Crash soak: hundreds of `monitor run` children killed with SIGKILL (issue #7).

Usage::

    .venv/bin/python bench/soak.py [--rounds 10] [--kills 30] [--seed 1]

The long form of tests/test_hardening_crash.py.  A local HTTP server thread in
this process serves a three-feed site whose pages answer after a short delay.
An uninterrupted reference is run first (``monitor run`` until nothing
changes).  Then, per round, a fresh database gets ``--kills`` runs, each
SIGKILLed at a seeded random moment within one run's duration, then runs to
completion and is compared with the reference: same canonical URLs, entries,
filings, story membership, digests written, every stage complete, and
``PRAGMA integrity_check`` = ok.  Rounds start over from an empty database so
kills keep landing in every stage (poll, extract, translate, classify,
stories, digest), not only in the no-op runs of a finished database.

Prints the iterations survived (kills whose round ended identical to the
reference) and the time per run against the uninterrupted run's.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.httpserver import LocalHTTPServer  # noqa: E402
from tests.test_hardening_site import (  # noqa: E402
    Feed,
    build_site,
    integrity,
    pending,
    run_cli,
    run_killed,
    run_until_settled,
    snapshot,
    write_config,
)

FIXTURE = (
    REPO.parent
    / "shared"
    / "models"
    / "test-fixture"
    / "translate-ru_en-testfixture-0_0.argosmodel"
)


def _models(tmp: Path) -> Path:
    models = tmp / "models"
    if FIXTURE.exists():
        from monitor.translate import install_from_path

        install_from_path(FIXTURE, models)
    else:
        print(f"note: {FIXTURE} not found; translation runs without a model")
    return models


def _round(
    site: list[Feed],
    tmp: Path,
    models: Path,
    n: int,
    kills: int,
    horizon: float,
    rng: random.Random,
) -> tuple[int, str | None]:
    folder = write_config(tmp / f"round{n}", site, models_dir=models)
    landed = 0
    for _ in range(kills):
        landed += run_killed(folder, rng.uniform(0.0, horizon), tmp / "kills.log")
    run_until_settled(folder)
    db = folder / "monitor.db"
    verdict = integrity(db)
    problem = None if verdict == "ok" else f"integrity_check: {verdict}"
    if problem is None and any(pending(db).values()):
        problem = f"stages left pending: {pending(db)}"
    if problem is None:
        got, want = snapshot(db), snapshot(tmp / "ref" / "monitor.db")
        bad = [k for k in want if got.get(k) != want[k]]
        problem = f"differs from the reference in {bad}" if bad else None
    shutil.rmtree(folder)
    return landed, problem


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--kills", type=int, default=30, help="kills per round")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as t, LocalHTTPServer() as server:
        tmp = Path(t)
        site = build_site(
            server, datetime.now(UTC) - timedelta(minutes=5), per_feed=6, delay=0.25
        )
        models = _models(tmp)
        ref = write_config(tmp / "ref", site, models_dir=models)
        started = time.perf_counter()
        run_cli(ref)
        horizon = time.perf_counter() - started
        runs = run_until_settled(ref)
        print(f"reference: first run {horizon:.1f}s, settled after {runs} more runs")
        survived = landed_total = 0
        for n in range(args.rounds):
            t0 = time.perf_counter()
            landed, problem = _round(site, tmp, models, n, args.kills, horizon, rng)
            landed_total += landed
            survived += args.kills if problem is None else 0
            print(
                f"round {n}: {landed}/{args.kills} kills landed mid-run, "
                f"{'identical to the reference' if problem is None else problem} "
                f"({time.perf_counter() - t0:.0f}s)",
                flush=True,
            )
    total = args.rounds * args.kills
    print(
        f"kill -9 iterations survived: {survived}/{total} "
        f"({landed_total} kills landed before the run finished)"
    )
    sys.exit(0 if survived == total else 1)


if __name__ == "__main__":
    main()
