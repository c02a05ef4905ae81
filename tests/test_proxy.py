"""Proxies (issue #20): real pproxy HTTP and SOCKS5 servers on 127.0.0.1."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from monitor.config import FetchConfig, load_config
from monitor.exceptions import BlockedURLError, FetchError
from monitor.fetch import fetch_url, make_client
from monitor.fetch._proxy import check_remote_target
from monitor.models import Page
from monitor.proxyspec import parse_proxy
from tests.httpserver import LocalHTTPServer
from tests.proxyserver import ProxyServer, free_port
from tests.test_config import errors_of, write

SECRET = "s3cret-Proxy-pw"


@pytest.fixture
def site() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as server:
        server.add("/feed.xml", body=b"<rss>hello</rss>", content_type="text/xml")
        yield server


def get(cfg: FetchConfig, url: str, now: datetime, **kw: Any) -> Page:
    opts: dict[str, Any] = {"allow_private": True, **kw}
    with make_client(cfg) as client:
        return fetch_url(
            client,
            url,
            max_bytes=1 << 20,
            total_timeout=10.0,
            max_redirects=3,
            now=lambda: now,
            **opts,
        )


# --------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("http://127.0.0.1:3128", "http://127.0.0.1:3128"),
        ("socks5://proxy.corp", "socks5://proxy.corp:1080"),
        ("SOCKS5H://127.0.0.1:9050/", "socks5h://127.0.0.1:9050"),
    ],
)
def test_parse_proxy_accepts(text, label):
    spec = parse_proxy(text)
    assert spec is not None
    assert spec.label == label
    assert spec.remote_dns == label.startswith("socks5h")


@pytest.mark.parametrize("text", ["", "none", "None"])
def test_parse_proxy_none_is_direct(text):
    assert parse_proxy(text) is None


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("ftp://p:21", "not one of"),
        ("socks4://p:1", "not one of"),
        ("http://:8080", "no host"),
        ("http://p:8080/path", "host:port only"),
        ("http://p:99999", "not a proxy URL"),
    ],
)
def test_parse_proxy_refuses(text, why):
    with pytest.raises(ValueError, match=why):
        parse_proxy(text)


def test_config_refuses_credentials_in_file_and_url_without_echoing(tmp_path):
    monitor = (
        f'[fetch]\nproxy = "http://alice:{SECRET}@127.0.0.1:3128"\n'
        f'proxy_password = "{SECRET}"\nproxi = "x"\n'
    )
    errors = errors_of(write(tmp_path, monitor))
    text = "\n".join(errors)
    assert SECRET not in text
    assert any(
        e.startswith("fetch.proxy: credentials") and "MONITOR_FETCH_PROXY" in e
        for e in errors
    )
    assert any(
        e.startswith("fetch.proxy_password: not allowed in a file") for e in errors
    )
    assert any("did you mean 'proxy'" in e for e in errors)  # all errors at once


def test_config_takes_credentials_from_environment(tmp_path):
    env = {
        "MONITOR_FETCH_PROXY_USERNAME": "alice",
        "MONITOR_FETCH_PROXY_PASSWORD": SECRET,
    }
    cfg = load_config(
        write(tmp_path, '[fetch]\nproxy = "socks5h://127.0.0.1:9050"\n'), env=env
    )
    assert cfg.fetch.proxy_username == "alice"
    assert cfg.fetch.proxy_password == SECRET
    assert SECRET not in repr(cfg)  # a config dumped into a log stays clean


# --------------------------------------------------------------------------- through real proxies


@pytest.mark.parametrize(
    ("kind", "scheme"), [("http", "http"), ("socks5", "socks5"), ("socks5", "socks5h")]
)
def test_fetch_through_each_proxy(site, now, kind, scheme):
    with ProxyServer(kind) as proxy:
        url = proxy.url.replace("socks5", scheme)
        page = get(FetchConfig(proxy=url), site.url("/feed.xml"), now)
        log = proxy.log()
    assert page.status == 200
    assert page.body == b"<rss>hello</rss>"
    assert f"-> 127.0.0.1:{site.port}" in log  # the proxy carried it
    assert site.requests_to("/feed.xml")


def test_direct_fetch_does_not_touch_proxy(site, now):
    with ProxyServer("http") as proxy:
        get(FetchConfig(proxy="none"), site.url("/feed.xml"), now)
        assert "->" not in proxy.log()
    assert site.requests_to("/feed.xml")


@pytest.mark.parametrize("kind", ["http", "socks5"])
def test_credentials_from_environment_reach_proxy_and_no_log_line(
    site, now, tmp_path, caplog, kind
):
    caplog.set_level(logging.DEBUG)
    with ProxyServer(kind, auth=f"alice:{SECRET}") as proxy:
        with pytest.raises(FetchError) as refused:  # no credentials: refused
            get(FetchConfig(proxy=proxy.url), site.url("/feed.xml"), now)
        env = {
            "MONITOR_FETCH_PROXY_USERNAME": "alice",
            "MONITOR_FETCH_PROXY_PASSWORD": SECRET,
        }
        cfg = load_config(write(tmp_path, f'[fetch]\nproxy = "{proxy.url}"\n'), env=env)
        page = get(cfg.fetch, site.url("/feed.xml"), now)
    assert page.status == 200
    assert SECRET not in str(refused.value)
    assert SECRET not in caplog.text
    assert "alice" not in caplog.text


def test_proxy_down_is_a_clear_fetch_error(site, now):
    dead = f"socks5h://127.0.0.1:{free_port()}"
    with pytest.raises(FetchError) as info:
        get(FetchConfig(proxy=dead), site.url("/feed.xml"), now)
    assert f"via proxy {dead}" in str(info.value)
    assert not site.requests


# --------------------------------------------------------------------------- SSRF


@pytest.mark.parametrize("kind", ["http", "socks5"])
def test_local_dns_proxy_checks_resolved_addresses_first(site, now, kind):
    with ProxyServer(kind) as proxy:
        with pytest.raises(BlockedURLError, match=r"non-public address 127\.0\.0\.1"):
            get(
                FetchConfig(proxy=proxy.url),
                site.url("/feed.xml"),
                now,
                allow_private=False,
            )
        assert "->" not in proxy.log()  # refused before a byte went to the proxy
    assert not site.requests


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:{port}/feed.xml",
        "http://feeds.localhost:{port}/feed.xml",
        "http://127.0.0.1:{port}/feed.xml",
        "http://10.1.2.3/feed.xml",
        "http://[::1]:{port}/feed.xml",
        "http://169.254.169.254/latest/meta-data",
    ],
)
def test_remote_dns_proxy_refuses_local_names_and_private_literals(site, now, url):
    with ProxyServer("socks5") as proxy:
        with pytest.raises(BlockedURLError):
            get(
                FetchConfig(proxy=proxy.url.replace("socks5", "socks5h")),
                url.format(port=site.port),
                now,
                allow_private=False,
            )
        assert "->" not in proxy.log()
    assert not site.requests


def test_remote_dns_proxy_resolves_names_itself(now):
    """A name is not looked up here (Tor: it may not resolve locally at all)."""
    with ProxyServer("socks5") as proxy:
        with pytest.raises(FetchError) as info:
            get(
                FetchConfig(proxy=proxy.url.replace("socks5", "socks5h")),
                "http://no-such-host.invalid/feed.xml",
                now,
                allow_private=False,
            )
        log = proxy.log()
    assert "cannot resolve host" not in str(info.value)  # not our resolver
    assert "via proxy socks5h://" in str(info.value)
    assert "no-such-host.invalid" in log  # the proxy got the name


def test_check_remote_target_lets_public_names_and_addresses_through():
    check_remote_target("https://meduza.io/rss/all")
    check_remote_target("http://93.184.215.14/")
