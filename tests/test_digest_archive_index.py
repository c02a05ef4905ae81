"""The digest archive index is incremental and never trusted over the disk (#19).

A digest write used to parse every digest JSON in the archive; now
``archive-index.json`` caches what index.html and atom.xml need, and only files
whose signature changed are parsed.  Whatever state a kill -9 can leave (the
cache from before the last digest, a cache naming a file that is gone, a
damaged cache) gives the same archive as a full re-read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest

from monitor.config import Config, DigestConfig
from monitor.digest import Digest, _archive, build_digest, read_archive, write_digest
from monitor.store import Storage
from tests.test_digest_helpers import GENERATED_AT, TOPICS, digest_config, sample_db

DAY = date(2026, 3, 13)


# SQLite only: the subject is the rendered files; the same digest from both
# backends is checked against the golden files in test_digest_render.py.
@pytest.fixture(scope="module")
def digest() -> Iterator[Digest]:
    with Storage(":memory:") as s:
        sample_db(s)
        yield build_digest(
            s, day=DAY, cfg=DigestConfig(), topic_order=TOPICS, now=GENERATED_AT
        )


def on_day(digest: Digest, back: int) -> Digest:
    """The same digest filed under another day (a different archive file)."""
    day = DAY - timedelta(days=back)
    shift = timedelta(days=back)
    period = replace(
        digest.period,
        key=day.isoformat(),
        day=day,
        start=digest.period.start - shift,
        end=digest.period.end - shift,
    )
    return replace(digest, period=period, generated_at=GENERATED_AT - shift)


def write_days(digest: Digest, cfg: Config, backs: range) -> None:
    for back in backs:
        write_digest(on_day(digest, back), cfg)


@pytest.fixture
def parsed(monkeypatch) -> list[Path]:
    """Every digest JSON file parsed from disk, in order."""
    seen: list[Path] = []
    real = _archive._read_digest_json

    def spy(path: Path):
        seen.append(path)
        return real(path)

    monkeypatch.setattr(_archive, "_read_digest_json", spy)
    return seen


def root_of(cfg: Config) -> Path:
    return Path(cfg.config_dir) / "digests"


def test_a_write_parses_only_the_digest_it_wrote(digest, tmp_path, parsed):
    cfg = digest_config(tmp_path)
    write_days(digest, cfg, range(5, 0, -1))
    parsed.clear()
    write_digest(digest, cfg)
    assert [p.name for p in parsed] == ["2026-03-13.json"]
    parsed.clear()
    entries = read_archive(root_of(cfg))
    assert parsed == []  # nothing changed: nothing parsed
    assert [e.key for e in entries][:2] == ["2026-03-13", "2026-03-12"]
    assert len(entries) == 6


def test_the_index_equals_a_full_reread(digest, tmp_path):
    cfg = digest_config(tmp_path)
    write_days(digest, cfg, range(4, -1, -1))
    root = root_of(cfg)
    html = (root / "index.html").read_bytes()
    atom = (root / "atom.xml").read_bytes()
    assert read_archive(root) == read_archive(root, rebuild=True)
    (root / _archive.INDEX_FILE).unlink()
    write_digest(digest, cfg)  # rebuilt from every JSON file
    assert (root / "index.html").read_bytes() == html
    assert (root / "atom.xml").read_bytes() == atom
    top = read_archive(root)[0]
    assert top.headlines
    assert top.headlines == read_archive(root, rebuild=True)[0].headlines


def test_a_stale_index_from_a_kill_heals(digest, tmp_path, parsed):
    """Killed after a digest's files, before the index: the next read finds it."""
    cfg = digest_config(tmp_path)
    root = root_of(cfg)
    write_days(digest, cfg, range(3, 1, -1))
    old_index = (root / _archive.INDEX_FILE).read_bytes()
    write_days(digest, cfg, range(1, -1, -1))
    (root / _archive.INDEX_FILE).write_bytes(old_index)  # the cache before the kill
    parsed.clear()
    keys = [e.key for e in read_archive(root)]
    assert keys == ["2026-03-13", "2026-03-12", "2026-03-11", "2026-03-10"]
    assert sorted(p.name for p in parsed) == ["2026-03-12.json", "2026-03-13.json"]


def test_a_rewritten_or_removed_digest_is_not_served_from_the_cache(digest, tmp_path):
    cfg = digest_config(tmp_path)
    root = root_of(cfg)
    write_days(digest, cfg, range(2, -1, -1))
    old = root / "2026" / "03" / "2026-03-11.json"
    data = json.loads(old.read_text("utf-8"))
    data["title"] = "Rewritten by hand"
    old.write_text(json.dumps(data), encoding="utf-8")
    (root / "2026" / "03" / "2026-03-12.json").unlink()
    entries = {e.key: e for e in read_archive(root)}
    assert sorted(entries) == ["2026-03-11", "2026-03-13"]
    assert entries["2026-03-11"].title == "Rewritten by hand"
    cached = json.loads((root / _archive.INDEX_FILE).read_text("utf-8"))["files"]
    assert sorted(cached) == ["2026/03/2026-03-11.json", "2026/03/2026-03-13.json"]


@pytest.mark.parametrize(
    "damage",
    [
        "{half a file",
        '{"format": "something else", "files": {}}',
        '{"format": "monitor-archive-index/1", "files": []}',
        '{"format": "monitor-archive-index/1", "files": {"2026/03/2026-03-13.json":'
        ' {"sig": "x", "summary": {}}}}',
    ],
)
def test_a_damaged_index_is_rebuilt(digest, tmp_path, damage):
    cfg = digest_config(tmp_path)
    root = root_of(cfg)
    write_days(digest, cfg, range(2, -1, -1))
    full = read_archive(root, rebuild=True)
    (root / _archive.INDEX_FILE).write_text(damage, encoding="utf-8")
    assert read_archive(root) == full
    assert len(full) == 3


def test_the_cache_holds_checked_links_only(digest, tmp_path, parsed):
    """A hostile link in a JSON file is dropped before it reaches the cache; a
    cache entry of the wrong shape sends the reader back to the file."""
    cfg = digest_config(tmp_path)
    root = root_of(cfg)
    write_digest(digest, cfg)
    path = root / "2026" / "03" / "2026-03-13.json"
    data = json.loads(path.read_text("utf-8"))
    section = (data.get("top") or data["sections"][0])["stories"]
    section[0]["url"] = "javascript:alert(1)"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert read_archive(root)[0].headlines[0][1][0].url is None
    index = json.loads((root / _archive.INDEX_FILE).read_text("utf-8"))
    (entry,) = index["files"].values()
    assert entry["summary"]["sections"][0]["stories"][0]["url"] is None
    parsed.clear()
    assert read_archive(root)[0].headlines[0][1][0].url is None
    assert parsed == []  # served from the cache
    entry["summary"]["sections"][0]["stories"][0]["url"] = 5
    (root / _archive.INDEX_FILE).write_text(json.dumps(index), encoding="utf-8")
    assert read_archive(root)[0].headlines[0][1][0].url is None
    assert [p.name for p in parsed] == ["2026-03-13.json"]


def test_html_appearing_later_is_linked(digest, tmp_path):
    """The signature covers the HTML page: the index links it once it exists."""
    root = tmp_path / "digests"
    write_digest(digest, digest_config(tmp_path, formats=("txt",)))
    assert read_archive(root)[0].html_path.endswith(".json")
    write_digest(digest, digest_config(tmp_path, formats=("html",)))
    assert read_archive(root)[0].html_path.endswith(".html")


def test_older_days_keep_only_what_the_index_page_shows(digest, tmp_path):
    cfg = digest_config(tmp_path)
    root = root_of(cfg)
    write_days(digest, cfg, range(4, -1, -1))
    every = read_archive(root, full=5)
    some = read_archive(root, full=2)
    assert some == read_archive(root, full=2, rebuild=True)
    assert [e.top_headlines for e in some] == [e.top_headlines for e in every]
    assert some[:2] == every[:2]
    assert max(len(heads) for _, heads in every[3].headlines) > 1
    assert all(len(heads) <= 1 for e in some[2:] for _, heads in e.headlines)
