"""Issue #7: every corpus feed polled through the real pipeline, results read back.

tests/test_corpus_feeds.py checks `parse_feed` on the corpus files; this suite
checks the whole poll stage end to end: the files are served over HTTP by the
``feed_server`` fixture, one ``[[feed]]`` per file, `Pipeline.poll_feeds` runs,
and the assertions read what was *stored* (``entries``, feed state, failures).
Only the poll stage runs: article links point at hosts on the internet.

Pass rates per set are printed (run with ``-s``).
"""

from __future__ import annotations

import ast
import json
import sqlite3
from collections import Counter
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urljoin

import pytest

from monitor import fetch
from monitor.config import load_config
from monitor.pipeline import Pipeline, open_storage
from tests.test_corpus_feeds import (
    _ENTRY0_RE,
    _conformance_case,
    _iso,
    _same_title,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SKIP_SUFFIXES = {".json", ".md", ".txt"}
SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class Stored:
    """What the pipeline left in the database for one corpus feed."""

    status: str | None
    error: str | None
    entries: list[sqlite3.Row]


def _corpus_files(feeds_root: Path) -> list[Path]:
    return sorted(
        p
        for p in feeds_root.rglob("*")
        if p.is_file()
        and p.suffix not in SKIP_SUFFIXES
        and "LICENSE" not in p.name
        and "expected" not in p.parts
    ) + sorted((feeds_root / "feed-rs-fixtures").rglob("*.json"))


def _is_source(path: Path) -> bool:
    return not path.name.endswith(".serde.json")


def _headers(path: Path) -> dict[str, str]:
    """The HTTP headers a conformance case asks for in its ``Header:`` lines."""
    if "feedparser-conformance" not in path.parts:
        return {}
    pairs = (h.partition(":") for h in _conformance_case(path).get("Header", []))
    return {k.strip().lower(): v.strip() for k, _, v in pairs}


@pytest.fixture(scope="module")
def polled(tmp_path_factory, corpus_dir_module):
    """Poll every corpus feed once through `Pipeline.poll_feeds`."""
    from tests.httpserver import LocalHTTPServer

    feeds_root = corpus_dir_module / "feeds"
    files = [p for p in _corpus_files(feeds_root) if _is_source(p)]
    tmp = tmp_path_factory.mktemp("corpus")
    with LocalHTTPServer() as server:
        server.serve_directory("/feeds/", feeds_root)
        names: dict[str, Path] = {}
        tables = []
        for path in files:
            rel = path.relative_to(feeds_root).as_posix()
            url_path = "/feeds/" + quote(rel)
            headers = _headers(path)
            if headers:  # the suite's simulated HTTP headers
                ctype = headers.pop("content-type", "application/xml")
                server.add(
                    url_path,
                    body=path.read_bytes(),
                    content_type=ctype,
                    headers=headers,
                )
            names[rel] = path
            tables.append(
                f"[[feed]]\nname = {json.dumps(rel)}\nurl = "
                f"{json.dumps(server.url(url_path))}\noutlet = 'corpus'\n"
                "lang = 'en'\ncountry = 'intl'\n"
            )
        (tmp / "feeds.toml").write_text("\n".join(tables), encoding="utf-8")
        repo_topics = Path(__file__).resolve().parents[1] / "config" / "topics.toml"
        (tmp / "topics.toml").write_bytes(repo_topics.read_bytes())
        (tmp / "monitor.toml").write_text(
            f'[store]\npath = "{tmp / "monitor.db"}"\n'
            "[fetch]\nallow_private = true\nper_host_delay = 0.0\n"
            "per_host_concurrency = 8\nworkers = 8\ntimeout = 10.0\n",
            encoding="utf-8",
        )
        cfg = load_config(tmp, env={})
        with (
            closing(open_storage(cfg)) as storage,
            Pipeline(
                cfg=cfg,
                storage=storage,
                client=fetch.make_client(cfg.fetch),
                now=lambda: NOW,
            ) as pipeline,
        ):
            pipeline.poll_feeds()
            summary = dict(pipeline.summary.counts)
            states = storage.get_feed_states()
            failures = storage.get_recent_failures(limit=10_000)
            integrity = storage.integrity_check()
        base = {rel: server.url("/feeds/" + quote(rel)) for rel in names}
    with closing(sqlite3.connect(f"file:{tmp / 'monitor.db'}?mode=ro", uri=True)) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute("SELECT * FROM entries ORDER BY rowid").fetchall()
    by_feed: dict[str, list[sqlite3.Row]] = {rel: [] for rel in names}
    for row in rows:
        by_feed[row["feed_name"]].append(row)
    stored = {
        rel: Stored(states[rel].last_status, states[rel].last_error, by_feed[rel])
        for rel in names
    }
    return {
        "files": names,
        "stored": stored,
        "summary": summary,
        "failures": failures,
        "integrity": integrity,
        "base": base,
    }


@pytest.fixture(scope="module")
def corpus_dir_module():
    from tests.conftest import SHARED_DIR

    corpus = SHARED_DIR / "corpus"
    if not (corpus / "feeds").is_dir():
        pytest.skip(f"../shared not found: {corpus}")
    return corpus


def test_every_feed_is_stored_or_has_a_recorded_error(polled):
    stored: dict[str, Stored] = polled["stored"]
    assert len(stored) > 900
    assert polled["integrity"] == "ok"
    failed_resources = {f.resource for f in polled["failures"]}
    per_set: dict[str, Counter[str]] = {}
    for rel, s in stored.items():
        outcome = _outcome(s)
        per_set.setdefault(rel.split("/")[0], Counter())[outcome] += 1
        if outcome == "error":
            # a readable, recorded error: in the feed state and in the failures log
            assert s.error, rel
            assert s.error.strip(), rel
            assert "Traceback" not in s.error, rel
            assert rel in failed_resources, rel
        else:
            assert s.status == "ok", (rel, s.status)
    for name, counts in sorted(per_set.items()):
        total = sum(counts.values())
        print(
            f"{name}: {total} feeds, {counts['items']} stored items, "
            f"{counts['empty']} ok without items, {counts['error']} recorded errors "
            f"(pass {(counts['items'] + counts['empty']) / total:.3f})"
        )
    summary = polled["summary"]
    assert summary["feeds_ok"] + summary["feeds_error"] == len(stored)
    errors = sum(c["error"] for c in per_set.values())
    assert errors == summary["feeds_error"]
    for rel, s in stored.items():
        if s.status == "error":
            print(f"  error {rel}: {s.error}")
    # measured 2026-11-26: 2, both expected failures of their suites
    assert errors <= 4
    assert per_set["real-world-ru"]["items"] == 9  # every Russian feed stored


def _outcome(s: Stored) -> str:
    if s.status == "error":
        return "error"
    return "items" if s.entries else "empty"


def test_feeds_stored_without_items_really_have_none_with_a_link(polled):
    """An 'ok' feed with nothing stored must be one whose entries all lack a link."""
    import io

    import feedparser

    stored: dict[str, Stored] = polled["stored"]
    for rel, s in stored.items():
        if _outcome(s) != "empty":
            continue
        raw = feedparser.parse(io.BytesIO(polled["files"][rel].read_bytes()))
        links = [e.get("link") for e in raw.entries if e.get("link")]
        usable = [
            u for u in links if urljoin(polled["base"][rel], u).startswith("http")
        ]
        assert not usable, (rel, usable[:3])


def test_stored_entries_agree_with_feedparser_expectations(polled):
    stored: dict[str, Stored] = polled["stored"]
    compared = agreed = 0
    misses = []
    for rel, path in polled["files"].items():
        if not rel.startswith("feedparser-conformance/"):
            continue
        expect = _conformance_case(path).get("Expect", [""])[0]
        for field, literal in _ENTRY0_RE.findall(expect):
            rows = stored[rel].entries
            if not rows:
                continue  # no stored entry to compare (no link: see the test above)
            compared += 1
            if _row_agrees(rows[0], field, literal):
                agreed += 1
            else:
                misses.append((rel, field, rows[0][_column(field)], literal))
    print(f"feedparser Expect on stored entries[0]: {agreed}/{compared}", misses[:10])
    # measured 2026-11-26: 43/44; the miss is a relative link the suite resolves
    # against a Content-Location header, which we do not use as a base (RFC 7231
    # dropped that rule; we resolve against the URL actually fetched)
    assert compared >= 30
    assert agreed / compared >= 0.9


def _column(field: str) -> str:
    return {"title": "title", "link": "link"}.get(field, "published")


def _row_agrees(row: sqlite3.Row, field: str, literal: str) -> bool:
    value = ast.literal_eval(literal.lstrip("u"))
    if field == "title":
        return _same_title(row["title"], value)
    if field == "link":
        return row["link"] == value or not value.startswith("http")
    stored = datetime.fromisoformat(row["published"]) if row["published"] else None
    return stored == datetime(*value[:6]).replace(tzinfo=UTC)


def test_stored_entries_agree_with_feed_rs_gold(polled):
    root = "feed-rs-fixtures/"
    rates = _Agreement()
    for rel, path in polled["files"].items():
        if not rel.startswith(root):
            continue
        stem = path.name.rsplit(".", 1)[0]
        gold_path = path.with_name(stem + ".serde.json")
        if not gold_path.exists():
            continue
        gold = json.loads(gold_path.read_text(encoding="utf-8"))
        rows = polled["stored"][rel].entries
        for row, entry in zip(rows, gold["entries"], strict=False):
            links = [link["href"] for link in entry.get("links") or []]
            rates.compare(
                rel,
                row,
                (entry.get("title") or {}).get("content"),
                links[0] if links else None,
                _iso(entry.get("published") or entry.get("updated")),
                polled["base"][rel],
            )
    rates.check("feed-rs")


def test_stored_entries_agree_with_rss_parser_gold(polled):
    root = "rss-parser-fixtures/input/"
    rates = _Agreement()
    for rel, path in polled["files"].items():
        if not rel.startswith(root):
            continue
        gold_path = path.parent.parent / "expected" / (path.stem + ".json")
        if not gold_path.exists():
            continue
        gold = json.loads(gold_path.read_bytes().decode("utf-8", "replace"))["feed"]
        items = gold.get("items") or []
        rows = polled["stored"][rel].entries
        for row, entry in zip(rows, items, strict=False):
            rates.compare(
                rel,
                row,
                entry.get("title"),
                entry.get("link"),
                _iso(entry.get("isoDate") or entry.get("pubDate")),
                polled["base"][rel],
            )
    rates.check("rss-parser")


class _Agreement:
    def __init__(self) -> None:
        self.total: Counter[str] = Counter()
        self.hits: Counter[str] = Counter()
        self.misses: list[tuple[str, str, object, object]] = []

    def _count(self, rel: str, field: str, ok: bool, ours, gold) -> None:
        self.total[field] += 1
        self.hits[field] += ok
        if not ok:
            self.misses.append((rel, field, ours, gold))

    def compare(self, rel, row, title, link, date, base) -> None:
        if title and "\ufffd" not in title:  # rss-parser's gold garbles ISO-8859-1
            self._count(
                rel, "title", _same_title(row["title"], title), row["title"], title
            )
        if link:
            # the gold leaves relative links unresolved; we resolve them
            want = urljoin(base, link).rstrip("/")
            self._count(rel, "link", row["link"].rstrip("/") == want, row["link"], link)
        if date is not None:
            ours = (
                datetime.fromisoformat(row["published"]) if row["published"] else None
            )
            ok = ours is not None and abs(ours - date) < SECOND
            self._count(rel, "date", ok, ours, date)

    def check(self, name: str) -> None:
        rates = {k: self.hits[k] / self.total[k] for k in self.total}
        print(f"{name} stored vs gold:", rates, dict(self.total), self.misses[:10])
        for field in ("title", "link", "date"):
            assert self.total[field] >= 20, (field, self.total)
            assert rates[field] >= 0.95, (field, self.misses[:10])
