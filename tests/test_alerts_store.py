"""The alerts table (issue #16): its migration, and claim -> send -> mark."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import timedelta

from monitor.alerts import SendAction, decide_delivery
from monitor.models import AlertKey
from monitor.store import Storage, _schema

KEY = AlertKey(watch="w", story_id=7, level=3, target="https://h.example/x")


def test_migration_from_the_previous_version_adds_the_alerts_table(tmp_path):
    path = tmp_path / "old.db"
    Storage(path).close()
    # The database at the version before the alerts migration (the later ones
    # are idempotent, so they run again harmlessly on top of it).
    (before,) = [v for v, f in _schema.MIGRATIONS.items() if f is _schema._add_alerts]
    with closing(sqlite3.connect(path)) as db:
        db.execute("DROP TABLE alerts")
        db.execute(f"PRAGMA user_version = {before}")
        db.commit()
    with Storage(path) as s:
        assert s._db.execute("PRAGMA user_version").fetchone()[0] == _schema.VERSION
        assert s.get_unsent_alerts() == []


def may(now):
    return lambda r: decide_delivery(r, now=now, max_failures=5) == SendAction.SEND


def test_claim_send_mark(storage, now):
    s = storage
    assert s.claim_alert(KEY, payload='{"a": 1}', now=now, decide=may(now))
    # a second sender meanwhile: the fresh claim keeps it out
    assert not s.claim_alert(KEY, payload='{"a": 2}', now=now, decide=may(now))
    r = s.get_alert(KEY)
    assert r is not None
    assert (r.attempts, r.claimed_at, r.sent_at) == (1, now, None)
    s.mark_alert_failed(KEY, error="HTTP 500")
    later = now + timedelta(minutes=1)
    assert s.claim_alert(KEY, payload='{"a": 3}', now=later, decide=may(later))
    r = s.get_alert(KEY)
    assert r is not None
    assert (r.attempts, r.failures, r.payload) == (2, 1, '{"a": 1}')  # kept
    s.mark_alert_sent(KEY, now=later)
    assert not s.claim_alert(KEY, payload="{}", now=later, decide=may(later))
    sent = s.get_sent_alerts(now)
    assert [x.key for x in sent] == [KEY]
    assert sent[0].last_error is None
    assert s.get_sent_alerts(later + timedelta(seconds=1)) == []
    assert s.get_sent_alerts(watch="other") == []
    assert s.get_unsent_alerts() == []
    assert [x.key for x in s.get_alert_records([7, 8])] == [KEY]
