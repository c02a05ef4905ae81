"""Every digest format: hostile content stays inert, archive layout, Atom, golden files.

Regenerate the golden files after an intended change with::

    MONITOR_REGEN_GOLDEN=1 .venv/bin/pytest tests/test_digest_render.py
"""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path

import feedparser
import pytest

from monitor.config import DigestConfig
from monitor.digest import (
    Digest,
    build_digest,
    read_archive,
    render_html,
    render_json,
    render_markdown,
    render_text,
    write_digest,
)
from monitor.digest._render import md_escape
from monitor.store import StorageType
from tests.test_digest_helpers import (
    GENERATED_AT,
    HOSTILE_TITLE,
    TOPICS,
    add_article,
    add_feed,
    add_filing,
    at,
    digest_config,
    sample_db,
)

GOLDEN = Path(__file__).resolve().parent / "golden"
DAY = date(2026, 3, 13)
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def digest(storage: StorageType) -> Digest:
    """`sample_db`'s day, in the conftest store (SQLite, then PostgreSQL)."""
    sample_db(storage)
    return build_digest(
        storage, day=DAY, cfg=DigestConfig(), topic_order=TOPICS, now=GENERATED_AT
    )


class _Tags(HTMLParser):
    """Collects every start tag and attribute as a browser's tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse_html(html: str) -> _Tags:
    p = _Tags()
    p.feed(html)
    p.close()
    return p


# ---------------------------------------------------------------------- hostile


def test_html_has_no_active_content_from_articles(digest: Digest) -> None:
    html = render_html(digest)
    doc = parse_html(html)
    names = {t for t, _ in doc.tags}
    assert not names & {"script", "img", "svg", "iframe", "object", "embed", "form"}
    for tag, attrs in doc.tags:
        assert not any(a.startswith("on") for a in attrs), (tag, attrs)
        href = attrs.get("href")
        if href is not None:
            assert href.startswith(("https://", "http://", "#")), href
    # the hostile strings are still there, as visible text
    text = "".join(doc.text)
    assert "<script>document.title='PWNED'</script>" in text
    assert "onerror=\"document.title='PWNED'\"" in text
    assert "&lt;script&gt;" in html
    assert "Content-Security-Policy" in html  # defence in depth


def test_markdown_escapes_markup_and_links(digest: Digest) -> None:
    md = render_markdown(digest)
    unescaped = re.compile(r"(?<!\\)<(?!/?sub>)")  # our own <sub> is the only HTML
    assert not unescaped.search(md), unescaped.search(md)
    links = re.findall(r"(?<!\\)\]\((?!\\)([^)]*)\)", md)
    assert links
    assert all(u.startswith(("https://", "http://")) for u in links), links
    assert "\\<script\\>document.title='PWNED'\\</script\\>" in md
    assert "\\[x\\]\\(javascript:alert\\(1\\)\\)" in md


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("<b>", "\\<b\\>"),
        ("[a](javascript:x)", "\\[a\\]\\(javascript:x\\)"),
        ("*a* _b_ `c`", "\\*a\\* \\_b\\_ \\`c\\`"),
        ("1. item", "1\\. item"),
        ("- item", "\\- item"),
        ("> quote", "\\> quote"),
        ("# head", "\\# head"),
        ("a | b", "a \\| b"),
        ("&amp;", "\\&amp;"),
        ("plain", "plain"),
    ],
)
def test_md_escape(raw: str, escaped: str) -> None:
    assert md_escape(raw) == escaped


def test_text_is_plain_and_prints_only_safe_links(digest: Digest) -> None:
    txt = render_text(digest)
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", txt)
    assert "<script>document.title='PWNED'</script>" in txt  # inert in plain text
    url_lines = [
        ln.strip() for ln in txt.splitlines() if "://" in ln and " " not in ln.strip()
    ]
    assert url_lines
    assert all(u.startswith("http") for u in url_lines)
    assert "  Also: Tengrinews (ru)\n" in txt  # a javascript: copy link is dropped


def test_json_is_inert_and_round_trips(digest: Digest) -> None:
    raw = render_json(digest)
    assert "<" not in raw
    assert ">" not in raw
    data = json.loads(raw)
    hostile = next(
        st
        for sec in (data["top"], *data["sections"])
        for st in sec["stories"]
        if st["headline"] == HOSTILE_TITLE
    )
    assert hostile["topic"] == "Elections"
    assert hostile["headline"] == HOSTILE_TITLE
    assert hostile["url"] is None
    assert [c["url"] for c in hostile["also"]] == [None]
    assert data["period"] == {
        "key": "2026-03-13",
        "slug": "2026-03-13",
        "label": "Friday 13 March 2026",
        "day": "2026-03-13",
        "start": "2026-03-12T19:00:00Z",
        "end": "2026-03-13T19:00:00Z",
        "timezone": "Asia/Almaty",
        "utc_offset": "UTC+05:00",
    }


# ---------------------------------------------------------------------- archive


def test_archive_layout_index_and_atom(
    storage: StorageType, digest: Digest, tmp_path: Path
) -> None:
    cfg = digest_config(tmp_path, base_url="https://digest.example.org/ca/")
    paths = write_digest(digest, cfg, storage)
    root = tmp_path / "digests"
    rel = sorted(p.relative_to(root).as_posix() for p in paths)
    assert rel == [
        "2026/03/2026-03-13.html",
        "2026/03/2026-03-13.json",
        "2026/03/2026-03-13.md",
        "2026/03/2026-03-13.txt",
        "atom.xml",
        "index.html",
    ]
    assert not list(root.rglob("*.tmp"))
    record = storage.get_last_digest()
    assert record is not None
    assert record.day == "2026-03-13"
    # a second day, then the index lists both, newest first, with relative links
    other = build_digest(
        storage,
        day=DAY + timedelta(days=1),
        cfg=cfg.digest,
        topic_order=TOPICS,
        now=GENERATED_AT + timedelta(days=1),
    )
    write_digest(other, cfg, storage)
    index = parse_html((root / "index.html").read_text("utf-8"))
    hrefs = [a["href"] for t, a in index.tags if t == "a"]
    assert hrefs == ["atom.xml", "2026/03/2026-03-14.html", "2026/03/2026-03-13.html"]
    assert all((root / h).is_file() for h in hrefs if h)
    assert storage.get_last_digest_day() == "2026-03-14"


def test_atom_feed_is_valid(
    storage: StorageType, digest: Digest, tmp_path: Path
) -> None:
    cfg = digest_config(tmp_path, base_url="https://digest.example.org/ca/")
    write_digest(digest, cfg)
    raw = (tmp_path / "digests" / "atom.xml").read_bytes()
    root = ET.fromstring(raw)
    assert root.tag == f"{ATOM}feed"
    for name in ("id", "title", "updated", "author"):
        assert root.find(f"{ATOM}{name}") is not None, name
    entries = root.findall(f"{ATOM}entry")
    assert len(entries) == 1
    for name in ("id", "title", "updated", "link", "content", "summary"):
        assert entries[0].find(f"{ATOM}{name}") is not None, name
    assert not [
        e for e in root.iter() if not e.tag.startswith(ATOM)
    ]  # no <script> etc.
    parsed = feedparser.parse(raw)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    entry = parsed.entries[0]
    assert entry.link == "https://digest.example.org/ca/2026/03/2026-03-13.html"
    assert entry.id == entry.link
    # the hostile headline is HTML *text* inside the entry content
    content = entries[0].find(f"{ATOM}content")
    assert content is not None
    assert content.get("type") == "html"
    assert "&lt;script&gt;document.title=&#39;PWNED&#39;&lt;/script&gt;" in (
        content.text or ""
    )
    inner = parse_html(content.text or "")
    assert {t for t, _ in inner.tags} <= {"p", "a", "h2", "ul", "li", "br"}
    links = [str(a["href"]) for t, a in inner.tags if t == "a"]
    assert links[0] == "https://digest.example.org/ca/2026/03/2026-03-13.html"
    assert "https://vlast.kz/novosti/tarify.html" in links
    assert all(u.startswith("https://") for u in links)
    assert "Electricity tariffs in Almaty will rise by 12% from April." in "".join(
        inner.text
    )


def test_rewrite_is_byte_identical(digest: Digest, tmp_path: Path) -> None:
    cfg = digest_config(tmp_path)
    first = {p: p.read_bytes() for p in write_digest(digest, cfg)}
    second = {p: p.read_bytes() for p in write_digest(digest, cfg)}
    assert first == second


def test_broken_archive_file_is_skipped(digest: Digest, tmp_path: Path) -> None:
    cfg = digest_config(tmp_path)
    bad = tmp_path / "digests" / "2026" / "01"
    bad.mkdir(parents=True)
    (bad / "2026-01-01.json").write_text("{not json", encoding="utf-8")
    (bad / "2026-01-02.json").write_text('{"format": "other"}', encoding="utf-8")
    write_digest(digest, cfg)
    assert [e.key for e in read_archive(tmp_path / "digests")] == ["2026-03-13"]


# ---------------------------------------------------------------------- golden


@pytest.mark.parametrize(
    ("name", "render"), [("sample.txt", render_text), ("sample.md", render_markdown)]
)
def test_golden(digest: Digest, name: str, render) -> None:
    path = GOLDEN / f"digest_{name}"
    out = render(digest)
    if os.environ.get("MONITOR_REGEN_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(out, encoding="utf-8")
    assert path.is_file(), f"{path} missing: run with MONITOR_REGEN_GOLDEN=1"
    assert out == path.read_text(encoding="utf-8")


def test_index_links_json_when_html_is_not_written(
    digest: Digest, tmp_path: Path
) -> None:
    cfg = digest_config(tmp_path, formats=("txt",))
    paths = write_digest(digest, cfg)
    root = tmp_path / "digests"
    assert sorted(p.relative_to(root).as_posix() for p in paths) == [
        "2026/03/2026-03-13.json",
        "2026/03/2026-03-13.txt",
        "index.html",
    ]
    index = parse_html((root / "index.html").read_text("utf-8"))
    hrefs = [a["href"] for t, a in index.tags if t == "a"]
    assert hrefs == ["2026/03/2026-03-13.json"]  # no atom.xml was written either


@pytest.mark.parametrize("field", ["title", "summary", "text"])
def test_hostile_field_is_inert_in_every_format(
    field: str, storage: StorageType
) -> None:
    payload = (
        "<script>alert('x')</script><img src=x onerror=alert(1)>"
        "<a href='javascript:alert(1)'>y</a> [z](javascript:alert(1))."
    )
    add_feed(storage, "f", outlet="<b onmouseover=alert(1)>Outlet</b>")
    values = {"title": "Plain title", "summary": "", "text": ""}
    values[field] = payload
    aid = add_article(
        storage,
        feed="f",
        url="https://f.example/1",
        title=values["title"],
        summary=values["summary"],
        text=values["text"],
        lang="en",
        status="not_needed",
        published=at(10),
    )
    add_filing(storage, aid, "Elections", rule="<i>r</i>", terms=("<u>t</u>",))
    d = build_digest(
        storage, day=DAY, cfg=DigestConfig(), topic_order=TOPICS, now=GENERATED_AT
    )
    story = d.sections[0].stories[0]
    shown = story.headline if field == "title" else story.lede
    assert "<script>alert('x')</script>" in shown  # kept as text, not dropped
    html = parse_html(render_html(d))
    assert not {t for t, _ in html.tags} & {"script", "img", "b", "i", "u"}
    assert all(not k.startswith("on") for _, a in html.tags for k in a)
    assert all(
        str(a["href"]).startswith(("https://", "#"))
        for t, a in html.tags
        if "href" in a
    )
    md = render_markdown(d)
    assert not re.search(r"(?<!\\)<(?!/?sub>)", md)
    assert "](javascript" not in md
    raw = render_json(d)
    assert "<" not in raw
    assert json.loads(raw)["sections"][0]["stories"][0]["outlet"].startswith("<b ")
