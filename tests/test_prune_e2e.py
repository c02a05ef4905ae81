"""`monitor prune` as the user runs it (issue #19): the installed executable.

A small archive of an old day (tests/searchdata.py, first seen in January
2025) plus a recent one (tests/prunedata.py), built through the write API;
then ``prune --dry-run``, ``prune``, and ``search``, ``digest`` and
``stories-explain`` of the old day.  Last, a `monitor prune` killed with
SIGKILL mid-way on a few thousand articles: every article is whole or pruned,
and a rerun finishes.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor import translate
from monitor.store import Storage
from tests import prunedata
from tests.searchdata import build_archive, write_config

MONITOR = Path(sys.executable).with_name("monitor")
REPO = Path(__file__).resolve().parents[1]
OLD = datetime(2025, 1, 10, 12, 0, tzinfo=UTC)
CUTOFF = "2025-06-01"


def monitor(
    config: Path, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [str(MONITOR), *args, "--config", str(config)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def archive(tmp_path: Path) -> tuple[Path, Path, dict[str, int]]:
    db = tmp_path / "monitor.db"
    with Storage(db) as storage:
        ids = build_archive(storage, OLD)
        prunedata.build(storage, 20, real_features=True)  # 2026: kept
    config = write_config(tmp_path / "config", db, '[digest]\ntimezone = "UTC"\n')
    return config, db, ids


def found(config: Path, query: str) -> set[int]:
    done = monitor(config, "search", query, "--json")
    assert done.returncode == 0, done.stderr
    return {int(r["id"]) for r in json.loads(done.stdout)}


def pruned_ids(db: Path) -> set[int]:
    with closing(sqlite3.connect(db)) as raw:
        rows = raw.execute("SELECT id FROM articles WHERE pruned_at IS NOT NULL")
        return {int(r[0]) for r in rows}


def test_prune_dry_run_then_prune_then_search_digest_and_explain(archive):
    config, db, ids = archive
    assert ids["pogoda"] in found(config, "гололёд")  # a word of the body only
    size_before = db.stat().st_size

    dry = monitor(config, "prune", "--older-than", CUTOFF, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would prune 5 articles: bodies" in dry.stdout
    assert "articles first seen before 2025-06-01T00:00:00+00:00" in dry.stdout
    assert pruned_ids(db) == set()  # nothing changed
    assert db.stat().st_size == size_before

    done = monitor(config, "prune", "--older-than", CUTOFF)
    assert done.returncode == 0, done.stderr
    assert "pruned 5 articles" in done.stderr
    assert pruned_ids(db) == set(ids.values())
    again = monitor(config, "prune", "--older-than", CUTOFF, "-q")
    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")  # cron

    # search: the headline still finds them, the body no longer does
    assert {ids["kulibayev-bank"], ids["kulibaev-forum"]} <= found(config, "Кулибаев")
    assert ids["pogoda"] in found(config, "Погода")
    assert ids["pogoda"] not in found(config, "гололёд")

    # the digest of the old day still renders, with its headlines and stories
    digest = monitor(config, "digest", "--date", "2025-01-10")
    assert digest.returncode == 0, digest.stderr
    md = next(p for p in digest.stdout.split() if p.endswith(".md"))
    text = Path(md).read_text(encoding="utf-8")
    assert "Kulibayev sells stake in Halyk Bank" in text
    assert "Weather in Astana: snow and wind" in text or "Погода в Астане" in text

    # stories-explain: one clear line for a pruned article
    pair = (str(ids["kulibayev-bank"]), str(ids["kulibaev-forum"]))
    explain = monitor(config, "stories-explain", *pair)
    assert explain.returncode == 1
    assert f"article {pair[0]} was pruned on" in explain.stderr
    assert "features cannot be recomputed" in explain.stderr
    assert len(explain.stderr.strip().splitlines()) == 1


def test_stories_explain_recomputes_features_of_an_unpruned_article(archive):
    config, _, _ = archive
    with Storage(archive[1]) as storage:
        recent = storage.get_prune_candidates(datetime.now(UTC), limit=100)[-2:]
    done = monitor(config, "stories-explain", *(str(c.article_id) for c in recent))
    assert done.returncode == 0, done.stderr
    assert "pruned" not in done.stdout


def test_prune_needs_a_cutoff_and_a_valid_age(archive):
    config, _, _ = archive
    done = monitor(config, "prune")
    assert done.returncode == 2
    assert "give --older-than DAYS|DATE or set [store] keep_days" in done.stderr
    bad = monitor(config, "prune", "--older-than", "last year")
    assert bad.returncode == 2
    assert "is not a number of days or YYYY-MM-DD" in bad.stderr


def test_keep_days_is_validated_with_the_other_errors(tmp_path):
    config = write_config(tmp_path / "c", tmp_path / "m.db", "")
    toml = config / "monitor.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace(
            "[store]\n", "[store]\nkeep_days = -3\n"
        )
        + '[digest]\ntimezone = "Mars/Base"\n',
        encoding="utf-8",
    )
    done = monitor(config, "prune")
    assert done.returncode == 1
    assert "store.keep_days: must be >= 0 (0 keeps everything), got -3" in done.stderr
    assert "digest.timezone" in done.stderr  # reported together


def test_run_prunes_when_keep_days_is_set(archive):
    config, db, ids = archive
    toml = config / "monitor.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace(
            "[store]\n", "[store]\nkeep_days = 400\n"
        ),
        encoding="utf-8",
    )
    done = monitor(config, "run", "--no-digest")
    assert done.returncode == 0, done.stderr
    assert "; pruned 5" in done.stderr  # the summary line
    assert pruned_ids(db) == set(ids.values())


# ------------------------------------------------------------------ kill -9


def _consistent(db: Path) -> tuple[int, int]:
    """Every article whole or fully pruned; returns (pruned, whole)."""
    with closing(sqlite3.connect(db)) as raw:
        rows = raw.execute(
            "SELECT a.id, a.title, a.pruned_at, a.text, a.text_en, a.feed_content,"
            " f.article_id, a.translation_engine"
            " FROM articles a LEFT JOIN story_features f ON f.article_id = a.id"
        ).fetchall()
        keys_present = {r[0] for r in raw.execute("SELECT key FROM translation_cache")}
        filed = {r[0] for r in raw.execute("SELECT DISTINCT article_id FROM filings")}
        members = {r[0] for r in raw.execute("SELECT article_id FROM story_members")}
    pruned = whole = 0
    for article_id, title, pruned_at, text, text_en, content, feat, engine in rows:
        assert article_id in filed  # always kept
        assert article_id in members
        number = int(title.split()[1].rstrip(":"))
        keys = set(translate.article_cache_keys(engine, *prunedata.texts(number)[:2]))
        if pruned_at is not None:
            assert (text, text_en, content, feat) == (None, None, "", None), article_id
            assert not keys & keys_present, article_id
            pruned += 1
        else:
            assert (bool(text), bool(text_en), feat) == (True, True, article_id)
            assert keys <= keys_present, article_id
            whole += 1
    return pruned, whole


def test_kill_9_mid_prune_leaves_every_article_whole_or_pruned(tmp_path):
    n = 3000
    db = tmp_path / "monitor.db"
    with Storage(db) as storage:
        prunedata.build(storage, n)
    config = write_config(tmp_path / "config", db)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.Popen(
        [str(MONITOR), "prune", "--older-than", "30", "-q", "--config", str(config)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if pruned_ids(db):  # a first batch is committed: kill it mid-way
                break
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    pruned, whole = _consistent(db)
    assert 0 < pruned < n, (pruned, whole)  # it was killed mid-way
    assert pruned + whole == n
    rerun = monitor(config, "prune", "--older-than", "30", "-q")
    assert (rerun.returncode, rerun.stderr) == (0, "")
    assert _consistent(db) == (n, 0)


def test_progress_bar_on_a_terminal_and_silence_under_q(archive):
    from tests.test_cli_terminal import on_pty, visible_lines

    config, _, _ = archive
    code, out = on_pty("prune", "--older-than", CUTOFF, "-q", "--dry-run",
                       "--config", str(config))  # fmt: skip
    assert code == 0, out
    assert "100%" not in out  # -q: no bar; the dry run's report is its output
    assert "would prune 5 articles" in out
    code, out = on_pty("prune", "--older-than", CUTOFF, "--config", str(config))
    assert code == 0, out
    lines = visible_lines(out)
    assert any(line.startswith("prune") and line.endswith("100%") for line in lines)
    assert lines[-1].startswith("pruned 5 articles"), lines


def test_features_only_keeps_bodies_and_explain_recomputes(archive):
    config, db, _ = archive
    with Storage(db) as storage:
        recent = storage.get_prune_candidates(datetime.now(UTC), limit=100)[-2:]
    pair = [str(c.article_id) for c in recent]
    dry = monitor(config, "prune", "--features-only", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("would drop 25 story features")
    done = monitor(config, "prune", "--features-only")
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith("dropped 25 story features")
    assert pruned_ids(db) == set()  # nothing is marked pruned: bodies stay
    explain = monitor(config, "stories-explain", *pair)
    assert explain.returncode == 0, explain.stderr
    assert "stored story features of these days were dropped" in explain.stderr
    assert explain.stdout.strip()  # the evidence, recomputed from the text
