"""`monitor search` as the user runs it: the installed executable on a small archive
built through the storage write API (tests/searchdata.py), on SQLite and on
PostgreSQL (issue #13: the same behaviour from either index)."""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from monitor.store import Storage
from monitor.store.pg import PgStorage
from tests.pgcluster import unique_name
from tests.searchdata import build_archive, write_config

MONITOR = Path(sys.executable).with_name("monitor")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def archive(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, dict[str, int]]]:
    """The archive on each backend; the PostgreSQL config names it by ``[store] url``."""
    root = tmp_path_factory.mktemp("search")
    db = root / "monitor.db"
    if request.param == "sqlite":
        with Storage(db) as storage:
            ids = build_archive(storage)
        yield write_config(root / "config", db), ids
        return
    cluster = request.getfixturevalue("pg_cluster")
    name = unique_name("search")
    url = cluster.create_database(name)
    try:
        with closing(PgStorage(url)) as pg:
            ids = build_archive(pg)
        yield write_config(root / "config", db, url=url), ids
    finally:
        cluster.drop_database(name)


def run(config: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run(
        [str(MONITOR), "search", "--config", str(config), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert (done.returncode == 0) is ok, done.stderr
    return done


def found(config: Path, *args: str) -> list[dict[str, object]]:
    rows = json.loads(run(config, *args, "--json").stdout)
    assert isinstance(rows, list)
    return rows


def test_cyrillic_name_finds_english_articles(archive) -> None:
    config, ids = archive
    rows = found(config, "Кулибаев")
    by_id = {r["id"]: r for r in rows}
    assert ids["kulibayev-bank"] in by_id  # English original: only "Kulibayev"
    english = by_id[ids["kulibayev-bank"]]
    assert english["lang"] == "en"
    assert "**Kulibayev**" in str(english["snippet"])
    keys = {"id", "title", "title_en", "url", "outlet", "lang", "published",
            "story_id", "topics", "countries", "snippet"}  # fmt: skip
    assert keys <= set(english)


def test_latin_name_finds_russian_articles(archive) -> None:
    config, ids = archive
    assert ids["kulibaev-forum"] in {r["id"] for r in found(config, "Kulibayev")}


def test_lemma_finds_inflected_form(archive) -> None:
    config, ids = archive
    rows = found(config, "дрон")
    assert ids["drony-almaty"] in {r["id"] for r in rows}  # the text says «дронов»
    text = run(config, "дрон").stdout
    assert "**дронов**" in text
    assert "story" in text


def test_filters(archive) -> None:
    config, ids = archive
    assert {r["id"] for r in found(config, "банк OR bank", "--lang", "en")} == {
        ids["kulibayev-bank"]
    }
    vlast = found(config, "дрон", "--feed", "vlast", "--topic", "security")
    assert {r["id"] for r in vlast} == {ids["drony-almaty"], ids["hostile"]}
    assert found(config, "дрон", "--since", "2026-03-20") == []
    assert found(config, "Кулибаев", "--country", "kz")


def test_near_not_and_phrases(archive) -> None:
    config, ids = archive
    assert {r["id"] for r in found(config, "Кулибаев NEAR/3 энергетика")} == {
        ids["kulibaev-forum"]
    }
    assert found(config, "Кулибаев NEAR/1 проект") == []  # 7 words apart
    no_drone = {r["id"] for r in found(config, "банк AND NOT дрон")}
    assert ids["kulibaev-forum"] in no_drone
    assert ids["hostile"] not in no_drone
    assert {r["id"] for r in found(config, '"Halyk Bank"')} == {ids["kulibayev-bank"]}
    assert found(config, '"Bank Halyk"') == []  # word order matters in a phrase


def test_csv(archive) -> None:
    config, ids = archive
    rows = list(csv.DictReader(io.StringIO(run(config, "снег", "--csv").stdout)))
    assert [int(r["id"]) for r in rows] == [ids["pogoda"]]
    assert rows[0]["outlet"] == "Tengrinews"
    assert "**снег**" in rows[0]["snippet"]


def test_bad_query_is_one_line_with_column(archive) -> None:
    config, _ = archive
    done = run(config, "банк дрон", ok=False)
    assert done.returncode == 2
    assert "column 6" in done.stderr


def test_control_characters_are_neutralised() -> None:
    from monitor.search import neutralise

    assert neutralise("a\x1b[31mb\u202ec\x07\nd") == "a\ufffdb\ufffdc\ufffd d"


def test_reindex_rebuilds(archive) -> None:
    config, ids = archive
    assert "indexed 5 articles" in run(config, "--reindex").stderr
    assert ids["pogoda"] in {r["id"] for r in found(config, "снег")}


def test_index_follows_new_translation(storage) -> None:
    """A translation saved after indexing re-queues the article (trigger)."""
    from datetime import UTC, datetime

    from monitor.models import Translation, TranslationStatus
    from monitor.search import index_pending, search_archive

    ids = build_archive(storage)
    assert not search_archive(storage, "blizzard").results
    storage.save_translation(ids["pogoda"], Translation(
        src="ru", dst="en", title="Blizzard in Astana", text="A blizzard.",
        engine="fake", status=TranslationStatus.DONE),
        datetime(2026, 3, 14, 10, tzinfo=UTC))  # fmt: skip
    assert storage.count_search_index()[1] == 1
    assert index_pending(storage) == 1
    assert [r.id for r in search_archive(storage, "blizzard").results] == [
        ids["pogoda"]
    ]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_answers_every_page(archive) -> None:
    """`monitor serve` on the archive (SQLite file, or PostgreSQL by URL): every page
    answers, and /search finds the names across scripts (HTTP only; the browser
    tests are tests/test_web_browser.py)."""
    config, ids = archive
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen(
        [str(MONITOR), "serve", "--config", str(config), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            _wait_for(client, proc)
            found = client.get("/search", params={"q": "Кулибаев", "format": "json"})
            assert found.status_code == 200
            assert ids["kulibayev-bank"] in {r["id"] for r in found.json()}
            page = client.get("/search", params={"q": "дрон"})
            assert page.status_code == 200
            assert "дронов" in page.text
            story, article = ids["kulibayev-bank"], ids["kulibaev-forum"]
            for path in ("/", "/day/2026-03-14", "/topic/security", "/country/kz",
                         f"/story/{story}", f"/article/{article}", "/feeds"):  # fmt: skip
                response = client.get(path)
                assert response.status_code == 200, (path, response.text[:300])
            assert "Кулибаев" in client.get(f"/article/{article}").text
            assert client.get("/story/999999").status_code == 404
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        if proc.stderr is not None:
            proc.stderr.close()


def _wait_for(client: httpx.Client, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            stderr = proc.stderr.read() if proc.stderr else ""
            raise AssertionError(f"serve exited: {stderr}")
        try:
            client.get("/static/")
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError("serve did not start")
