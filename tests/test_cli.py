"""The CLI end to end: thin commands over the pipeline, quiet for cron, clear errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from click.testing import CliRunner

from monitor.cli import cli
from monitor.lock import run_lock
from tests.sitegen import NOW, TITLES, build_site, write_config

FIXTURE_MODEL = "models/test-fixture/translate-ru_en-testfixture-0_0.argosmodel"


def invoke(tmp_path, *args):
    result = CliRunner().invoke(
        cli, [*args, "--config", str(tmp_path)], catch_exceptions=False
    )
    return result


def test_run_status_explain_stories_digest(http_server, tmp_path):
    site = build_site(http_server, ["protest", "energy"], NOW)
    write_config(
        tmp_path,
        [
            ("kz-news", site.feed_url, "ru"),
            ("gone", http_server.url("/missing.xml"), "ru"),
        ],
    )
    result = invoke(tmp_path, "run", "--no-digest")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""  # under cron: nothing on stdout
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("feeds 1 ok / 1 error / 0 not modified; articles 2 new")
    assert "polled feed=gone status=error" in result.stderr  # the warning cron mails

    status = invoke(tmp_path, "status")
    assert "failing" in status.stdout
    assert "gone" in status.stdout
    report = json.loads(invoke(tmp_path, "status", "--json").stdout)
    health = {f["name"]: f["health"] for f in report["feeds"]}
    assert health == {"kz-news": "ok", "gone": "failing"}
    assert report["stages"]["extract"] == {"done": 2}
    assert report["recent_failures"][0]["resource"] == "gone"
    assert report["last_poll_totals"] == {"ok": 1, "error": 1}
    rerun = invoke(tmp_path, "poll", "kz-news")  # named: polled although not due
    assert rerun.exit_code == 0
    assert "Last poll: 1 error, 1 not modified" in invoke(tmp_path, "status").stdout

    explained = invoke(tmp_path, "explain", "1")
    assert explained.exit_code == 0
    assert "stored filings" in explained.stdout
    missing = invoke(tmp_path, "explain", "999")
    assert missing.exit_code == 1
    assert "no article with id 999" in missing.stderr

    day = NOW.astimezone(UTC).date().isoformat()
    stories = invoke(tmp_path, "stories", "--date", day)
    assert TITLES["energy"] in stories.stdout
    digest = invoke(tmp_path, "digest", "--date", day, "--no-send")
    assert digest.exit_code == 0
    paths = digest.stdout.split()
    assert any(p.endswith(f"{day}.html") for p in paths)


def test_bad_config_lists_every_problem_and_touches_no_network(http_server, tmp_path):
    write_config(
        tmp_path,
        [("a", http_server.url("/rss.xml"), "russian")],
        extra="[poll]\nmin_intervall = 5\n",
    )
    result = invoke(tmp_path, "run")
    assert result.exit_code == 1
    assert (
        "poll.min_intervall: unknown key (did you mean 'min_interval'?)"
        in result.stderr
    )
    assert "lang: 'russian' is not a language code" in result.stderr
    assert http_server.requests == []


def test_overlapping_run_exits_cleanly(http_server, tmp_path):
    write_config(tmp_path, [("a", http_server.url("/rss.xml"), "ru")])
    with run_lock(tmp_path / "monitor.db.lock", datetime.now(UTC)):
        result = invoke(tmp_path, "run")
    assert result.exit_code == 0
    assert "skipped" in result.stderr
    assert "holds the lock" in result.stderr
    assert http_server.requests == []


def test_models_install_from_file_and_list(tmp_path, shared_dir):
    write_config(tmp_path, [("a", "https://example.org/rss", "ru")])
    empty = invoke(tmp_path, "models", "list")
    assert "no models installed" in empty.stdout
    assert "no ru→en model" in invoke(tmp_path, "status").stdout
    installed = invoke(
        tmp_path, "models", "install", "--from", str(shared_dir / FIXTURE_MODEL)
    )
    assert installed.exit_code == 0, installed.output
    listed = json.loads(invoke(tmp_path, "models", "list", "--json").stdout)
    assert [(m["from"], m["to"]) for m in listed] == [("ru", "en")]
    report = json.loads(invoke(tmp_path, "status", "--json").stdout)
    assert report["translation"] == {
        "backend": "argos",
        "target": "en",
        "pairs": ["ru-en"],
        "ru_model": True,
    }
    usage = invoke(tmp_path, "models", "install")
    assert usage.exit_code == 2


def test_run_mails_the_digest_once_per_day_unless_forced(http_server, tmp_path, smtp):
    inbox, port = smtp
    site = build_site(http_server, ["protest", "energy"], NOW)
    mail = f"""
[mail]
enabled = true
host = "127.0.0.1"
port = {port}
security = "none"
sender = "monitor@example.org"
[[mail.recipients]]
address = "analyst@example.org"
topics = ["unrest"]
"""
    write_config(tmp_path, [("kz-news", site.feed_url, "ru")], extra=mail)
    assert invoke(tmp_path, "run", "--no-digest").exit_code == 0
    day = NOW.astimezone(UTC).date().isoformat()
    first = invoke(tmp_path, "digest", "--date", day)
    assert first.exit_code == 0, first.output
    assert "sent: 1" in first.stderr
    assert len(inbox.messages) == 1
    msg = inbox.parsed(0)
    assert msg["To"] == "analyst@example.org"
    body = msg.get_body(("plain",)).get_content()
    assert TITLES["protest"] in body  # subscribed topic
    assert TITLES["energy"] not in body  # filed elsewhere: not in this subscription
    again = invoke(tmp_path, "digest", "--date", day)
    assert "skipped: 1" in again.stderr
    assert len(inbox.messages) == 1
    forced = invoke(tmp_path, "digest", "--date", day, "--force")
    assert "sent: 1" in forced.stderr
    assert len(inbox.messages) == 2
