"""Issue #11, integrity points: real processes, real bytes, real SMTP.

- 11: the first open of a new database by two processes at once;
- 8: the entries table stays bounded when a feed renames its guids every poll;
- 9: a canonical URL on another outlet's host cannot take over its article;
- 10: a digest is mailed once even when two senders race;
- 12: characters XML 1.0 forbids never reach an output file;
- 14: DNS rebinding cannot tell an open local port from a closed one.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from tests.httpserver import LocalHTTPServer
from tests.sitegen import NOW, build_site, write_config
from tests.smtpserver import Inbox, free_port

REPO = Path(__file__).resolve().parents[1]
DAY = date(2026, 3, 13)


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
    """`monitor poll` and `monitor init-db` together on a database that is not there.

    (Read-only commands such as `status` refuse a missing database since #10, so
    the two writers that create one race here.)"""
    site = build_site(http_server, ["protest"], NOW)
    failures = []
    for i in range(16):
        folder = tmp_path / f"c{i}"
        folder.mkdir()
        write_config(folder, [("kz", site.feed_url, "ru")])
        at = time.time() + 1.5  # both interpreters are up by then
        procs = [_start(folder, "poll", at=at), _start(folder, "init-db", at=at)]
        for name, proc in zip(("poll", "init-db"), procs, strict=True):
            _out, err = proc.communicate(timeout=120)
            if proc.returncode != 0:
                failures.append((i, name, proc.returncode, err[-300:]))
    assert failures == []


# ------------------------------------------------- 12: XML-forbidden characters

# Every code point class XML 1.0 forbids, as old stored rows may still hold them
# (the input boundary strips them from new rows).  Lone surrogates cannot be
# stored by SQLite, so they are covered by the unit test of the helper.
FORBIDDEN = "\x00\x01\x08\x0b\x0c\x1b\x1f\ufffe\uffff"


def _forbidden_in(text: str) -> list[str]:
    return sorted({c for c in text if c in FORBIDDEN or "\ud800" <= c <= "\udfff"})


def _poison(storage) -> None:
    db = storage._db
    bad = f"Poisoned {FORBIDDEN} title &#xFFFF; \uffff end"
    db.execute(
        "UPDATE articles SET title = ?, title_en = ?, text = ?, text_en = ?,"
        " summary = ?",
        (bad, bad, f"Text {FORBIDDEN}. " * 3, f"Text {FORBIDDEN}. " * 3, bad),
    )
    db.execute("UPDATE feeds SET outlet = outlet || ?", (FORBIDDEN,))
    db.execute("UPDATE entries SET link = link || ?", ("\uffff",))
    db.commit()


def test_every_digest_output_is_free_of_xml_forbidden_characters(tmp_path, smtp):
    from xml.etree import ElementTree

    from monitor.digest import build_digest, send_digest, write_digest
    from monitor.store import Storage
    from tests.test_digest_helpers import (
        GENERATED_AT,
        TOPICS,
        digest_config,
        sample_db,
    )
    from tests.test_mail import ALL, config

    inbox, port = smtp
    with Storage(tmp_path / "m.db") as storage:
        sample_db(storage)
        _poison(storage)
        cfg = digest_config(tmp_path)
        digest = build_digest(
            storage,
            day=DAY,
            cfg=cfg.digest,
            topic_order=TOPICS,
            now=GENERATED_AT,
        )
        paths = write_digest(digest, cfg, storage)
        mail_cfg = config(tmp_path, port, ALL)
        sent = send_digest(digest, mail_cfg, storage, env={}, now=GENERATED_AT)
    assert [r.status for r in sent] == ["sent"]
    suffixes = {p.suffix for p in paths}
    assert suffixes >= {".html", ".txt", ".md", ".json", ".xml"}
    for path in paths:
        text = path.read_text(encoding="utf-8")
        assert "Poisoned" in text or path.name == "index.html", path
        assert _forbidden_in(text) == [], path
        if path.suffix == ".json":
            assert _forbidden_in(json.dumps(json.loads(text), ensure_ascii=False)) == []
        if path.suffix == ".xml":
            ElementTree.fromstring(path.read_bytes())  # strict: no recovery
    msg = inbox.parsed(0)
    parts = [msg["Subject"], *(p.get_content() for p in msg.iter_parts())]
    assert "Poisoned" in "".join(parts)
    for part in parts:
        assert _forbidden_in(part) == []


def test_strip_xml_forbidden_keeps_every_allowed_character():
    from monitor.xmlsafe import strip_xml_forbidden, strip_xml_forbidden_data

    allowed = "\t\n\r -~\u00a0Жж\ud7ff\ue000\ufffd\U00010000\U0010ffff"
    assert strip_xml_forbidden(allowed) == allowed
    assert strip_xml_forbidden(f"a{FORBIDDEN}\ud800\udfffb") == "ab"
    data = {"k\uffff": ["x\x01", ("y\ud800",), 3, None]}
    assert strip_xml_forbidden_data(data) == {"k": ["x", ["y"], 3, None]}


# ------------------------------------------------------ 10: a digest mailed twice


class _SlowInbox(Inbox):
    """Accepts the message, then waits before answering 250 to DATA.

    The sender is then inside "sent but not yet recorded" for ``delay`` seconds:
    the window in which a second sender used to see "not sent yet".
    """

    delay: float = 1.0

    async def handle_DATA(self, server, session, envelope) -> str:
        result = await super().handle_DATA(server, session, envelope)
        await asyncio.sleep(self.delay)
        return result


@pytest.fixture
def slow_smtp() -> Iterator[tuple[_SlowInbox, int]]:
    inbox = _SlowInbox()
    port = free_port()
    ctl = Controller(inbox, hostname="127.0.0.1", port=port, auth_require_tls=False)
    ctl.start()
    try:
        yield inbox, port
    finally:
        ctl.stop()


def _mail_folder(tmp_path: Path, port: int) -> Path:
    folder = tmp_path / "cfg"
    folder.mkdir(exist_ok=True)
    write_config(
        folder,
        [("kz", "http://127.0.0.1:9/rss.xml", "ru")],
        extra=(
            '[mail]\nenabled = true\nhost = "127.0.0.1"\n'
            f'port = {port}\nsecurity = "none"\ntimeout = 10.0\n'
            'sender = "monitor@example.org"\n'
            '[[mail.recipients]]\naddress = "analyst@example.org"\n'
        ),
    )
    init = _start(folder, "init-db")  # digest refuses a missing database (#10)
    _out, err = init.communicate(timeout=60)
    assert init.returncode == 0, err
    return folder


@pytest.mark.slow
def test_two_digest_commands_at_once_mail_once(tmp_path, slow_smtp):
    inbox, port = slow_smtp
    folder = _mail_folder(tmp_path, port)
    rounds = 4
    for r in range(rounds):
        day = f"2026-03-{10 + r:02d}"
        at = time.time() + 1.5
        procs = [
            _start(folder, "digest", "--date", day, at=at),
            _start(folder, "digest", "--date", day, at=at),
        ]
        for proc in procs:
            _out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
    assert len(inbox.messages) == rounds  # 8 before the claim (issue #11.10)


def _age_claims(db_path: Path, minutes: int) -> None:
    """Let time pass for the claims (the lease is 10 minutes of wall clock)."""
    with closing(sqlite3.connect(db_path)) as db:
        rows = db.execute("SELECT day, recipient, claimed_at FROM delivery_claims")
        for day, rcpt, at in rows.fetchall():
            old = datetime.fromisoformat(at) - timedelta(minutes=minutes)
            db.execute(
                "UPDATE delivery_claims SET claimed_at = ? WHERE day = ? AND"
                " recipient = ?",
                (old.isoformat(timespec="seconds"), day, rcpt),
            )
        db.commit()


def _killed_after_send(folder: Path, inbox: _SlowInbox, day: str) -> None:
    """Start `monitor digest`, SIGKILL it once the server has the message."""
    before = len(inbox.messages)
    proc = _start(folder, "digest", "--date", day)
    deadline = time.monotonic() + 60
    while len(inbox.messages) == before:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)  # inside "sent, not yet marked done"
    proc.communicate(timeout=30)


def _digest(folder: Path, day: str, *, code: int = 0) -> str:
    proc = _start(folder, "digest", "--date", day)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    return err


@pytest.mark.slow
def test_kill_between_claim_and_mark_mails_at_most_twice(tmp_path, slow_smtp):
    inbox, port = slow_smtp
    inbox.delay = 5.0
    folder = _mail_folder(tmp_path, port)
    day = "2026-03-13"
    _killed_after_send(folder, inbox, day)
    assert len(inbox.messages) == 1
    inbox.delay = 0.0
    assert "skipped: 1" in _digest(folder, day)  # claim still fresh: in progress
    assert len(inbox.messages) == 1
    _age_claims(folder / "monitor.db", 11)  # the lease ran out: the one retry
    inbox.delay = 5.0
    _killed_after_send(folder, inbox, day)
    assert len(inbox.messages) == 2
    inbox.delay = 0.0
    _age_claims(folder / "monitor.db", 11)
    # never a third copy; a delivery given up is a mail failure: exit 1 (#10)
    assert "mailing it failed for 1 recipient" in _digest(folder, day, code=1)
    assert len(inbox.messages) == 2
    status = _start(folder, "status").communicate(timeout=60)[0]
    assert "interrupted twice" in status


@pytest.mark.slow
def test_kill_then_retry_completes_and_then_stays_sent(tmp_path, slow_smtp):
    inbox, port = slow_smtp
    inbox.delay = 5.0
    folder = _mail_folder(tmp_path, port)
    day = "2026-03-13"
    _killed_after_send(folder, inbox, day)
    inbox.delay = 0.0
    _age_claims(folder / "monitor.db", 11)
    assert "sent: 1" in _digest(folder, day)
    assert "skipped: 1" in _digest(folder, day)
    assert len(inbox.messages) == 2


def test_decide_claim_rule(now):
    from monitor.mail import CLAIM_LEASE, ClaimAction, decide_claim
    from monitor.models import DeliveryClaim

    fresh = DeliveryClaim(claimed_at=now - timedelta(minutes=1), attempts=1)
    stale = DeliveryClaim(claimed_at=now - CLAIM_LEASE, attempts=1)
    stale2 = DeliveryClaim(claimed_at=now - CLAIM_LEASE, attempts=2)
    assert decide_claim(None, delivered=False, now=now) == ClaimAction.SEND
    assert decide_claim(None, delivered=True, now=now) == ClaimAction.ALREADY_SENT
    assert decide_claim(None, delivered=True, now=now, force=True) == "send"
    for delivered in (False, True):
        assert decide_claim(fresh, delivered=delivered, now=now, force=True) == (
            ClaimAction.IN_PROGRESS
        )
    assert decide_claim(stale, delivered=False, now=now) == ClaimAction.SEND
    assert decide_claim(stale2, delivered=False, now=now) == ClaimAction.GAVE_UP
    assert decide_claim(stale2, delivered=False, now=now, force=True) == "send"


# ------------------------------------------- 8: entries bounded under guid churn

CHURN_ITEMS = 20
CHURN_POLLS = 6


def _churning_feed(server: LocalHTTPServer) -> str:
    """20 items whose links never change but whose guids are new on every poll."""
    from tests.httpserver import Response

    def feed(_req) -> Response:
        poll = len(server.requests_to("/churn.xml"))
        items = "".join(
            f"<item><title>Новость номер {n}</title>"
            f"<link>{server.url(f'/news/{n}')}?utm_source=rss&amp;utm_content={poll}</link>"
            f"<guid isPermaLink='false'>poll{poll}-item{n}</guid>"
            f"<description>Текст новости номер {n}.</description></item>"
            for n in range(CHURN_ITEMS)
        )
        xml = f"<rss version='2.0'><channel><title>Лента</title>{items}</channel></rss>"
        return Response(body=xml.encode(), content_type="application/rss+xml")

    return server.route("/churn.xml", feed)


def _count(db_path: Path, table: str) -> int:
    with closing(sqlite3.connect(db_path)) as db:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_entries_stay_bounded_when_guids_churn(tmp_path, http_server):
    url = _churning_feed(http_server)
    write_config(tmp_path, [("churn", url, "ru")], extra="[poll]\nmin_interval = 0\n")
    for _ in range(CHURN_POLLS):
        _out, err = _start(tmp_path, "poll").communicate(timeout=120)
    assert len(http_server.requests_to("/churn.xml")) == CHURN_POLLS, err
    db = tmp_path / "monitor.db"
    assert _count(db, "articles") == CHURN_ITEMS
    # one row per (feed, article): 120 before the fix (issue #11.8)
    assert _count(db, "entries") == CHURN_ITEMS


# ------------------------------------ 9: canonical takeover across registrable domains


def _outlet_feed(base: str, path: str, title: str) -> bytes:
    return (
        "<rss version='2.0'><channel><title>Лента</title>"
        f"<item><title>{title}</title><link>{base}{path}</link>"
        f"<guid>{base}{path}</guid><description>Анонс.</description></item>"
        "</channel></rss>"
    ).encode()


def _outlet_page(title: str, canonical: str, words: str) -> bytes:
    body = "".join(f"<p>{words} Абзац номер {i} этой статьи.</p>" for i in range(6))
    return (
        f'<!DOCTYPE html><html lang="ru"><head><meta charset="utf-8"><title>{title}'
        f'</title><link rel="canonical" href="{canonical}"></head><body><article>'
        f"<h1>{title}</h1>{body}</article></body></html>"
    ).encode()


def _ok(folder: Path, *args: str) -> None:
    proc = _start(folder, *args)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err


def _articles_by_feed(db_path: Path) -> dict[str, tuple[str, str]]:
    with closing(sqlite3.connect(db_path)) as db:
        rows = db.execute(
            "SELECT e.feed_name, a.canonical_url, a.text FROM entries e"
            " JOIN articles a ON a.id = e.article_id"
        ).fetchall()
    return {feed: (url, text or "") for feed, url, text in rows}


def test_canonical_on_another_outlets_host_cannot_take_over(tmp_path, http_server):
    """Outlet B (host ``localhost``) declares a canonical URL on outlet A's host
    (``127.0.0.1``); A later publishes that URL and must get its own article."""
    port = http_server.port
    a_base, b_base = f"http://127.0.0.1:{port}", f"http://localhost:{port}"
    real = f"{a_base}/a/real"
    http_server.add(
        "/b/fake", body=_outlet_page("Выдумка B", real, "Выдуманный текст Б.")
    )
    http_server.add(
        "/a/real", body=_outlet_page("Статья A", real, "Настоящий текст А.")
    )
    b_feed = http_server.add(
        "/b/rss.xml",
        body=_outlet_feed(b_base, "/b/fake", "Выдумка B"),
        content_type="application/rss+xml",
    )
    a_feed = http_server.add(
        "/a/rss.xml",
        body=b"<rss version='2.0'><channel><title>A</title></channel></rss>",
        content_type="application/rss+xml",
    )
    write_config(
        tmp_path,
        [
            ("outlet-a", a_feed, "ru"),
            ("outlet-b", b_feed.replace(a_base, b_base), "ru"),
        ],
        extra="[poll]\nmin_interval = 0\n",
    )
    for cmd in ("poll", "extract"):
        _ok(tmp_path, cmd)
    http_server.add(  # A publishes the URL B pointed at
        "/a/rss.xml",
        body=_outlet_feed(a_base, "/a/real", "Статья A"),
        content_type="application/rss+xml",
    )
    for cmd in ("poll", "extract"):
        _ok(tmp_path, cmd)
    assert http_server.requests_to("/a/real"), "A's page was never fetched"
    seen = _articles_by_feed(tmp_path / "monitor.db")
    assert "Настоящий текст А." in seen["outlet-a"][1]
    assert "Выдуманный" not in seen["outlet-a"][1]
    assert seen["outlet-b"][0] != seen["outlet-a"][0]


@pytest.mark.parametrize(
    ("url", "domain"),
    [
        ("https://news.bbc.co.uk/a", "bbc.co.uk"),
        ("https://www.Tengrinews.KZ/x", "tengrinews.kz"),
        ("https://user.github.io/p", "user.github.io"),  # private suffix section
        ("https://пример.рф/новости", "xn--e1afmkfd.xn--p1ai"),
        ("http://127.0.0.1:8080/x", "127.0.0.1"),
        ("http://localhost:9/x", "localhost"),
        ("http://intranet/x", "intranet"),
        ("http://[::1]:80/", "::1"),
        ("not a url", None),
    ],
)
def test_registrable_domain_offline(url, domain):
    from monitor.urls import registrable_domain

    assert registrable_domain(url) == domain


def test_may_merge_by_canonical_only_within_a_site():
    from monitor.urls import may_merge_by_canonical

    assert may_merge_by_canonical("https://m.vlast.kz/a", "https://vlast.kz/a?x=1")
    assert may_merge_by_canonical(
        "https://a.example.co.uk/", "https://b.example.co.uk/"
    )
    assert not may_merge_by_canonical("https://evil.kz/a", "https://vlast.kz/a")
    assert not may_merge_by_canonical("https://a.github.io/", "https://b.github.io/")
    assert not may_merge_by_canonical("http://localhost/a", "http://127.0.0.1/a")
    assert not may_merge_by_canonical("http://localhost/a", "/relative")
