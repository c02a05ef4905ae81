"""The run lock: one `monitor run` at a time, and never blocked by a dead one.

It is an flock(2) lock on a file: the kernel releases it when the holding process
exits for any reason, including SIGKILL, so a stale lock cannot block forever.  The
file also records the holder's pid and start time for the message the loser prints.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from .exceptions import LockedError


@contextmanager
def run_lock(path: Path, now: datetime) -> Iterator[None]:
    """Hold the run lock for the duration of the block.

    Raises:
        LockedError: another live process holds it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(path)
            raise LockedError(
                f"another monitor run holds the lock ({holder or 'unknown holder'})",
                resource=str(path),
            ) from None
        os.ftruncate(fd, 0)
        os.write(
            fd, f"pid {os.getpid()} since {now.isoformat(timespec='seconds')}".encode()
        )
        try:
            yield
        finally:
            os.ftruncate(fd, 0)  # a clean exit leaves no stale holder behind
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def _read_holder(path: Path, wait: float = 1.0, step: float = 0.02) -> str:
    """The holder's "pid N since T", waiting briefly for a holder that has only
    just taken the lock and not yet written it; "" if it never appears."""
    deadline = time.monotonic() + wait
    while True:
        holder = path.read_text(encoding="utf-8", errors="replace").strip()
        if holder or time.monotonic() >= deadline:
            return holder
        time.sleep(step)
