"""Compiled topic rules kept between processes (monitor/classify/_cache.py)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tomllib
from pathlib import Path

from monitor.classify import _cache, compile_ruleset

ROOT = Path(__file__).resolve().parents[1]
TOPICS = tomllib.loads((ROOT / "config" / "topics.toml").read_text(encoding="utf-8"))


class Counting:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> object:
        self.calls += 1
        return compile_ruleset(TOPICS)


def test_a_second_process_reads_the_compilation(tmp_path):
    first, second = Counting(), Counting()
    a = _cache.load_or_compile("topics", first, tmp_path)
    b = _cache.load_or_compile("topics", second, tmp_path)
    assert (first.calls, second.calls) == (1, 0)
    assert a == b  # the same rules and errors, not a stale copy
    (kept,) = tmp_path.iterdir()
    assert kept.name.startswith("topics-")


def test_other_rules_are_compiled_apart(tmp_path):
    compile_rules = Counting()
    _cache.load_or_compile("one table", compile_rules, tmp_path)
    _cache.load_or_compile("another table", compile_rules, tmp_path)
    assert compile_rules.calls == 2
    assert len(list(tmp_path.iterdir())) == 2


def test_a_corrupt_file_is_compiled_again_with_one_line(tmp_path, caplog):
    _cache.load_or_compile("topics", Counting(), tmp_path)
    (kept,) = tmp_path.iterdir()
    kept.write_bytes(b"\x80\x05 not a pickle")
    again = Counting()
    with caplog.at_level(logging.INFO, logger="monitor.classify._cache"):
        rules = _cache.load_or_compile("topics", again, tmp_path)
    assert again.calls == 1
    assert rules == compile_ruleset(TOPICS)
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [
        f"compiled topics {kept} unreadable"
    ]
    assert _cache.load_or_compile("topics", Counting(), tmp_path) == rules  # rewritten


def test_a_folder_that_cannot_be_made_is_not_used(tmp_path):
    blocker = tmp_path / "cache"
    blocker.write_text("not a folder")
    compile_rules = Counting()
    _cache.load_or_compile("topics", compile_rules, blocker / "monitor")
    assert compile_rules.calls == 1
    assert blocker.read_text() == "not a folder"


def test_the_key_follows_the_code(tmp_path, monkeypatch):
    """An edit of any module (a new version) never reads an old compilation."""
    _cache.load_or_compile("topics", Counting(), tmp_path)
    monkeypatch.setattr(_cache, "code_key", lambda: "other code")
    compile_rules = Counting()
    _cache.load_or_compile("topics", compile_rules, tmp_path)
    assert compile_rules.calls == 1


def test_cache_dir_follows_xdg():
    assert _cache.cache_dir({"XDG_CACHE_HOME": "/x/c"}) == Path("/x/c/monitor")
    assert _cache.cache_dir({}) == Path.home() / ".cache" / "monitor"


def test_the_installed_monitor_keeps_and_reuses_it(tmp_path):
    """Two `monitor status` runs: the first writes the compilation into
    XDG_CACHE_HOME, the second reads it and says the same."""
    config = tmp_path / "config"
    config.mkdir()
    for name in ("monitor.toml", "feeds.toml", "topics.toml"):
        (config / name).write_bytes((ROOT / "config" / name).read_bytes())
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "XDG_CACHE_HOME": str(tmp_path / "xdg"),
    }
    monitor = Path(sys.executable).with_name("monitor")
    db = tmp_path / "m.db"
    init = [str(monitor), "init-db", "-q", "--config", str(config), "--db", str(db)]
    subprocess.run(init, env=env, check=True, capture_output=True)
    status = [
        str(monitor),
        "status",
        "--json",
        "--config",
        str(config),
        "--db",
        str(db),
    ]
    first = subprocess.run(status, env=env, capture_output=True, text=True)
    kept = list((tmp_path / "xdg" / "monitor").glob("topics-*.pickle"))
    second = subprocess.run(status, env=env, capture_output=True, text=True)
    assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
    assert len(kept) == 1
    assert first.stdout == second.stdout
    assert list((tmp_path / "xdg" / "monitor").glob("topics-*.pickle")) == kept
