"""Mirrors (issue #20): the pure rules, then fail-over and return on a real server."""

from __future__ import annotations

import dataclasses
from contextlib import closing
from datetime import timedelta

import pytest

from monitor import fetch
from monitor.config import load_config
from monitor.exceptions import FetchError
from monitor.fetch import FetchStatusError
from monitor.mirrors import (
    candidate_urls,
    failover_reason,
    primary_failed_at,
    primary_link,
)
from monitor.models import FeedSpec, FeedState, Page
from monitor.pipeline import Pipeline, open_storage
from monitor.status import build_status, format_status
from tests.httpserver import LocalHTTPServer
from tests.proxyserver import free_port
from tests.sitegen import NOW, TITLES, build_site, write_config

PRIMARY, MIRROR, MIRROR2 = (
    "https://meduza.io/rss/all",
    "https://mdza.example/rss/all",
    "https://m2.example/rss",
)
SPEC = FeedSpec(
    name="meduza",
    url=PRIMARY,
    urls=(PRIMARY, MIRROR, MIRROR2),
    outlet="Meduza",
    lang="ru",
    country="LV",
    block_markers=("Доступ ограничен",),
)
HOUR = 3600.0


def state(**kw) -> FeedState:
    return FeedState(name="meduza", url=PRIMARY, **kw)


def page(body: bytes, status: int = 200) -> Page:
    return Page(
        requested_url=MIRROR,
        final_url=MIRROR,
        status=status,
        fetched_at=NOW,
        body=body,
    )


# --------------------------------------------------------------------------- rules


def test_candidates_primary_first_until_a_mirror_served():
    assert candidate_urls(SPEC, None, NOW, 6 * HOUR) == (PRIMARY, MIRROR, MIRROR2)
    on_primary = state(served_url=PRIMARY)
    assert candidate_urls(SPEC, on_primary, NOW, 6 * HOUR)[0] == PRIMARY


def test_candidates_keep_the_mirror_then_retry_the_primary():
    on_mirror = state(served_url=MIRROR2, primary_failed_at=NOW)
    soon = NOW + timedelta(hours=5)
    assert candidate_urls(SPEC, on_mirror, soon, 6 * HOUR) == (MIRROR2, PRIMARY, MIRROR)
    later = NOW + timedelta(hours=6)
    assert candidate_urls(SPEC, on_mirror, later, 6 * HOUR) == (
        PRIMARY,
        MIRROR,
        MIRROR2,
    )


def test_a_mirror_no_longer_configured_is_forgotten():
    gone = state(served_url="https://old.example/rss", primary_failed_at=NOW)
    assert candidate_urls(SPEC, gone, NOW, 6 * HOUR)[0] == PRIMARY


@pytest.mark.parametrize(
    ("value", "fails_over"),
    [
        (FetchError("connection failed: refused", resource=PRIMARY), True),
        (FetchStatusError("HTTP 451", resource=PRIMARY, status=451), True),
        (FetchStatusError("HTTP 404", resource=PRIMARY, status=404), False),
        (FetchStatusError("HTTP 503", resource=PRIMARY, status=503), False),
        (page("<title>Доступ ограничен</title>".encode()), True),
        (page("<title>ДОСТУП ОГРАНИЧЕН</title>".encode()), True),  # any case
        (page(b"<rss><channel/></rss>"), False),
        (None, False),
    ],
)
def test_failover_reason(value, fails_over):
    assert (failover_reason(value, SPEC) is not None) is fails_over


def test_block_statuses_are_configurable():
    spec = dataclasses.replace(SPEC, block_statuses=(403, 451))
    error = FetchStatusError("HTTP 403", resource=PRIMARY, status=403)
    assert failover_reason(error, spec) == "HTTP 403"
    assert failover_reason(error, SPEC) is None


def test_primary_failed_at_is_remembered_until_the_primary_serves():
    later = NOW + timedelta(hours=1)
    assert primary_failed_at(SPEC, None, (PRIMARY, MIRROR), NOW) == NOW
    kept = state(served_url=MIRROR, primary_failed_at=NOW)
    assert primary_failed_at(SPEC, kept, (MIRROR,), later) == NOW
    assert primary_failed_at(SPEC, kept, (PRIMARY, MIRROR), later) == later
    assert primary_failed_at(SPEC, kept, (MIRROR, PRIMARY), later) is None
    assert primary_failed_at(SPEC, kept, (PRIMARY,), later) is None


def test_mirror_links_move_to_the_primary_host():
    assert (
        primary_link("https://mdza.example/news/2026/12/02/x?utm=1", SPEC)
        == "https://meduza.io/news/2026/12/02/x?utm=1"
    )
    assert primary_link("https://meduza.io/news/x", SPEC) == "https://meduza.io/news/x"
    assert primary_link("https://other.example/x", SPEC) == "https://other.example/x"
    single = dataclasses.replace(SPEC, urls=())
    assert primary_link("https://mdza.example/x", single) == "https://mdza.example/x"


# --------------------------------------------------------------------------- a real run


def mirrored_config(tmp_path, primary: str, mirror: str, extra: str = "") -> None:
    write_config(tmp_path, [("meduza", primary, "ru")], extra=extra)
    text = (tmp_path / "feeds.toml").read_text()
    text = text.replace(
        f'url = "{primary}"\n',
        f'urls = ["{primary}", "{mirror}"]\nblock_markers = ["Доступ ограничен"]\n',
    )
    (tmp_path / "feeds.toml").write_text(text, encoding="utf-8")


def run_poll(tmp_path, now):
    cfg = load_config(tmp_path, env={})
    with closing(open_storage(cfg)) as storage:
        with Pipeline(
            cfg=cfg,
            storage=storage,
            client=fetch.make_client(cfg.fetch),
            now=lambda: now,
        ) as p:
            p.poll_feeds(("meduza",))
        articles = storage.get_articles(range(1, 20))
        return (
            storage.get_feed_states()["meduza"],
            articles,
            build_status(storage, cfg, now),
        )


def test_primary_down_is_fetched_from_the_mirror_and_links_join_the_primary(
    tmp_path,
):
    dead = f"http://127.0.0.1:{free_port()}"
    with LocalHTTPServer() as mirror:
        site = build_site(mirror, ["protest", "energy"], NOW)
        mirrored_config(tmp_path, f"{dead}/rss.xml", site.feed_url)
        st, articles, report = run_poll(tmp_path, NOW)
    assert st.last_status == "ok"
    assert st.served_url == site.feed_url
    assert st.served_via == "direct"
    assert st.primary_failed_at == NOW
    assert {a.title for a in articles} == {TITLES["protest"], TITLES["energy"]}
    # fetched from the mirror, known by the primary's address (one outlet)
    assert all(a.url.startswith(mirror.base_url) for a in articles)
    assert all(a.canonical_url.startswith(dead) for a in articles)
    entry = next(f for f in report["feeds"] if f["name"] == "meduza")
    assert entry["served_url"] == site.feed_url
    failures = [f["resource"] for f in report["recent_failures"]]
    assert f"meduza {dead}/rss.xml" in failures  # the primary's failure is on record
    assert f"served by mirror {site.feed_url}" in format_status(report)


def test_block_page_fails_over_then_the_primary_is_retried_and_returns(tmp_path):
    with LocalHTTPServer() as primary, LocalHTTPServer() as mirror:
        primary.add(
            "/rss.xml",
            body="<html><title>Доступ ограничен</title></html>".encode(),
        )
        site = build_site(mirror, ["protest"], NOW)
        mirrored_config(tmp_path, primary.url("/rss.xml"), site.feed_url)
        st, _, _ = run_poll(tmp_path, NOW)
        assert st.served_url == site.feed_url
        assert len(primary.requests_to("/rss.xml")) == 1

        # an hour later the mirror stays first: the primary is not asked
        st, _, _ = run_poll(tmp_path, NOW + timedelta(hours=1))
        assert st.served_url == site.feed_url
        assert len(primary.requests_to("/rss.xml")) == 1

        # the block is lifted; after poll.retry_primary_after the primary serves
        build_site(primary, ["protest", "court"], NOW)
        st, articles, _ = run_poll(tmp_path, NOW + timedelta(hours=7))
    assert len(primary.requests_to("/rss.xml")) == 2
    assert st.served_url == primary.url("/rss.xml")
    assert st.primary_failed_at is None
    # the article first seen on the mirror is the same article on the primary
    assert sorted(a.title for a in articles) == sorted(
        [TITLES["protest"], TITLES["court"]]
    )


def test_every_url_down_is_one_clear_error_and_the_run_goes_on(tmp_path):
    with LocalHTTPServer() as mirror:
        mirror.add("/rss.xml", status=451, body=b"blocked")
        dead = f"http://127.0.0.1:{free_port()}/rss.xml"
        mirrored_config(tmp_path, dead, mirror.url("/rss.xml"))
        st, articles, _ = run_poll(tmp_path, NOW)
    assert st.last_status == "error"
    assert "HTTP 451" in (st.last_error or "")
    assert articles == []


def test_feeds_check_says_which_mirror_served(tmp_path):
    from monitor.pipeline import check_feed

    dead = f"http://127.0.0.1:{free_port()}/rss.xml"
    with LocalHTTPServer() as mirror:
        site = build_site(mirror, ["protest"], NOW)
        mirrored_config(tmp_path, dead, site.feed_url)
        cfg = load_config(tmp_path, env={})
        pool = fetch.ClientPool(cfg.fetch)
        try:
            ok, line = check_feed(cfg, pool, cfg.feeds[0], NOW)
        finally:
            pool.close()
    assert ok, line
    assert line.endswith(f"; served by mirror {site.feed_url}")
