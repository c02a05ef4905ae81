"""``monitor serve``'s day-page cache never shows a page older than the data:
a write by another process (a run) between two requests gives the new page.
Both backends (the ``storage`` fixture of tests/conftest.py)."""

from __future__ import annotations

import threading
from contextlib import closing
from pathlib import Path

from starlette.testclient import TestClient

from monitor.config import Config, StoreConfig
from monitor.models import Translation, TranslationStatus
from monitor.store import Storage
from monitor.web import create_app
from tests.searchdata import NOW, TOPICS, build_archive

DAY = f"/day/{NOW.date().isoformat()}"


def _app(storage, tmp_path: Path):
    url = getattr(storage, "url", None)
    path = Path(storage.location) if url is None else tmp_path / "unused.db"
    cfg = Config(store=StoreConfig(path=path, url=url), topics=TOPICS)
    return create_app(cfg)


def _retitle(storage, article_id: int, title: str) -> None:
    storage.save_translation(article_id, Translation(
        src="ru", dst="en", title=title, text="Snow and wind in the capital.",
        engine="fake", status=TranslationStatus.DONE), NOW)  # fmt: skip


def _another_session(storage):
    """A second writing session on the same database (another process's run)."""
    url = getattr(storage, "url", None)
    if url is None:
        return Storage(storage.location)
    from monitor.store.pg import PgStorage

    return PgStorage(url)


def test_a_write_between_requests_is_shown(storage, tmp_path: Path) -> None:
    ids = build_archive(storage)
    with TestClient(_app(storage, tmp_path)) as client:
        first = client.get(DAY).text
        assert "Weather in Astana" in first
        assert client.get(DAY).text == first  # from the cache: nothing changed
        for n in range(3):  # each write, however soon after the last
            _retitle(storage, ids["pogoda"], f"Blizzard number {n} in Astana")
            page = client.get(DAY).text
            assert f"Blizzard number {n} in Astana" in page
            assert "Weather in Astana" not in page


def test_a_write_while_the_page_is_built_is_not_cached(
    storage, tmp_path: Path, monkeypatch
) -> None:
    """The token is read before the page: a commit made while it is rendered
    changes the next token, so the page built from older data is not reused."""
    from monitor import web

    ids = build_archive(storage)
    app = _app(storage, tmp_path)
    real = web._Web._day_html
    wrote = threading.Event()

    def slow_day_html(self, store, day):  # a run commits while the page renders
        html = real(self, store, day)
        if not wrote.is_set():
            with closing(_another_session(storage)) as writer:
                _retitle(writer, ids["pogoda"], "Storm over Astana")
            wrote.set()
        return html

    monkeypatch.setattr(web._Web, "_day_html", slow_day_html)
    with TestClient(app) as client:
        assert "Storm over Astana" not in client.get(DAY).text
        assert "Storm over Astana" in client.get(DAY).text
