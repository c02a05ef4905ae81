"""parse_feed over every feed in ../shared/corpus/feeds, with stated expectations.

Pass rates per set are printed (run with ``-s``) and asserted against floors
measured on 2026-11-26 minus a small margin.
"""

from __future__ import annotations

import ast
import datetime as datetime_module
import email.utils
import io
import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urljoin

import feedparser
import pytest

from monitor.exceptions import FeedError
from monitor.feeds import html_to_text, parse_feed

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
FEEDS = SHARED / "corpus" / "feeds"
NOW = datetime(2026, 11, 26, tzinfo=UTC)
BASE = "http://example.com/feed"
SECOND = timedelta(seconds=1)

pytestmark = pytest.mark.skipif(
    not FEEDS.exists(), reason=f"../shared not found: {SHARED}"
)

REAL_WORLD_RU = {
    "oren.ru_news_windows-1251.xml": 10,
    "ibash.org.ru_windows-1251.rss.xml": 50,
    "synthetic_koi8-r_sample.xml": 2,
    "touchnokia.ru_atom_pathological_css.xml": 15,
    "rutube.ru_mediarss.xml": 20,
    "news.tut.by_all_rss_2019-12-30.xml": 100,
    "liga.net_rss_2021-08-22.xml": 12,
    "onliner.by_feed_2021-10-26.xml": 30,
    "mos.ru_news_rss_2022-07-27.xml": 10,
}
MOJIBAKE_RE = re.compile(
    "[ÐÑÃÂ][\u0080-\u00ff]|Ð|Ñ\u0081|�|[рс][А-Яа-я]{0,1}[ЂЃЉЊЌЋЏђѓ]"
)


def _parse(path: Path, content_type: str | None = None):
    return parse_feed(
        path.read_bytes(),
        feed_name=path.name,
        base_url=BASE,
        content_type=content_type,
        fetched_at=NOW,
    )


def _feed_files() -> list[Path]:
    skip = {".json", ".md", ".txt"}
    return sorted(
        p
        for p in FEEDS.rglob("*")
        if p.is_file() and p.suffix not in skip and "LICENSE" not in p.name
    )


def test_every_feed_parses_or_fails_cleanly():
    files = _feed_files()
    assert len(files) > 900
    ok = 0
    errors: list[FeedError] = []
    started = time.perf_counter()
    for path in files:
        try:
            _parse(path)
            ok += 1
        except FeedError as exc:
            errors.append(exc)
    elapsed = time.perf_counter() - started
    print(f"corpus feeds: {ok} parsed, {len(errors)} FeedError, {elapsed:.1f}s")
    assert all(e.message.strip() and e.resource for e in errors)
    assert len(errors) <= 5  # measured: 2 (an XML catalog and an HTML redirect page)


@pytest.mark.parametrize(("name", "count"), sorted(REAL_WORLD_RU.items()))
@pytest.mark.parametrize("content_type", [None, "application/rss+xml; charset=utf-8"])
def test_real_world_ru(name, count, content_type):
    feed = _parse(FEEDS / "real-world-ru" / name, content_type)
    assert len(feed.items) == count
    assert feed.warning is None
    for item in feed.items:
        assert re.search("[А-Яа-яЁё]{3,}", item.title), item.title
        assert not MOJIBAKE_RE.search(item.title + item.summary + item.content), (
            item.title
        )
        assert item.published is not None
        assert item.published.tzinfo is not None
        assert item.link.startswith("http")


def test_real_world_ru_without_declaration_still_cyrillic():
    # Strip the XML declaration: nothing says cp1251/KOI8-R any more.
    for name in ("ibash.org.ru_windows-1251.rss.xml", "synthetic_koi8-r_sample.xml"):
        body = (FEEDS / "real-world-ru" / name).read_bytes()
        body = re.sub(rb"^<\?xml[^>]*\?>", b"", body)
        feed = parse_feed(
            body, feed_name=name, base_url=BASE, content_type="text/xml", fetched_at=NOW
        )
        assert len(feed.items) == REAL_WORLD_RU[name]
        for item in feed.items:
            assert re.search("[а-яё]{3,}", item.title.lower()), item.title


# ------------------------------------------------------------ feedparser Expect:

_ALLOWED_BUILTINS = {
    "isinstance": isinstance,
    "ord": ord,
    "len": len,
    "str": str,
    "int": int,
    "float": float,
    "tuple": tuple,
    "list": list,
    "dict": dict,
    "bytes": bytes,
    "repr": repr,
    "type": type,
    "all": all,
    "any": any,
}
_HEADER_RE = re.compile(r"^(Description|Expect|Header|SkipUnless|Note):\s*(.*)$", re.M)


def _conformance_case(path: Path):
    head = path.read_bytes()[:4000].decode("utf-8", "replace")
    fields: dict[str, list[str]] = {}
    for key, value in _HEADER_RE.findall(head):
        fields.setdefault(key, []).append(value.strip())
    return fields


def _restricted_eval(expr: str, namespace: dict):
    """Evaluate a suite expression with no builtins beyond a small whitelist."""
    tree = ast.parse(expr, mode="eval")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            raise ValueError(f"refusing private attribute in {expr!r}")
        if isinstance(node, ast.Name) and node.id.startswith("__"):
            if node.id != "__import__":
                raise ValueError(f"refusing dunder name in {expr!r}")
    env = {
        "__builtins__": _ALLOWED_BUILTINS,
        "feedparser": feedparser,
        "time": time,
        "datetime": datetime_module,
    }
    env["__import__"] = lambda name: {"codecs": __import__("codecs")}[name]
    return eval(compile(tree, "<expect>", "eval"), env, dict(namespace))


_ENTRY0_RE = re.compile(
    r"entries\[0\]\[['\"](title|link|published_parsed|updated_parsed)['\"]\]\s*==\s*"
    r"(u?'(?:[^'\\]|\\.)*'|u?\"(?:[^\"\\]|\\.)*\"|\([\d,\s]+\))"
)


def _same_title(ours: str, expected: str) -> bool:
    """Equal as given, or once the expected value's markup is stripped."""
    ours = " ".join(ours.split())
    return ours == " ".join(expected.split()) or ours == " ".join(
        html_to_text(expected).split()
    )


def _agrees(parsed, field: str, literal: str) -> bool:
    value = ast.literal_eval(literal.lstrip("u"))
    if not parsed.items:
        return False
    first = parsed.items[0]
    if field == "title":
        return _same_title(first.title, value)
    if field == "link":
        return first.link == value or not value.startswith("http")
    want = datetime(*value[:6], tzinfo=UTC)
    return first.published == want


def test_feedparser_conformance_expectations():
    root = FEEDS / "feedparser-conformance"
    evaluated = passed = compared = agreed = skipped = 0
    disagreements: list[str] = []
    for path in sorted(root.rglob("*.xml")):
        case = _conformance_case(path)
        if "Expect" not in case:
            continue
        try:
            if any(not _restricted_eval(s, {}) for s in case.get("SkipUnless", [])):
                skipped += 1
                continue
        except Exception:
            skipped += 1
            continue
        headers = dict(h.split(":", 1) for h in case.get("Header", []))
        headers = {k.strip().lower(): v.strip() for k, v in headers.items()}
        # what the suite's own HTTP test server sends when a case sets nothing
        headers.setdefault("content-type", "application/xml")
        rel = path.relative_to(root).as_posix()
        headers.setdefault("content-location", f"http://127.0.0.1:8097/tests/{rel}")
        result = feedparser.parse(
            io.BytesIO(path.read_bytes()), response_headers=headers
        )
        expect = case["Expect"][0]
        evaluated += 1
        try:
            passed += bool(_restricted_eval(expect, result))
        except Exception:
            pass
        entries = result.get("entries") or []
        if not entries or not any(k in entries[0] for k in ("title", "link", "id")):
            continue  # parse_feed skips entries with no id, link or title
        for field, literal in _ENTRY0_RE.findall(expect):
            try:
                parsed = parse_feed(
                    path.read_bytes(),
                    feed_name=path.name,
                    base_url=headers.get("content-location", BASE),
                    content_type=headers.get("content-type"),
                    fetched_at=NOW,
                )
            except FeedError:
                parsed = None
            compared += 1
            if parsed is not None and _agrees(parsed, field, literal):
                agreed += 1
            else:
                disagreements.append(f"{path.relative_to(root)} {field}")
    feedparser_rate = passed / evaluated
    agree_rate = agreed / compared
    print(
        f"feedparser-conformance: Expect passes {passed}/{evaluated} "
        f"({feedparser_rate:.3f}), skipped {skipped}; parse_feed agrees on "
        f"entries[0] title/link/date {agreed}/{compared} ({agree_rate:.3f})"
    )
    print("  disagreements:", disagreements[:20])
    # measured: 802/814 = 0.985 and 44/44
    assert feedparser_rate >= 0.97
    assert agree_rate >= 0.95


# ------------------------------------------------------------ feed-rs, rss-parser


def _iso(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


class _Rates:
    def __init__(self) -> None:
        self.hits: dict[str, int] = {"title": 0, "link": 0, "date": 0}
        self.total: dict[str, int] = {"title": 0, "link": 0, "date": 0}
        self.misses: list[tuple[str, str]] = []

    def check(self, field: str, ok: bool) -> None:
        self.total[field] += 1
        self.hits[field] += ok

    def rates(self) -> dict[str, float]:
        return {k: self.hits[k] / self.total[k] for k in self.total if self.total[k]}


def _compare(rates: _Rates, item, title, link, date) -> None:
    if title and "\ufffd" not in title:  # rss-parser's gold garbles ISO-8859-1 feeds
        ok = _same_title(item.title, title)
        rates.check("title", ok)
        if not ok and len(rates.misses) < 10:
            rates.misses.append((item.title, title))
    if link:
        # the gold leaves relative links unresolved; parse_feed resolves them
        ok = item.link.rstrip("/") == urljoin(BASE, link).rstrip("/")
        rates.check("link", ok)
        if not ok and len(rates.misses) < 20:
            rates.misses.append((item.link, link))
    if date is not None:
        # feedparser keeps whole seconds; some gold dates carry milliseconds
        ok = item.published is not None and abs(item.published - date) < SECOND
        rates.check("date", ok)
        if not ok and len(rates.misses) < 20:
            rates.misses.append((str(item.published), str(date)))


def test_feed_rs_expected_parses():
    root = FEEDS / "feed-rs-fixtures"
    rates = _Rates()
    for gold_path in sorted(root.rglob("*.serde.json")):
        stem = gold_path.name.removesuffix(".serde.json")
        source = gold_path.with_name(stem + ".xml")
        if not source.exists():
            source = gold_path.with_name(stem + ".json")  # JSON Feed
        gold = json.loads(gold_path.read_text(encoding="utf-8"))
        parsed = _parse(source)
        for item, entry in zip(parsed.items, gold["entries"], strict=False):
            title = (entry.get("title") or {}).get("content")
            links = [link["href"] for link in entry.get("links") or []]
            date = _iso(entry.get("published") or entry.get("updated"))
            _compare(rates, item, title, links[0] if links else None, date)
    result = rates.rates()
    print("feed-rs:", {k: round(v, 3) for k, v in result.items()}, rates.total)
    print("  misses:", rates.misses)
    # measured: title, link and date all 1.000 (84 / 79 / 78 entries)
    assert result["title"] >= 0.97
    assert result["link"] >= 0.97
    assert result["date"] >= 0.97


def test_rss_parser_expected_parses():
    root = FEEDS / "rss-parser-fixtures"
    rates = _Rates()
    for gold_path in sorted((root / "expected").glob("*.json")):
        source = next((root / "input").glob(gold_path.stem + ".*"), None)
        if source is None:
            continue
        gold = json.loads(gold_path.read_bytes().decode("utf-8", "replace"))["feed"]
        parsed = _parse(source)
        for item, entry in zip(parsed.items, gold.get("items") or [], strict=False):
            date = _iso(entry.get("isoDate") or entry.get("pubDate"))
            _compare(rates, item, entry.get("title"), entry.get("link"), date)
    result = rates.rates()
    print("rss-parser:", {k: round(v, 3) for k, v in result.items()}, rates.total)
    print("  misses:", rates.misses)
    # measured: title, link and date all 1.000 (432 / 476 / 459 entries)
    assert result["title"] >= 0.97
    assert result["link"] >= 0.97
    assert result["date"] >= 0.97
