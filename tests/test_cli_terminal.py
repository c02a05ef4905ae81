"""Issue #10: the installed `monitor` on a real terminal, and under cron.

Every command that can show progress is started on a pseudo-terminal
(`os.openpty`: the slave end is its stdin, stdout and stderr), against a local site.
The cron tests start the same executable with no terminal at all: stdin from
/dev/null, stdout and stderr captured pipes.
"""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from monitor.translate import install_from_path
from tests.httpserver import LocalHTTPServer
from tests.smtpserver import free_port
from tests.test_hardening_site import Feed, build_site, child_env, write_config

MONITOR = str(Path(sys.executable).parent / "monitor")  # the installed executable
FIXTURE = "models/test-fixture/translate-ru_en-testfixture-0_0.argosmodel"
# (command, the commands run first so that it has work to do)
CSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
COMMANDS = {
    "run": (),
    "poll": (),
    "extract": (("poll",),),
    "translate": (("poll",), ("extract",)),
}


@pytest.fixture
def models_dir(shared_dir: Path, tmp_path: Path) -> Path:
    """The ../shared random-weight ru→en package, installed (translate has work)."""
    install_from_path(shared_dir / FIXTURE, tmp_path / "models")
    return tmp_path / "models"


@pytest.fixture
def folder(http_server: LocalHTTPServer, models_dir: Path, tmp_path: Path) -> Path:
    """One healthy feed of four articles: nothing is wrong."""
    feeds = build_site(
        http_server, datetime.now(UTC) - timedelta(minutes=5), feeds=1, per_feed=4
    )
    return write_config(tmp_path / "cfg", feeds, models_dir=models_dir)


def on_pty(*args: str, timeout: float = 180) -> tuple[int, str]:
    """Run the installed `monitor` with a pseudo-terminal as stdin/out/err."""
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [MONITOR, *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=child_env() | {"TERM": "xterm", "COLUMNS": "100"},
        close_fds=True,
    )
    os.close(slave)
    chunks = []
    try:
        while True:
            ready, _, _ = select.select([master], [], [], timeout)
            if not ready:
                proc.kill()
                pytest.fail(f"monitor {args} hung; output so far: {b''.join(chunks)!r}")
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
    return proc.wait(timeout), b"".join(chunks).decode("utf-8", "replace")


def piped(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the installed `monitor` as cron does: no terminal anywhere."""
    return subprocess.run(
        [MONITOR, *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=180,
        check=False,
    )


def visible_lines(out: str) -> list[str]:
    """The lines a person sees: each carriage return redraws the line, and the
    cursor show/hide sequences around the bar print nothing."""
    plain = CSI.sub("", out).replace("\r\n", "\n")
    lines = [line.rstrip("\r").rsplit("\r", 1)[-1] for line in plain.split("\n")]
    return [line.rstrip() for line in lines if line.strip()]


@pytest.mark.parametrize("command", list(COMMANDS))
def test_progress_bar_drawn_and_finished_on_a_terminal(folder: Path, command: str):
    for before in COMMANDS[command]:
        assert piped(*before, "-q", "--config", str(folder)).returncode == 0
    code, out = on_pty(command, "--config", str(folder))
    assert code == 0, out
    assert "Traceback" not in out, out
    assert "CRITICAL" not in out, out
    stage = "poll" if command == "run" else command
    assert f"{stage} " in out, out
    assert "100%" in out, out
    lines = visible_lines(out)
    # the bar finished (its last drawing is 100%) and the summary is the last line
    assert any(line.startswith(stage) and line.endswith("100%") for line in lines)
    assert lines[-1].startswith("feeds "), lines
    assert "100%" not in lines[-1]


def test_warnings_during_the_bar_start_on_their_own_line(
    http_server: LocalHTTPServer, models_dir: Path, tmp_path: Path
):
    """A feed that fails while the poll bar is drawn: its warning is a whole
    line of its own (not glued after "82%"), and the bar is drawn again below."""
    feeds = build_site(
        http_server, datetime.now(UTC) - timedelta(minutes=5), feeds=3, per_feed=2
    )
    dead = [Feed(f"dead{n}", http_server.url(f"/dead{n}/rss.xml")) for n in range(2)]
    for n in range(2):
        http_server.add(f"/dead{n}/rss.xml", status=500, body=b"down", delay=0.2)
    folder = write_config(tmp_path / "cfg", [feeds[0], *dead, *feeds[1:]],
                          models_dir=models_dir)  # fmt: skip
    code, out = on_pty("poll", "--config", str(folder))
    assert code == 0, out
    lines = visible_lines(out)
    warnings = [line for line in lines if " WARNING " in line]
    assert len(warnings) == 2, lines
    stamp = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} WARNING ")
    assert all(stamp.match(line) for line in warnings), warnings
    assert {re.search(r"feed=(\w+)", w)[1] for w in warnings} == {"dead0", "dead1"}
    # the bar is still drawn after the warnings, and it ends at 100%
    last_warning = max(i for i, line in enumerate(lines) if " WARNING " in line)
    assert any(line.startswith("poll") for line in lines[last_warning + 1 :]), lines
    assert any(line.startswith("poll") and line.endswith("100%") for line in lines)


@pytest.mark.parametrize("command", ["run", "poll"])
def test_quiet_draws_no_bar_on_a_terminal(folder: Path, command: str):
    code, out = on_pty(command, "-q", "--config", str(folder))
    assert code == 0
    assert out == ""


@pytest.mark.parametrize("command", list(COMMANDS))
def test_cron_quiet_prints_nothing_when_nothing_is_wrong(folder: Path, command: str):
    for before in COMMANDS[command]:
        done = piped(*before, "-q", "--config", str(folder))
        assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    quiet = piped(command, "-q", "--config", str(folder))
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    loud = piped(command, "--config", str(folder))
    assert loud.returncode == 0
    assert loud.stdout == ""
    lines = loud.stderr.splitlines()
    assert len(lines) == 1, loud.stderr
    assert lines[0].startswith("feeds "), loud.stderr
    assert "\x1b" not in loud.stderr  # no bar when stderr is not a terminal


def test_dead_host_is_one_warning_with_a_count(http_server, tmp_path, models_dir):
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens: connection refused
    now = datetime.now(UTC)
    items = "".join(
        f"<item><title>Новость {n}</title><link>{dead}/news/{n}</link>"
        f"<guid>d{n}</guid><pubDate>{format_datetime(now - timedelta(minutes=n))}"
        f"</pubDate><description>Текст новости номер {n}.</description></item>"
        for n in range(12)
    )
    url = http_server.add(
        "/dead.xml",
        body=f"<rss version='2.0'><channel><title>D</title>{items}</channel></rss>".encode(),
        content_type="application/rss+xml",
    )
    feeds = [Feed("dead", url)]
    folder = write_config(
        tmp_path / "cfg", feeds, models_dir=models_dir, max_articles=50
    )
    first = piped("run", "-q", "--no-digest", "--config", str(folder))
    assert (first.returncode, first.stderr) == (0, "")  # a retry is not a problem yet
    second = piped("run", "-q", "--no-digest", "--config", str(folder))
    assert second.returncode == 0
    lines = second.stderr.splitlines()
    assert len(lines) == 1, second.stderr  # not 12 lines, one per article
    assert "WARNING" in lines[0]
    assert "pages failed host=127.0.0.1 count=12 fallback=feed text" in lines[0]
