"""Issue #11, integrity points: real processes, real bytes, real SMTP.

- 11: the first open of a new database by two processes at once;
- 8: the entries table stays bounded when a feed renames its guids every poll;
- 9: a canonical URL on another outlet's host cannot take over its article;
- 10: a digest is mailed once even when two senders race;
- 12: characters XML 1.0 forbids never reach an output file;
- 14: DNS rebinding cannot tell an open local port from a closed one.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.sitegen import NOW, build_site, write_config

REPO = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env["PYTHONPATH"] = str(REPO)
    return env


# Runs the real CLI in a fresh interpreter, but only from a given wall-clock
# moment, so that two processes reach their first database open together.
_AT = (
    "import sys, time\n"
    "from monitor.cli import cli\n"
    "at = float(sys.argv[1])\n"
    "while time.time() < at: time.sleep(0.001)\n"
    "cli(sys.argv[2:], prog_name='monitor')\n"
)


def _start(folder: Path, *args: str, at: float | None = None) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "monitor"]
    if at is not None:
        argv = [sys.executable, "-c", _AT, str(at)]
    return subprocess.Popen(
        [*argv, *args, "--config", str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        cwd=REPO,
    )


# ---------------------------------------------------------------- 11: schema race


@pytest.mark.slow
def test_first_open_of_a_new_database_by_two_processes(tmp_path, http_server):
    """`monitor poll` and `monitor status` together on a database that is not there."""
    site = build_site(http_server, ["protest"], NOW)
    failures = []
    for i in range(16):
        folder = tmp_path / f"c{i}"
        folder.mkdir()
        write_config(folder, [("kz", site.feed_url, "ru")])
        at = time.time() + 1.5  # both interpreters are up by then
        procs = [_start(folder, "poll", at=at), _start(folder, "status", at=at)]
        for name, proc in zip(("poll", "status"), procs, strict=True):
            _out, err = proc.communicate(timeout=120)
            if proc.returncode != 0:
                failures.append((i, name, proc.returncode, err[-300:]))
    assert failures == []
