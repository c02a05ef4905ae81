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
