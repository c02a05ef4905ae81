"""The run lock: one holder; released when the holder dies, even by SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest

from monitor.exceptions import LockedError
from monitor.lock import run_lock

NOW = datetime(2026, 1, 5, tzinfo=UTC)


def test_second_holder_is_refused_with_the_holder_named(tmp_path):
    path = tmp_path / "run.lock"
    with run_lock(path, NOW):
        with (
            pytest.raises(LockedError, match=f"pid {os.getpid()}"),
            run_lock(path, NOW),
        ):
            pass
    with run_lock(path, NOW):  # released on exit
        pass


def test_lock_of_a_killed_process_does_not_block(tmp_path):
    path = tmp_path / "run.lock"
    code = (
        "import sys, time, datetime; from pathlib import Path; from monitor.lock import run_lock\n"
        "with run_lock(Path(sys.argv[1]), datetime.datetime.now(datetime.UTC)):\n"
        "    print('held', flush=True); time.sleep(60)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    with pytest.raises(LockedError):
        with run_lock(path, NOW):
            pass
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    proc.stdout.close()
    deadline = time.monotonic() + 5
    with run_lock(path, NOW):
        assert time.monotonic() < deadline


def test_a_loser_waits_for_a_holder_that_has_not_yet_written_its_name(tmp_path):
    """The winner takes the flock a moment before it writes "pid N since T"; a loser
    arriving in that gap must still name it (seen as a CI race)."""
    path = tmp_path / "run.lock"
    code = (
        "import fcntl, os, sys, time\n"
        "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX); print('locked', flush=True)\n"
        "time.sleep(0.3); os.write(fd, b'pid 4242 since 2026-01-05T00:00:00+00:00')\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(LockedError, match=r"\(pid 4242 since 2026-01-05"):
            with run_lock(path, NOW):
                pass
    finally:
        proc.kill()
        proc.wait(10)
        proc.stdout.close()


def test_a_clean_exit_leaves_no_stale_holder_in_the_file(tmp_path):
    path = tmp_path / "run.lock"
    with run_lock(path, NOW):
        assert path.read_text().startswith(f"pid {os.getpid()} since ")
    assert path.read_text() == ""
