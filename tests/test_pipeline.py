"""The pipeline end to end against real bytes on a local HTTP server.

Every test runs twice: on SQLite and on the suite's PostgreSQL cluster (issue
#13), selected through the environment as a user selects it (MONITOR_STORE_URL).
"""

from __future__ import annotations

from contextlib import closing
from datetime import timedelta

import pytest

from monitor import fetch
from monitor.config import load_config
from monitor.models import TextSource
from monitor.pipeline import Pipeline, open_storage
from tests.sitegen import NOW, PARAGRAPHS, TITLES, build_site, write_config

# The environment of the backend the current test runs on (set by `backend`).
BACKEND_ENV: dict[str, str] = {}


@pytest.fixture(autouse=True, params=["sqlite", "postgresql"])
def backend(request):
    """Run each test on SQLite, then on a fresh PostgreSQL database."""
    if request.param == "postgresql":
        BACKEND_ENV["MONITOR_STORE_URL"] = request.getfixturevalue("pg_url")
    try:
        yield request.param
    finally:
        BACKEND_ENV.clear()


def make_pipeline(tmp_path, storage, clock=None):
    cfg = load_config(tmp_path, env=dict(BACKEND_ENV))
    return Pipeline(
        cfg=cfg,
        storage=storage,
        client=fetch.make_client(cfg.fetch),
        now=clock or (lambda: NOW),
    )


def _run(pipeline):
    with pipeline:
        return pipeline.run()


@pytest.fixture
def site(http_server, tmp_path):
    site = build_site(http_server, ["protest", "energy", "court"], NOW)
    http_server.add(
        "/broken.xml",
        body=b"<html><body>502 Bad Gateway</body></html>",
        content_type="text/html",
    )
    write_config(
        tmp_path,
        [
            ("kz-news", site.feed_url, "ru"),
            ("broken", http_server.url("/broken.xml"), "ru"),
            ("dead", "http://127.0.0.1:9/rss", "ru"),
        ],
    )
    return site


def test_run_stores_articles_and_records_failures(site, http_server, tmp_path):
    cfg = load_config(tmp_path, env=dict(BACKEND_ENV))
    with closing(open_storage(cfg)) as storage:
        summary = _run(make_pipeline(tmp_path, storage))
        assert summary.counts["feeds_ok"] == 1
        assert summary.counts["feeds_error"] == 2
        assert summary.counts["articles_new"] == 3
        arts = storage.get_articles(range(1, 10))
        by_title = {a.title: a for a in arts}
        assert set(by_title) == set(TITLES.values())
        protest = by_title[TITLES["protest"]]
        assert protest.source == TextSource.PAGE
        assert PARAGRAPHS["protest"][1] in protest.text
        assert "Подписывайтесь" not in protest.text  # boilerplate left out
        assert protest.lang == "ru"
        assert "utm_" not in protest.canonical_url
        assert protest.published is not None
        assert protest.published.tzinfo is not None
        states = storage.get_feed_states()
        assert states["broken"].last_status == "error"
        assert "broken" in {f.resource for f in storage.get_recent_failures()}
        assert states["dead"].failure_count == 1


def test_rerun_does_no_repeated_work(site, http_server, tmp_path):
    cfg = load_config(tmp_path, env=dict(BACKEND_ENV))
    clock = [NOW]
    with closing(open_storage(cfg)) as storage:
        _run(make_pipeline(tmp_path, storage, lambda: clock[0]))
        page_hits = len(
            [r for r in http_server.requests if r.path.startswith("/news/")]
        )
        clock[0] = NOW + timedelta(hours=1)
        summary = _run(make_pipeline(tmp_path, storage, lambda: clock[0]))
        again = len([r for r in http_server.requests if r.path.startswith("/news/")])
        assert again == page_hits == 3
        assert summary.counts.get("articles_new", 0) == 0
        assert summary.counts["feeds_not_modified"] == 1
        feed_reqs = http_server.requests_to("/rss.xml")
        assert feed_reqs[-1].headers.get("if-none-match") == '"feed-v1"'


def test_dead_article_link_falls_back_to_feed_text_after_retries(http_server, tmp_path):
    site = build_site(http_server, ["court"], NOW)
    http_server.add("/news/court", status=500, body=b"oops")
    write_config(tmp_path, [("kz-news", site.feed_url, "ru")], "")
    cfg = load_config(tmp_path, env=dict(BACKEND_ENV))
    clock = [NOW]
    with closing(open_storage(cfg)) as storage:
        for i in range(cfg.fetch.max_attempts):
            clock[0] = NOW + timedelta(hours=i)
            _run(make_pipeline(tmp_path, storage, lambda: clock[0]))
        (art,) = storage.get_articles([1])
        assert art.extract_status == "done"
        assert art.source == TextSource.FEED_SUMMARY
        assert art.is_teaser
        assert PARAGRAPHS["court"][0] in art.text


FIXTURE_MODEL = "models/test-fixture/translate-ru_en-testfixture-0_0.argosmodel"


def test_full_run_files_groups_translates_and_writes_the_digest(
    http_server, tmp_path, shared_dir
):
    from monitor import translate

    site = build_site(http_server, ["protest", "energy", "court"], NOW)
    # A second outlet reposts the protest story under its own URL.
    copy = build_site(http_server, ["protest"], NOW, feed_path="/other.xml")
    write_config(
        tmp_path, [("kz-news", site.feed_url, "ru"), ("kz-other", copy.feed_url, "ru")]
    )
    cfg = load_config(tmp_path, env=dict(BACKEND_ENV))
    translate.install_from_path(shared_dir / FIXTURE_MODEL, tmp_path / "models")
    later = [NOW + timedelta(days=1, hours=2)]  # the next Almaty morning: digest due
    with closing(open_storage(cfg)) as storage:
        _run(make_pipeline(tmp_path, storage, lambda: later[0]))
        arts = storage.get_articles(range(1, 20))
        assert len(arts) == 3  # the repost shares the canonical URL: one article
        for a in arts:  # random weights: the guards reject much of the output
            assert a.translation_status.value in ("done", "partial")
            assert a.title_en or "untranslated" in (a.translation_note or "")
        counts = storage.get_stage_counts()
        assert counts["classify"] == {"done": 3}
        assert counts["stories"] == {"done": 3}
        protest = next(a for a in arts if a.title == TITLES["protest"])
        filed = {(m.facet, m.label) for m in storage.get_filings(protest.id).labels}
        assert ("topic", "unrest") in filed
        assert any(facet == "country" for facet, _ in filed)
        sightings = {f for f, _ in storage.get_sightings(protest.id)}
        assert sightings == {"kz-news", "kz-other"}
    html = sorted((tmp_path / "digests").rglob("2026-03-14.html"))
    assert html, list((tmp_path / "digests").rglob("*"))
    text = html[0].read_text(encoding="utf-8")
    assert TITLES["energy"] in text


def test_without_a_model_everything_else_works(site, tmp_path):
    cfg = load_config(tmp_path, env=dict(BACKEND_ENV))
    later = NOW + timedelta(days=1, hours=2)
    with closing(open_storage(cfg)) as storage:
        summary = _run(make_pipeline(tmp_path, storage, lambda: later))
        arts = storage.get_articles(range(1, 10))
        assert {a.translation_status.value for a in arts} == {"no_model"}
        assert all("untranslated" in (a.translation_note or "") for a in arts)
        assert summary.counts["articles_classified"] == 3
        assert storage.get_stage_counts()["stories"] == {"done": 3}
    txt = next((tmp_path / "digests").rglob("2026-03-14.txt")).read_text(
        encoding="utf-8"
    )
    assert TITLES["court"] in txt
    assert "untranslated" in txt.lower()
    assert "About: Kazakhstan" in txt  # the country facet, by its name


# ----------------------------------------------------------- per-item isolation (#11)


def _fail_on(title: str, error: Exception):
    """A stand-in for one stage function that breaks on one article only."""

    def check(*args, **kwargs):
        values = [*args, *kwargs.values()]
        if any(title in str(v) for v in values):
            raise error

    return check


@pytest.mark.parametrize(
    ("stage", "target"),
    [
        ("classify", "monitor.classify.classify_article"),
        ("stories", "monitor.stories.candidate_from_article"),
    ],
)
def test_one_hostile_article_is_parked_and_the_stage_goes_on(
    site, tmp_path, monkeypatch, stage, target
):
    module, name = target.rsplit(".", 1)
    real = getattr(__import__(module, fromlist=[name]), name)
    check = _fail_on(TITLES["energy"], ValueError("hostile value"))

    def broken(*args, **kwargs):
        check(*args, **kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(target, broken)
    cfg = load_config(tmp_path, env=dict(BACKEND_ENV))
    clock = [NOW]
    with closing(open_storage(cfg)) as storage:
        for i in range(cfg.fetch.max_attempts + 1):
            clock[0] = NOW + timedelta(minutes=i)
            summary = _run(make_pipeline(tmp_path, storage, lambda: clock[0]))
            if i == 0:
                assert summary.counts["articles_failed"] == 1
        counts = storage.get_stage_counts()[stage]
        assert counts == {"done": 2, "failed": 1}
        bad = next(a for a in storage.get_articles(range(1, 9)) if "ГРЭС" in a.title)
        assert bad.last_error == f"{stage}: ValueError: hostile value"
        assert any(
            f.stage == stage and "hostile value" in f.error
            for f in storage.get_recent_failures()
        )
        # parked: the last run no longer tried it
        assert "articles_failed" not in summary.counts


def test_a_programming_error_stops_the_run_with_its_traceback(
    site, tmp_path, monkeypatch
):
    def bug(*args, **kwargs):
        raise TypeError("bug in our code")

    monkeypatch.setattr("monitor.classify.classify_article", bug)
    cfg = load_config(tmp_path, env=dict(BACKEND_ENV))
    with closing(open_storage(cfg)) as storage, pytest.raises(TypeError, match="bug"):
        _run(make_pipeline(tmp_path, storage))


def test_a_page_that_breaks_extraction_falls_back_to_feed_text(
    site, tmp_path, monkeypatch
):
    from monitor import extract

    real = extract.extract_article

    def fragile(page, item, cfg):
        if page is not None and "ГРЭС" in item.title:
            raise RecursionError("maximum recursion depth exceeded")
        return real(page, item, cfg)

    monkeypatch.setattr("monitor.extract.extract_article", fragile)
    cfg = load_config(tmp_path, env=dict(BACKEND_ENV))
    with closing(open_storage(cfg)) as storage:
        _run(make_pipeline(tmp_path, storage))
        arts = {a.title: a for a in storage.get_articles(range(1, 9))}
        energy = arts[TITLES["energy"]]
        assert energy.extract_status == "done"
        assert energy.source == TextSource.FEED_SUMMARY
        assert arts[TITLES["court"]].source == TextSource.PAGE
        assert any(f.stage == "extract" for f in storage.get_recent_failures())


def test_one_entry_that_storage_refuses_leaves_the_others(
    http_server, tmp_path, monkeypatch
):
    """An entry the store refuses (here: a value error raised for entry j1 only)
    is skipped and recorded; the feed's other entries are stored.  (Before #11 a
    lone surrogate did this; it is now cleaned at the boundary, so the refusal is
    planted in our own storage's write.)"""
    items = [
        f'{{"id": "j{i}", "url": "{http_server.url(f"/j{i}")}", "title": "{t}",'
        f' "content_text": "текст", "date_published": "{NOW.isoformat()}"}}'
        for i, t in enumerate(["Хорошая новость", "Плохая", "Ещё"])
    ]
    body = '{"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": ['
    url = http_server.add(
        "/feed.json",
        body=(body + ",".join(items) + "]}").encode(),
        content_type="application/feed+json",
    )
    write_config(tmp_path, [("json", url, "ru")])
    cfg = load_config(tmp_path, env=dict(BACKEND_ENV))
    with closing(open_storage(cfg)) as storage:
        real = storage.add_feed_items

        def refuse_j1(pairs, now):
            if any(item.entry_id == "j1" for item, _ in pairs):
                raise ValueError("value refused by the store")
            return real(pairs, now)

        monkeypatch.setattr(storage, "add_feed_items", refuse_j1)
        with make_pipeline(tmp_path, storage) as pipeline:
            pipeline.poll_feeds()
        counts = pipeline.summary.counts
        titles = {a.title for a in storage.get_articles(range(1, 9))}
        assert titles == {"Хорошая новость", "Ещё"}
        assert counts["feeds_ok"] == 1
        assert counts["entries_failed"] == 1
        (failure,) = [f for f in storage.get_recent_failures() if f.stage == "store"]
        assert failure.resource == "json entry j1"
        assert "value refused by the store" in failure.error


def test_feeds_check_reports_a_parser_crash_as_one_line(site, tmp_path, monkeypatch):
    from monitor.pipeline import check_feed

    def deep(*args, **kwargs):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr("monitor.feeds.parse_feed", deep)
    cfg = load_config(tmp_path, env=dict(BACKEND_ENV))
    spec = next(f for f in cfg.feeds if f.name == "kz-news")
    with fetch.make_client(cfg.fetch) as client:
        ok, line = check_feed(cfg, client, spec, NOW)
    assert not ok
    assert line == "RecursionError: maximum recursion depth exceeded"
