"""The run lock on PostgreSQL (issue #13): one `monitor run` per database.

The flock(2) file lock only reaches processes on one machine; runs on several
machines sharing one database take a session-level advisory lock instead.  Like
flock it cannot go stale: the server releases it when the holder's connection
ends, also when the holder is SIGKILLed.  The holder names itself in
``application_name`` so the loser's message says who has it.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import psycopg

from ...exceptions import LockedError, StorageError
from ._conn import redact_url
from ._schema import SCHEMA_LOCK

RUN_LOCK = SCHEMA_LOCK + 2


@contextmanager
def pg_run_lock(url: str, now: datetime) -> Iterator[None]:
    """Hold the database's run lock for the duration of the block.

    Raises:
        LockedError: another live `monitor run` (on any machine) holds it.
        StorageError: the server cannot be reached.
    """
    me = f"monitor run pid {os.getpid()} on {socket.gethostname()} since"
    me += f" {now.isoformat(timespec='seconds')}"
    try:
        conn = psycopg.connect(url, autocommit=True, application_name=me[:63])
    except psycopg.Error as e:
        raise StorageError(f"cannot open database {redact_url(url)}: {e}") from e
    try:
        got = conn.execute("SELECT pg_try_advisory_lock(%s)", (RUN_LOCK,)).fetchone()
        if not (got and got[0]):
            raise LockedError(
                f"another monitor run holds the lock ({_holder(conn)})",
                resource=redact_url(url),
            )
        yield
    finally:
        conn.close()  # ending the session releases the lock


def _holder(conn: psycopg.Connection[tuple[object, ...]]) -> str:
    row = conn.execute(
        "SELECT a.application_name FROM pg_locks l"
        " JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'advisory' AND l.granted AND l.objid = %s",
        (RUN_LOCK % 2**32,),
    ).fetchone()
    return str(row[0]) if row and row[0] else "unknown holder"
