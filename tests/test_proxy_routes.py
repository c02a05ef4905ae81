"""Per-feed proxies, Tor timeouts and isolation, environment proxies (issue #20)."""

from __future__ import annotations

import dataclasses
from contextlib import closing

import pytest

from monitor import exceptions as fetch_errors
from monitor import fetch
from monitor.config import FetchConfig, load_config
from monitor.models import FeedSpec
from monitor.pipeline import Pipeline, open_storage
from monitor.proxyspec import EnvironmentProxies, bypasses_proxy, parse_proxy
from monitor.status import build_status, format_status
from tests.httpserver import LocalHTTPServer
from tests.proxyserver import ProxyServer
from tests.sitegen import NOW, article_html, feed_xml, write_config
from tests.test_config import errors_of, write

SPEC = FeedSpec(
    name="meduza", url="https://meduza.io/rss/all", outlet="M", lang="ru", country="LV"
)
TOR = "socks5h://127.0.0.1:9050"


def feeds_toml(**extra: object) -> str:
    lines = "".join(
        f"{k} = {v!r}\n" if not isinstance(v, bool) else f"{k} = {str(v).lower()}\n"
        for k, v in extra.items()
    )
    return (
        '[[feed]]\nname = "meduza"\nurl = "https://meduza.io/rss/all"\n'
        f'outlet = "Meduza"\nlang = "ru"\ncountry = "LV"\n{lines}'
    ).replace("'", '"')


# --------------------------------------------------------------------------- the rules


def test_feed_proxy_wins_over_global_and_none_is_direct():
    cfg = FetchConfig(proxy="http://127.0.0.1:3128")
    assert fetch.feed_route(cfg, SPEC, SPEC.url).label == "http://127.0.0.1:3128"
    own = dataclasses.replace(SPEC, proxy=TOR)
    assert fetch.feed_route(cfg, own, SPEC.url).label == TOR
    direct = dataclasses.replace(SPEC, proxy="none")
    route = fetch.feed_route(cfg, direct, SPEC.url)
    assert route.proxy is None
    assert route.label == "direct"


def test_remote_dns_routes_get_longer_timeouts_others_keep_theirs():
    cfg = FetchConfig(timeout=20.0, total_timeout=60.0)
    tor = fetch.feed_route(cfg, dataclasses.replace(SPEC, proxy=TOR), SPEC.url)
    assert (tor.timeout, tor.total_timeout) == (60.0, 180.0)
    http = fetch.feed_route(
        cfg, dataclasses.replace(SPEC, proxy="http://127.0.0.1:3128"), SPEC.url
    )
    assert (http.timeout, http.total_timeout) == (20.0, 60.0)
    patient = FetchConfig(timeout=90.0, total_timeout=300.0)
    tor = fetch.feed_route(patient, dataclasses.replace(SPEC, proxy=TOR), SPEC.url)
    assert (tor.timeout, tor.total_timeout) == (90.0, 300.0)  # never shorter


def test_credentials_go_to_the_global_proxy_only():
    cfg = FetchConfig(proxy=TOR, proxy_username="alice", proxy_password="pw")
    assert fetch.feed_route(cfg, SPEC, SPEC.url).auth == ("alice", "pw")
    other = dataclasses.replace(SPEC, proxy="http://10.0.0.1:3128")
    assert fetch.feed_route(cfg, other, SPEC.url).auth is None
    same = dataclasses.replace(SPEC, proxy=TOR)
    assert fetch.feed_route(cfg, same, SPEC.url).auth == ("alice", "pw")


def test_isolation_gives_each_feed_its_own_socks_username():
    cfg = FetchConfig(proxy=TOR)
    a = dataclasses.replace(SPEC, isolate=True)
    b = dataclasses.replace(SPEC, name="azattyq", isolate=True)
    ra, rb = (fetch.feed_route(cfg, s, s.url) for s in (a, b))
    assert ra.auth is not None
    assert rb.auth is not None
    assert ra.auth[0] == "monitor-meduza"
    assert ra.auth[0] != rb.auth[0]
    assert ra != rb  # so the pool builds two clients: two circuits
    assert "monitor-meduza" not in repr(ra)
    assert fetch.feed_route(cfg, SPEC, SPEC.url).auth is None


@pytest.mark.parametrize(
    ("host", "port", "no_proxy", "bypass"),
    [
        ("intranet.corp", None, "corp", True),
        ("a.b.corp", None, ".corp", True),
        ("notcorp", None, "corp", False),
        ("meduza.io", None, "", False),
        ("meduza.io", None, "*", True),
        ("10.1.2.3", None, "10.0.0.0/8", True),
        ("192.168.1.1", None, "10.0.0.0/8, 192.168.1.1", True),
        ("::1", None, "::1", True),
        ("intranet.corp", 8080, "intranet.corp:8080", True),
        ("intranet.corp", 443, "intranet.corp:8080", False),
        ("INTRANET.Corp", None, "intranet.CORP", True),
    ],
)
def test_no_proxy_rules(host, port, no_proxy, bypass):
    assert bypasses_proxy(host, port, no_proxy) is bypass


def test_environment_proxies_by_scheme_with_no_proxy():
    env = EnvironmentProxies(
        https="http://bob:pw@proxy.corp:3128",
        http="proxy.corp:8080",
        no_proxy="intranet.corp",
    )
    spec, auth = env.proxy_for("https://meduza.io/rss")  # type: ignore[misc]
    assert (spec.label, auth) == ("http://proxy.corp:3128", ("bob", "pw"))
    spec, auth = env.proxy_for("http://kloop.kg/rss")  # type: ignore[misc]
    assert (spec.label, auth) == ("http://proxy.corp:8080", None)
    assert env.proxy_for("https://intranet.corp/feed") is None


def test_environment_proxies_only_when_asked_and_only_below_config(tmp_path):
    env = {"HTTPS_PROXY": "http://proxy.corp:3128", "NO_PROXY": "localhost"}
    cfg = load_config(write(tmp_path), env=env)
    assert cfg.environment_proxies is None  # ignored unless asked
    route = fetch.feed_route(cfg.fetch, SPEC, SPEC.url, cfg.environment_proxies)
    assert route.proxy is None
    cfg = load_config(
        write(tmp_path, "[fetch]\nuse_environment_proxies = true\n"), env=env
    )
    route = fetch.feed_route(cfg.fetch, SPEC, SPEC.url, cfg.environment_proxies)
    assert route.label == "http://proxy.corp:3128"
    own = dataclasses.replace(SPEC, proxy="none")  # a feed's own setting wins
    assert (
        fetch.feed_route(cfg.fetch, own, SPEC.url, cfg.environment_proxies).proxy
        is None
    )


def test_bad_environment_proxy_is_a_config_error_without_its_password(tmp_path):
    env = {"HTTPS_PROXY": "ftp://bob:hunter2@proxy.corp:21"}
    errors = errors_of(
        write(tmp_path, "[fetch]\nuse_environment_proxies = true\n"), env=env
    )
    assert any(
        e.startswith("fetch.use_environment_proxies: HTTPS_PROXY") for e in errors
    )
    assert "hunter2" not in "\n".join(errors)


# --------------------------------------------------------------------------- config


def test_feed_proxy_settings_are_validated_with_the_rest(tmp_path):
    feeds = feeds_toml(proxy="socks4://127.0.0.1:1", isolate=True, urls=["x"])
    feeds += feeds_toml(block_statuses=[99], block_markers=[" "]).replace(
        '"meduza"', '"m2"', 1
    )
    errors = errors_of(write(tmp_path, "[fetch]\nproxyy = 1\n", feeds=feeds))
    text = "\n".join(errors)
    assert "feed[0] (meduza).proxy: scheme 'socks4' is not one of" in text
    assert "feed[0] (meduza).urls: give `url` or `urls`, not both" in text
    assert "feed[0] (meduza).urls[0]: 'x' is not an http(s) URL" in text
    assert "feed[1] (m2).block_statuses[0]: 99 is not an HTTP status" in text
    assert "feed[1] (m2).block_markers[0]: must not be empty" in text
    assert "fetch.proxyy: unknown key (did you mean 'proxy'?)" in text


def test_isolate_needs_a_socks_proxy(tmp_path):
    errors = errors_of(write(tmp_path, feeds=feeds_toml(isolate=True)))
    assert any("'meduza'.isolate: needs a socks5://" in e for e in errors)
    cfg = load_config(
        write(tmp_path, f'[fetch]\nproxy = "{TOR}"\n', feeds=feeds_toml(isolate=True)),
        env={},
    )
    assert cfg.feeds[0].isolate


def test_urls_set_the_primary_url(tmp_path):
    text = feeds_toml(urls=["https://meduza.io/rss/all", "https://mirror.example/rss"])
    text = text.replace('url = "https://meduza.io/rss/all"\n', "", 1)
    cfg = load_config(write(tmp_path, feeds=text), env={})
    assert cfg.feeds[0].url == "https://meduza.io/rss/all"
    assert cfg.feeds[0].urls[1] == "https://mirror.example/rss"


def test_parse_proxy_rejects_what_feed_proxy_rejects():
    with pytest.raises(ValueError, match="credentials"):
        parse_proxy("socks5h://u:p@127.0.0.1:9050")


# --------------------------------------------------------------------------- one run


def closing_site(server: LocalHTTPServer, slug: str) -> str:
    """A one-article site whose answers close the connection, so every request
    opens a tunnel of its own and the proxy's log counts them."""
    close = {"Connection": "close"}
    server.add(
        "/rss.xml",
        body=feed_xml(server, [slug], NOW),
        content_type="application/rss+xml",
        headers=close,
    )
    server.add(f"/news/{slug}", body=article_html(slug).encode(), headers=close)
    return server.url("/rss.xml")


def tunnels(log: str, port: int) -> int:
    return log.count(f"-> 127.0.0.1:{port}")


def test_one_run_fetches_each_feed_its_own_way(tmp_path):
    """Direct, through an HTTP proxy and through SOCKS5 with remote DNS in one
    run; article pages go the way of their feed (the proxies' logs show it)."""
    with (
        LocalHTTPServer() as a,
        LocalHTTPServer() as b,
        LocalHTTPServer() as c,
        ProxyServer("http") as hp,
        ProxyServer("socks5") as sp,
    ):
        feeds = [
            ("direct", closing_site(a, "protest"), "ru"),
            ("viahttp", closing_site(b, "energy"), "ru"),
            ("viasocks", closing_site(c, "court"), "ru"),
        ]
        write_config(tmp_path, feeds)
        text = (tmp_path / "feeds.toml").read_text()
        text = text.replace(
            'name = "viahttp"\n', f'name = "viahttp"\nproxy = "{hp.url}"\n'
        ).replace(
            'name = "viasocks"\n',
            f'name = "viasocks"\nproxy = "{sp.url.replace("socks5", "socks5h")}"\n',
        )
        (tmp_path / "feeds.toml").write_text(text)
        cfg = load_config(tmp_path, env={})
        with closing(open_storage(cfg)) as storage:
            with Pipeline(
                cfg=cfg,
                storage=storage,
                client=fetch.make_client(cfg.fetch),
                now=lambda: NOW,
            ) as p:
                p.poll_feeds()
                p.extract_articles()
            states = storage.get_feed_states()
            text = format_status(build_status(storage, cfg, NOW))
            sources = {x.feed_name: x.source for x in storage.get_articles(range(1, 9))}
        http_log, socks_log = hp.log(), sp.log()
        pages = {
            n: bool(s.requests_to(f"/news/{slug}"))
            for n, s, slug in (
                ("direct", a, "protest"),
                ("viahttp", b, "energy"),
                ("viasocks", c, "court"),
            )
        }
    assert {n: s.last_status for n, s in states.items()} == dict.fromkeys(
        ("direct", "viahttp", "viasocks"), "ok"
    )
    assert pages == dict.fromkeys(("direct", "viahttp", "viasocks"), True)
    assert set(sources.values()) == {"page"}
    assert states["direct"].served_via == "direct"
    assert states["viahttp"].served_via == hp.url
    assert states["viasocks"].served_via == sp.url.replace("socks5", "socks5h")
    assert (tunnels(http_log, b.port), tunnels(socks_log, c.port)) == (
        2,
        2,
    )  # feed, page
    for log in (http_log, socks_log):
        assert tunnels(log, a.port) == 0
    assert tunnels(http_log, c.port) == tunnels(socks_log, b.port) == 0
    assert f"  viahttp: via {hp.url}" in text
    assert f"  viasocks: via {sp.url.replace('socks5', 'socks5h')}" in text
    assert "  direct:" not in text  # direct from its own URL: nothing to say


def test_isolation_username_reaches_the_socks_proxy(tmp_path):
    """The feed's own SOCKS username goes on the wire (pproxy accepts only it)."""
    with (
        LocalHTTPServer() as site,
        ProxyServer("socks5", auth="monitor-meduza:pw") as proxy,
    ):
        site.add("/rss.xml", body=b"<rss/>", content_type="text/xml")
        cfg = FetchConfig(
            proxy=proxy.url.replace("socks5", "socks5h"), proxy_password="pw"
        )
        isolated = dataclasses.replace(SPEC, isolate=True)

        def get(spec: FeedSpec) -> int:
            route = fetch.feed_route(cfg, spec, site.url("/rss.xml"))
            with fetch.make_client(cfg, route=route) as client:
                page = fetch.fetch_url(
                    client,
                    site.url("/rss.xml"),
                    max_bytes=1 << 16,
                    allow_private=True,
                    total_timeout=10.0,
                    max_redirects=0,
                    now=lambda: NOW,
                )
            return page.status

        # refusals first: pproxy trusts a client address once it authenticated
        with pytest.raises(fetch_errors.FetchError, match="via proxy socks5h://"):
            get(SPEC)  # not isolated: no username, refused
        with pytest.raises(fetch_errors.FetchError, match="via proxy socks5h://"):
            get(dataclasses.replace(isolated, name="azattyq"))  # another feed's name
        assert get(isolated) == 200


def test_environment_proxies_on_the_wire_with_no_proxy(tmp_path):
    """HTTP_PROXY carries one feed; NO_PROXY (host:port) sends the other direct."""
    with (
        LocalHTTPServer() as a,
        LocalHTTPServer() as b,
        ProxyServer("http", auth="bob:pw") as hp,
    ):
        feeds = [
            ("proxied", closing_site(a, "protest"), "ru"),
            ("exempt", closing_site(b, "energy"), "ru"),
        ]
        write_config(tmp_path, feeds)
        text = (tmp_path / "monitor.toml").read_text()
        text = text.replace("[fetch]\n", "[fetch]\nuse_environment_proxies = true\n")
        (tmp_path / "monitor.toml").write_text(text)
        env = {
            "http_proxy": hp.url.replace("http://", "http://bob:pw@"),  # lower case too
            "NO_PROXY": f"localhost, 127.0.0.1:{b.port}",
        }
        cfg = load_config(tmp_path, env=env)
        with closing(open_storage(cfg)) as storage:
            with Pipeline(
                cfg=cfg,
                storage=storage,
                client=fetch.make_client(cfg.fetch),
                now=lambda: NOW,
            ) as p:
                p.poll_feeds()
            states = storage.get_feed_states()
        log = hp.log()
    assert states["proxied"].last_status == "ok"
    assert states["proxied"].served_via == hp.url  # no bob:pw
    assert states["exempt"].served_via == "direct"
    assert tunnels(log, a.port) == 1
    assert tunnels(log, b.port) == 0
    assert b.requests_to("/rss.xml")


def test_politeness_counts_per_target_host_whatever_the_route(tmp_path):
    """Two feeds on one host, one direct and one through a proxy, still wait
    `per_host_delay` between requests to that host."""
    with LocalHTTPServer() as site, ProxyServer("http") as hp:
        site.add("/a.xml", body=b"<rss><channel/></rss>", content_type="text/xml")
        site.add("/b.xml", body=b"<rss><channel/></rss>", content_type="text/xml")
        write_config(
            tmp_path,
            [("a", site.url("/a.xml"), "ru"), ("b", site.url("/b.xml"), "ru")],
        )
        text = (tmp_path / "monitor.toml").read_text()
        (tmp_path / "monitor.toml").write_text(
            text.replace("per_host_delay = 0.0", "per_host_delay = 0.6")
        )
        text = (tmp_path / "feeds.toml").read_text()
        (tmp_path / "feeds.toml").write_text(
            text.replace('name = "b"\n', f'name = "b"\nproxy = "{hp.url}"\n')
        )
        cfg = load_config(tmp_path, env={})
        with closing(open_storage(cfg)) as storage:
            with Pipeline(
                cfg=cfg,
                storage=storage,
                client=fetch.make_client(cfg.fetch),
                now=lambda: NOW,
            ) as p:
                p.poll_feeds()
        times = sorted(r.time for r in site.requests)
        assert tunnels(hp.log(), site.port) == 1
    assert len(times) == 2
    assert times[1] - times[0] >= 0.55
