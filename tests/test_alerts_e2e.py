"""Alerts end to end (issue #16): the installed `monitor`, a real local site, a
real webhook receiver on 127.0.0.1 and a real SMTP server (aiosmtpd).

- a watch on a name gets exactly one POST naming the story after the run that
  brought it, and none on the next run with nothing new; the mail and the Atom
  file too; a cron-style ``-q`` run prints nothing;
- the story grows to 3 outlets: one follow-up;
- a receiver that fails: the run still succeeds, `monitor status` shows it, and
  the next run delivers;
- a webhook on 127.0.0.1 without allow_private is refused (SSRF rules);
- kill -9 between "sent" and "marked": re-sent once, never a third time.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from contextlib import closing
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path

import pytest

from tests.httpserver import LocalHTTPServer
from tests.sitegen import PARAGRAPHS, TITLES, TOPICS
from tests.test_hardening_site import child_env
from tests.webhook import WebhookReceiver

MONITOR = str(Path(sys.executable).parent / "monitor")  # the installed executable
ATOM = "{http://www.w3.org/2005/Atom}"


def page(title: str, paragraphs: list[str]) -> bytes:
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return (
        f'<!DOCTYPE html><html lang="ru"><head><meta charset="utf-8"><title>{escape(title)}'
        f"</title></head><body><article><h1>{escape(title)}</h1>{body}</article>"
        "</body></html>"
    ).encode()


def add_outlet(
    server: LocalHTTPServer, i: int, slugs: list[str], ago: float = 30
) -> str:
    """Outlet ``o<i>``: a feed of ``slugs``, each with its own article page,
    published ``ago`` minutes ago."""
    now = datetime.now(UTC) - timedelta(minutes=ago)
    items = []
    for slug in slugs:
        link = server.add(
            f"/o{i}/news/{slug}", body=page(TITLES[slug], PARAGRAPHS[slug])
        )
        items.append(
            f"<item><title>{escape(TITLES[slug])}</title><link>{link}</link>"
            f"<guid>o{i}-{slug}</guid><pubDate>{format_datetime(now)}</pubDate></item>"
        )
    xml = (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
        f"<title>o{i}</title>{''.join(items)}</channel></rss>"
    )
    return server.add(
        f"/o{i}/rss.xml", body=xml.encode(), content_type="application/rss+xml"
    )


def write_config(folder: Path, feeds: list[str], watch: str, extra: str = "") -> None:
    folder.mkdir(exist_ok=True)
    (folder / "monitor.toml").write_text(
        f"""
[store]
path = "{folder / "monitor.db"}"
[fetch]
allow_private = true      # the test site is on 127.0.0.1
per_host_delay = 0.0
timeout = 5.0
total_timeout = 10.0
[classify]
topics_file = "{TOPICS}"
[translate]
backend = "none"
[alerts]
webhook_timeout = 5.0
webhook_attempts = 2
webhook_backoff = 0.1
{extra}
{watch}
""",
        encoding="utf-8",
    )
    (folder / "feeds.toml").write_text(
        "".join(
            f'[[feed]]\nname = "o{i}"\nurl = "{u}"\noutlet = "Outlet {i}"\n'
            'lang = "ru"\ncountry = "KZ"\n\n'
            for i, u in enumerate(feeds)
        ),
        encoding="utf-8",
    )


def monitor(
    folder: Path, *args: str, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MONITOR, *args, "--config", str(folder)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=timeout,
        check=False,
    )


def watch_table(
    hook: str, *, more: str = "", private: bool = True, bursts: bool = False
) -> str:
    return (
        '[[watch]]\nname = "dosaev"\nquery = "Досаев"\n'
        f'notify = ["{hook}"{more}]\nfollow_up = [3]\n'
        f"allow_private = {'true' if private else 'false'}\n"
        f"bursts = {'true' if bursts else 'false'}\n"
    )


@pytest.fixture
def hook():
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.mark.slow
def test_a_watch_on_a_name_alerts_once_then_follows_up(
    tmp_path, http_server, hook, smtp
):
    inbox, port = smtp
    folder = tmp_path / "cfg"
    feeds = [add_outlet(http_server, 0, ["protest", "energy"])]
    mail = (
        f'[mail]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
        'sender = "monitor@example.org"\n'
    )
    more = ', "mailto:analyst@example.org", "atom:alerts/dosaev.xml"'
    write_config(folder, feeds, watch_table(hook.url(), more=more), extra=mail)

    cron = monitor(folder, "run", "-q")  # as cron runs it: silent when all is well
    assert (cron.returncode, cron.stdout, cron.stderr) == (0, "", "")
    assert len(hook.posts) == 1
    _path, headers, body = hook.posts[0]
    assert headers["content-type"].startswith("application/json")
    assert body["watch"] == "dosaev"
    assert body["kind"] == "alert"
    assert "Шанырак" in body["story"]["title"]
    assert "Досаев" in " ".join(body["matched_terms"])
    assert body["story"]["outlets"] == ["Outlet 0"]
    assert body["story"]["languages"] == ["ru"]
    assert body["links"]
    assert body["links"][0].startswith("http://127.0.0.1")
    mails = inbox.by_rcpt("analyst@example.org")
    assert len(mails) == 1
    assert "Шанырак" in str(mails[0]["Subject"])
    feed = ET.parse(folder / "alerts" / "dosaev.xml").getroot()
    assert len(feed.findall(f"{ATOM}entry")) == 1

    again = monitor(folder, "run")  # nothing new: nothing sent
    assert again.returncode == 0, again.stderr
    assert len(hook.posts) == 1
    assert len(inbox.messages) == 1
    assert "alerts" not in again.stderr  # the summary line names none

    listed = json.loads(monitor(folder, "alerts", "--json").stdout)
    assert sorted(r["target"].split(":")[0] for r in listed) == [
        "atom",
        "http",
        "mailto",
    ]
    text = monitor(folder, "alerts", "--since", "1h").stdout
    assert text.count("dosaev  story") == 3

    # two more outlets carry the story: it reaches follow_up = 3
    feeds += [add_outlet(http_server, i, ["protest"]) for i in (1, 2)]
    write_config(folder, feeds, watch_table(hook.url(), more=more), extra=mail)
    grown = monitor(folder, "run")
    assert grown.returncode == 0, grown.stderr
    assert "alerts 3 sent" in grown.stderr
    assert len(hook.posts) == 2
    follow = hook.posts[1][2]
    assert (follow["kind"], follow["level"], follow["outlet_count"]) == (
        "follow_up",
        3,
        3,
    )
    assert follow["story"]["id"] == body["story"]["id"]
    feed = ET.parse(folder / "alerts" / "dosaev.xml").getroot()
    assert len(feed.findall(f"{ATOM}entry")) == 2
    assert monitor(folder, "run").returncode == 0
    assert len(hook.posts) == 2


@pytest.mark.slow
def test_watch_test_shows_without_sending(tmp_path, http_server, hook):
    folder = tmp_path / "cfg"
    write_config(
        folder, [add_outlet(http_server, 0, ["protest"])], watch_table(hook.url())
    )
    assert monitor(folder, "run", "--no-digest").returncode == 0
    hook.posts.clear()
    # nothing left to send: watch test says so
    out = monitor(folder, "watch", "test", "dosaev")
    assert out.returncode == 0
    assert "nothing would be sent now" in out.stdout
    # a fresh database with the same articles, not yet alerted: it shows the story
    with closing(sqlite3.connect(folder / "monitor.db")) as db:
        db.execute("DELETE FROM alerts")
        db.commit()
    out = monitor(folder, "watch", "test", "dosaev")
    assert out.returncode == 0, out.stderr
    assert "would send: #" in out.stdout
    assert "Шанырак" in out.stdout
    assert "matched: Досаев" in out.stdout
    assert hook.posts == []
    bad = monitor(folder, "watch", "test", "dosaeb")
    assert bad.returncode == 2
    assert "unknown watch 'dosaeb'" in bad.stderr


@pytest.mark.slow
def test_failing_receiver_never_fails_the_run_and_is_retried(
    tmp_path, http_server, hook
):
    folder = tmp_path / "cfg"
    write_config(
        folder, [add_outlet(http_server, 0, ["protest"])], watch_table(hook.url())
    )
    hook.statuses = [500, 503]  # both attempts of the first run fail
    first = monitor(folder, "run", "-q")
    assert first.returncode == 0
    assert "HTTP 503" in first.stderr
    assert "after 2 attempt(s)" in first.stderr
    assert len(first.stderr.strip().splitlines()) == 1  # one line
    status = monitor(folder, "status").stdout
    assert "alerts" in status
    assert "HTTP 503" in status
    assert "1 waiting to be retried" in status
    second = monitor(folder, "run", "-q")
    assert (second.returncode, second.stderr) == (0, "")
    assert len(hook.posts) == 3  # 2 failed + 1 delivered
    assert monitor(folder, "run", "-q").returncode == 0
    assert len(hook.posts) == 3


@pytest.mark.slow
def test_webhook_on_a_private_address_is_refused_unless_allowed(
    tmp_path, http_server, hook
):
    folder = tmp_path / "cfg"
    feeds = [add_outlet(http_server, 0, ["protest"])]
    write_config(folder, feeds, watch_table(hook.url(), private=False))
    run = monitor(folder, "run", "-q")
    assert run.returncode == 0
    assert "non-public address 127.0.0.1" in run.stderr
    assert hook.posts == []


def _age_claims(db_path: Path, minutes: int) -> None:
    """Let the claim lease (10 minutes of wall clock) pass."""
    with closing(sqlite3.connect(db_path)) as db:
        for key, at in db.execute(
            "SELECT rowid, claimed_at FROM alerts WHERE claimed_at IS NOT NULL"
        ).fetchall():
            old = datetime.fromisoformat(at) - timedelta(minutes=minutes)
            db.execute(
                "UPDATE alerts SET claimed_at = ? WHERE rowid = ?",
                (old.isoformat(timespec="seconds"), key),
            )
        db.commit()


def _killed_after_post(folder: Path, hook: WebhookReceiver) -> None:
    """Start `monitor run`, SIGKILL it once the receiver has the POST."""
    before = len(hook.posts)
    proc = subprocess.Popen(
        [MONITOR, "run", "-q", "--no-digest", "--config", str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_env(),
    )
    deadline = time.monotonic() + 120
    while len(hook.posts) == before:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)  # the receiver has it; not yet marked sent
    proc.communicate(timeout=30)


@pytest.mark.slow
def test_kill_between_send_and_mark_sends_at_most_twice(tmp_path, http_server, hook):
    folder = tmp_path / "cfg"
    write_config(
        folder, [add_outlet(http_server, 0, ["protest"])], watch_table(hook.url())
    )
    hook.delay = 4.0  # the answer waits: the kill lands between send and mark
    _killed_after_post(folder, hook)
    assert len(hook.posts) == 1
    hook.delay = 0.0
    assert monitor(folder, "run", "-q").returncode == 0  # claim fresh: in progress
    assert len(hook.posts) == 1
    _age_claims(folder / "monitor.db", 11)  # the lease ran out: the one re-send
    hook.delay = 4.0
    _killed_after_post(folder, hook)
    assert len(hook.posts) == 2
    hook.delay = 0.0
    _age_claims(folder / "monitor.db", 11)
    assert monitor(folder, "run", "-q").returncode == 0
    assert len(hook.posts) == 2  # never a third copy
    status = monitor(folder, "status").stdout
    assert "1 given up" in status
    assert "interrupted twice while sending" in status


@pytest.mark.slow
def test_kill_then_the_next_run_delivers_and_it_stays_sent(tmp_path, http_server, hook):
    folder = tmp_path / "cfg"
    write_config(
        folder, [add_outlet(http_server, 0, ["protest"])], watch_table(hook.url())
    )
    hook.delay = 4.0
    _killed_after_post(folder, hook)
    hook.delay = 0.0
    _age_claims(folder / "monitor.db", 11)
    assert monitor(folder, "run", "-q").returncode == 0
    assert len(hook.posts) == 2  # at least once: re-sent after the crash
    assert monitor(folder, "run", "-q").returncode == 0
    assert len(hook.posts) == 2
    rows = json.loads(monitor(folder, "alerts", "--json").stdout)
    assert [(r["attempts"], r["target"]) for r in rows] == [(2, hook.url())]


@pytest.mark.slow
def test_a_story_reaching_8_outlets_in_two_hours_is_a_burst(
    tmp_path, http_server, hook
):
    folder = tmp_path / "cfg"
    # outlet i published it 105 - 15 i minutes ago: 1 -> 8 outlets in under 2 h
    feeds = [
        add_outlet(http_server, i, ["protest"], ago=105 - 15 * i) for i in range(8)
    ]
    feeds.append(add_outlet(http_server, 8, ["energy", "court"]))  # not spreading
    write_config(folder, feeds, watch_table(hook.url(), bursts=True))
    run = monitor(folder, "run", "-q")
    assert (run.returncode, run.stderr) == (0, "")
    shown = json.loads(monitor(folder, "bursts", "--json").stdout)
    assert [(s["outlets"], s["new_outlets"]) for s in shown["stories"]] == [(8, 8)]
    text = monitor(folder, "bursts").stdout
    assert "Шанырак" in text
    assert "8 new outlets in 2 h" in text
    kinds = sorted((p[2]["kind"], p[2]["level"]) for p in hook.posts)
    assert kinds == [("alert", 3), ("burst", 0)]  # highest level reached, and the burst
    assert monitor(folder, "run", "-q").returncode == 0
    assert len(hook.posts) == 2  # each once
