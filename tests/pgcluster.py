"""A throw-away PostgreSQL cluster for the suite (issue #13).

`PgCluster` runs Debian's server binaries (``scripts/setup_postgres.sh``
installs them): ``initdb`` as the ``postgres`` user when the suite runs as root
(the server refuses to run as root), trust authentication on 127.0.0.1 only, a
free port, everything in a temporary directory that is removed at the end.
Each test database is made with ``CREATE DATABASE`` and dropped afterwards.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.smtpserver import free_port

BIN_GLOB = "/usr/lib/postgresql/*/bin/initdb"


def find_bindir() -> Path | None:
    """The newest installed server's bin directory, or None."""
    found = sorted(glob.glob(BIN_GLOB), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


class PgCluster:
    """initdb + pg_ctl start on 127.0.0.1:<free port>; `stop` removes it all."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="monitor-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self._as_root = os.geteuid() == 0

    def start(self) -> PgCluster:
        if self._as_root:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
            "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync",
        )  # fmt: skip
        self.start_server()
        return self

    def start_server(self) -> None:
        """pg_ctl start on the cluster's data, port and log (also after `stop_server`)."""
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port}"
            f" -c unix_socket_directories={self.root} -c fsync=off"
            " -c max_connections=200"
        )
        # -l matters: without it the server inherits our pipes and run() never ends
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"),
            "-o", options, "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop_server(self) -> None:
        """pg_ctl stop -m fast: clients are disconnected; the data stays."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        """A new empty database; returns its URL."""
        self.sql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def sql(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(statement)  # type: ignore[arg-type]

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def restart(self) -> None:
        """Stop and start the server again (same port, same data)."""
        self.stop_server()
        self.start_server()

    def _run(self, program: str, *args: str) -> None:
        cmd = [str(self.bindir / program), *args]
        if self._as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            log = self.root / "log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(
                f"{program} failed ({done.returncode}): {done.stderr.strip()}\n{tail}"
            )


def unique_name(prefix: str = "t") -> str:
    return f"{prefix}_{os.getpid()}_{time.monotonic_ns()}"


SKIP_REASON = (
    "PostgreSQL server binaries not installed (scripts/setup_postgres.sh"
    " installs Debian's postgresql; scripts/test.sh runs it)"
)


@contextmanager
def running_cluster() -> Iterator[PgCluster]:
    """A started throw-away cluster, stopped afterwards; skips the test when the
    server binaries are missing."""
    import pytest

    bindir = find_bindir()
    if bindir is None:
        pytest.skip(SKIP_REASON)
    cluster = PgCluster(bindir).start()
    try:
        yield cluster
    finally:
        cluster.stop()


@contextmanager
def temporary_database(cluster: PgCluster, prefix: str) -> Iterator[str]:
    """The URL of a new, empty database on `cluster`; dropped afterwards."""
    name = unique_name(prefix)
    url = cluster.create_database(name)
    try:
        yield url
    finally:
        cluster.drop_database(name)
