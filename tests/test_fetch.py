"""monitor.fetch against a real local HTTP server (issue #2, hostile HTTP of #7)."""

from __future__ import annotations

import gzip
import itertools
import json
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from monitor.config import FetchConfig
from monitor.exceptions import BlockedURLError, FetchError
from monitor.fetch import (
    FetchRequest,
    FetchStatusError,
    HostLimiter,
    check_url,
    fetch_many,
    fetch_url,
    interleave_by_host,
    make_client,
    parse_content_type,
    parse_retry_after,
)
from monitor.fetch._many import is_name_resolution_error
from monitor.fetch._safety import check_peer
from monitor.models import Page
from tests.httpserver import RecordedRequest, Response

REPO = Path(__file__).resolve().parents[1]
UA = "monitor-test/1.0 (+https://example.org/monitor)"
MB = 1 << 20


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with make_client(FetchConfig(user_agent=UA, timeout=5.0)) as c:
        yield c


def fetch(client: httpx.Client, url: str, now: datetime, **kw: Any) -> Page:
    """fetch_url with test defaults (loopback allowed: the server is 127.0.0.1)."""
    opts: dict[str, Any] = {
        "max_bytes": 10 * MB,
        "allow_private": True,
        "total_timeout": 10.0,
        "max_redirects": 5,
    }
    opts.update(kw)
    return fetch_url(client, url, now=lambda: now, **opts)


# --------------------------------------------------------------------------- basics


def test_client_sends_user_agent_and_encodings(http_server, client, now):
    url = http_server.add("/p", body=b"<html>hi</html>")
    page = fetch(client, url, now)
    req = http_server.requests_to("/p")[0]
    assert req.headers["user-agent"] == UA
    assert req.headers["accept-encoding"] == "gzip, deflate"
    assert "if-none-match" not in req.headers
    assert page.body == b"<html>hi</html>"
    assert page.status == 200
    assert page.requested_url == page.final_url == url
    assert page.fetched_at == now
    assert page.content_type == "text/html"
    assert page.charset == "utf-8"


def test_make_client_does_not_follow_redirects(http_server):
    http_server.redirect("/old", "/new")
    http_server.add("/new", body=b"new")
    with make_client(FetchConfig(timeout=2.0)) as c:
        resp = c.get(http_server.url("/old"))
    assert resp.status_code == 302
    assert c.timeout.read == 2.0
    assert http_server.requests_to("/new") == []


def test_charset_and_content_type_from_header(http_server, client, now):
    body = "<rss><channel><title>Новости</title></channel></rss>".encode("cp1251")
    url = http_server.add(
        "/f.xml", body=body, content_type='application/RSS+xml; charset="Windows-1251"'
    )
    page = fetch(client, url, now)
    assert page.content_type == "application/rss+xml"
    assert page.charset == "windows-1251"
    assert page.body.decode(page.charset).startswith("<rss><channel><title>Новости")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, (None, None)),
        ("", (None, None)),
        ("text/html", ("text/html", None)),
        ("text/html;charset=UTF-8", ("text/html", "utf-8")),
        ("text/xml; foo=bar; Charset='koi8-r' ", ("text/xml", "koi8-r")),
        ("text/html; charset=", ("text/html", None)),
    ],
)
def test_parse_content_type(value, expected):
    assert parse_content_type(value) == expected


def test_html_error_page_with_200_is_a_page(http_server, client, now):
    """A feed URL answering 200 text/html is returned; the feed parser rejects it."""
    html = b"<!doctype html><title>Site maintenance</title><p>Back soon"
    url = http_server.add("/rss", body=html, content_type="text/html")
    page = fetch(client, url, now)
    assert page.status == 200
    assert page.content_type == "text/html"
    assert page.body == html


def test_corpus_feed_served_byte_for_byte(feed_server, corpus_dir, client, now):
    rel = "real-world-ru/oren.ru_news_windows-1251.xml"
    page = fetch(client, feed_server.url(f"/feeds/{rel}"), now)
    assert page.body == (corpus_dir / "feeds" / rel).read_bytes()
    assert page.etag is not None
    again = fetch(client, page.final_url, now, etag=page.etag)
    assert again.status == 304


# ------------------------------------------------------------------ conditional GET


def test_etag_round_trip(http_server, client, now):
    url = http_server.add("/feed", body=b"<rss/>", etag='"v1"')
    first = fetch(client, url, now)
    assert first.status == 200
    assert first.etag == '"v1"'
    second = fetch(client, url, now, etag=first.etag)
    assert second.status == 304
    assert second.not_modified
    assert second.body == b""
    assert second.etag == '"v1"'
    sent = http_server.requests_to("/feed")[1].headers
    assert sent["if-none-match"] == '"v1"'


def test_changed_etag_gets_full_body(http_server, client, now):
    url = http_server.add("/feed", body=b"<rss>2</rss>", etag='"v2"')
    page = fetch(client, url, now, etag='"v1"')
    assert page.status == 200
    assert page.body == b"<rss>2</rss>"
    assert page.etag == '"v2"'


def test_last_modified_round_trip(http_server, client, now):
    lm = "Wed, 11 Mar 2026 08:00:00 GMT"
    url = http_server.add("/feed", body=b"<rss/>", last_modified=lm)
    first = fetch(client, url, now)
    assert first.last_modified == lm
    second = fetch(client, url, now, last_modified=first.last_modified)
    assert second.status == 304
    assert second.last_modified == lm
    assert http_server.requests_to("/feed")[1].headers["if-modified-since"] == lm


def test_304_without_validators_keeps_ours(http_server, client, now):
    url = http_server.add("/feed", status=304, content_type=None)
    page = fetch(
        client, url, now, etag='"old"', last_modified="Tue, 10 Mar 2026 00:00:00 GMT"
    )
    assert page.status == 304
    assert page.etag == '"old"'
    assert page.last_modified == "Tue, 10 Mar 2026 00:00:00 GMT"


# --------------------------------------------------------------------------- redirects


def test_redirect_chain_followed_and_checked(http_server, client, now):
    http_server.redirect("/a", http_server.url("/b"), status=301)
    http_server.redirect("/b", "/c", status=308)  # relative Location
    http_server.add("/c", body=b"final")
    page = fetch(client, http_server.url("/a"), now, etag='"e"')
    assert page.body == b"final"
    assert page.requested_url == http_server.url("/a")
    assert page.final_url == http_server.url("/c")
    assert [r.path for r in http_server.requests] == ["/a", "/b", "/c"]
    assert all(r.headers["user-agent"] == UA for r in http_server.requests)


def test_redirect_loop_detected(http_server, client, now):
    http_server.redirect("/x", "/y")
    http_server.redirect("/y", "/x")
    with pytest.raises(FetchError, match="redirect loop") as exc:
        fetch(client, http_server.url("/x"), now, max_redirects=10)
    assert exc.value.resource == http_server.url("/x")
    assert len(http_server.requests) == 2


def test_self_redirect_is_a_loop(http_server, client, now):
    http_server.redirect("/self", "/self")
    with pytest.raises(FetchError, match="redirect loop"):
        fetch(client, http_server.url("/self"), now)


def test_too_many_redirects(http_server, client, now):
    for i in range(5):
        http_server.redirect(f"/r{i}", f"/r{i + 1}")
    http_server.add("/r5", body=b"end")
    with pytest.raises(FetchError, match=r"too many redirects \(more than 2\)"):
        fetch(client, http_server.url("/r0"), now, max_redirects=2)
    assert len(http_server.requests) == 3
    assert fetch(client, http_server.url("/r0"), now, max_redirects=5).body == b"end"


@pytest.mark.parametrize(
    "target",
    ["file:///etc/passwd", "ftp://127.0.0.1/pub/feed.xml", "gopher://127.0.0.1:70/"],
)
def test_redirect_to_forbidden_scheme_blocked(http_server, client, now, target):
    http_server.redirect("/go", target)
    with pytest.raises(BlockedURLError, match=r"scheme .* is not allowed") as exc:
        fetch(client, http_server.url("/go"), now)
    assert exc.value.resource == http_server.url("/go")


def test_redirect_without_location(http_server, client, now):
    http_server.add("/r", status=302, content_type=None)
    with pytest.raises(FetchStatusError, match="without Location") as exc:
        fetch(client, http_server.url("/r"), now)
    assert exc.value.status == 302


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:8080/admin",
        "http://10.0.0.5/",
        "http://[::1]/",
        "http://[::ffff:169.254.169.254]/",
        "http://0.0.0.0/",
        "http://localhost/",
    ],
)
def test_public_redirect_to_private_address_blocked(mock_http, now, target):
    """An allowed public page may not bounce us to metadata or intranet hosts."""
    start = "http://93.184.216.34/feed"  # public literal: no DNS; MockTransport
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if str(request.url) == start:
            return httpx.Response(302, headers={"Location": target})
        return httpx.Response(200, text="private data")

    with pytest.raises(BlockedURLError) as exc:
        fetch(mock_http(handler), start, now, allow_private=False)
    assert seen == [start]  # the private target was never requested
    assert "non-public address" in str(exc.value)


# --------------------------------------------------------------------------- SSRF


def test_private_address_blocked_unless_allowed(http_server, client, now):
    url = http_server.add("/p", body=b"ok")
    with pytest.raises(BlockedURLError, match=r"non-public address 127\.0\.0\.1"):
        fetch(client, url, now, allow_private=False)
    assert http_server.requests == []
    assert fetch(client, url, now, allow_private=True).body == b"ok"


def test_localhost_name_blocked(http_server, client, now):
    url = f"http://localhost:{http_server.port}/p"
    with pytest.raises(BlockedURLError):
        fetch(client, url, now, allow_private=False)
    assert http_server.requests == []


def _resolver(*ips: str) -> Callable[..., list[tuple[Any, ...]]]:
    def resolve(host: str, port: int, **_kw: Any) -> list[tuple[Any, ...]]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in ips]

    return resolve


@pytest.mark.parametrize(
    "ip",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "224.0.0.251",
        "240.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "fe80::1%eth0",
    ],
)
def test_check_url_refuses_non_public(ip):
    with pytest.raises(BlockedURLError, match="non-public address"):
        check_url("https://news.example/x", resolve=_resolver(ip))
    check_url("https://news.example/x", allow_private=True, resolve=_resolver(ip))


def test_check_url_any_private_answer_blocks():
    with pytest.raises(BlockedURLError):
        check_url(
            "http://news.example/", resolve=_resolver("93.184.216.34", "10.0.0.1")
        )
    check_url("http://news.example/", resolve=_resolver("93.184.216.34", "1.1.1.1"))


def test_check_url_dns_failure_is_fetch_error():
    def fail(*_a: Any, **_kw: Any) -> list[tuple[Any, ...]]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(FetchError, match="cannot resolve host") as exc:
        check_url("http://no-such-host.invalid/", resolve=fail)
    assert not isinstance(exc.value, BlockedURLError)


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "javascript:alert(1)", "http://", "/relative", ""]
)
def test_check_url_refuses_bad_urls(url):
    with pytest.raises(BlockedURLError):
        check_url(url, allow_private=True)


def test_peer_address_rechecked(http_server, client):
    """DNS rebinding: the address actually connected to is checked again."""
    url = http_server.add("/p", body=b"x")
    with client.stream("GET", url) as resp:
        check_peer(resp, url, allow_private=True)
        with pytest.raises(BlockedURLError, match="connected to non-public"):
            check_peer(resp, url, allow_private=False)


@pytest.mark.parametrize(
    "url", ["not a url", "http://exa mple.com/", "http://[::1/", "http://a..b/"]
)
def test_malformed_urls_become_fetch_errors(client, now, url):
    with pytest.raises(FetchError):
        fetch(client, url, now, total_timeout=2.0)


# --------------------------------------------------------------------------- status


@pytest.mark.parametrize("status", [400, 403, 404, 410, 500, 502])
def test_error_status(http_server, client, now, status):
    url = http_server.add("/s", status=status, body=b"nope")
    with pytest.raises(FetchStatusError, match=f"HTTP {status}") as exc:
        fetch(client, url, now)
    assert exc.value.status == status
    assert exc.value.retry_after is None
    assert exc.value.resource == url


def test_retry_after_seconds_on_429(http_server, client, now):
    url = http_server.add("/busy", status=429, headers={"Retry-After": "120"})
    with pytest.raises(FetchStatusError) as exc:
        fetch(client, url, now)
    assert exc.value.status == 429
    assert exc.value.retry_after == now + timedelta(seconds=120)


def test_retry_after_date_on_503(http_server, client, now):
    when = now + timedelta(hours=2)
    url = http_server.add(
        "/busy", status=503, headers={"Retry-After": format_datetime(when, usegmt=True)}
    )
    with pytest.raises(FetchStatusError) as exc:
        fetch(client, url, now)
    assert exc.value.status == 503
    assert exc.value.retry_after == when


@pytest.mark.parametrize(
    ("value", "delta"),
    [
        ("0", timedelta(0)),
        ("3600", timedelta(hours=1)),
        (" 90 ", timedelta(seconds=90)),
        ("Sat, 14 Mar 2026 10:26:53 GMT", timedelta(hours=1)),
        ("Saturday, 14-Mar-26 10:26:53 GMT", timedelta(hours=1)),  # RFC 850
        ("Sat Mar 14 10:26:53 2026", timedelta(hours=1)),  # asctime, no zone: GMT
        ("Fri, 13 Mar 2026 00:00:00 GMT", timedelta(0)),  # in the past: now
        ("99999999999999999999", timedelta(days=7)),  # capped, no overflow
        ("Fri, 31 Dec 2100 00:00:00 GMT", timedelta(days=7)),
    ],
)
def test_parse_retry_after(now, value, delta):
    assert parse_retry_after(value, now) == now + delta


@pytest.mark.parametrize("value", [None, "", "soon", "-5", "1.5", "Mon, 99 Foo 2026"])
def test_parse_retry_after_unreadable(now, value):
    assert parse_retry_after(value, now) is None


def test_parse_retry_after_is_utc(now):
    local = now.astimezone(datetime.now().astimezone().tzinfo)
    result = parse_retry_after("60", local)
    assert result is not None
    assert result.tzinfo == UTC


# --------------------------------------------------------------------------- encodings


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw-deflate"])
def test_compressed_bodies_decoded(http_server, client, now, encoding):
    body = ("<p>Алматы, Бишкек, Ташкент. " * 2000).encode()
    url = http_server.add("/z", body=body, encoding=encoding)
    assert fetch(client, url, now).body == body


def test_multi_member_gzip(http_server, client, now):
    body = gzip.compress(b"part one; ") + gzip.compress(b"part two")
    url = http_server.add("/z", body=body, headers={"Content-Encoding": "gzip"})
    assert fetch(client, url, now).body == b"part one; part two"


def test_broken_gzip_is_fetch_error(http_server, client, now):
    bad = gzip.compress(b"hello world" * 100)[:10] + b"\xff" * 200  # bad block type
    url = http_server.add("/z", body=bad, headers={"Content-Encoding": "gzip"})
    with pytest.raises(FetchError, match="broken gzip stream") as exc:
        fetch(client, url, now)
    assert exc.value.resource == url


def test_truncated_gzip_is_fetch_error(http_server, client, now):
    cut = gzip.compress(b"hello world " * 1000)[:-12]
    url = http_server.add("/z", body=cut, headers={"Content-Encoding": "gzip"})
    with pytest.raises(FetchError, match="truncated gzip stream"):
        fetch(client, url, now)


def test_unsupported_encoding(http_server, client, now):
    url = http_server.add("/z", body=b"\x00\x01", headers={"Content-Encoding": "br"})
    with pytest.raises(FetchError, match="unsupported Content-Encoding 'br'"):
        fetch(client, url, now)


# --------------------------------------------------------------------------- size caps


def test_content_length_over_cap_refused_before_reading(http_server, client, now):
    url = http_server.add("/big", body=b"x" * 5000)
    with pytest.raises(FetchError, match="Content-Length 5000 > max_bytes=4000"):
        fetch(client, url, now, max_bytes=4000)


def test_body_at_cap_is_fine(http_server, client, now):
    url = http_server.add("/b", body=b"x" * 4000)
    assert len(fetch(client, url, now, max_bytes=4000).body) == 4000


def test_streamed_body_over_cap(http_server, client, now):
    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b"y" * 100_000

    url = http_server.add("/big", stream=chunks)  # no Content-Length
    with pytest.raises(FetchError, match="more than max_bytes=1000000"):
        fetch(client, url, now, max_bytes=1_000_000)


def test_compressed_body_over_cap_with_normal_ratio(http_server, client, now):
    """Decoded size counts, not bytes on the wire."""
    text = b" ".join(str(i).encode() for i in range(400_000))  # ~2.7 MB, ratio < 100
    url = http_server.add("/z", body=text, encoding="gzip")
    with pytest.raises(FetchError, match=r"more than max_bytes=1000000 \(decoded\)"):
        fetch(client, url, now, max_bytes=1_000_000)
    assert fetch(client, url, now, max_bytes=len(text)).body == text


@pytest.fixture(scope="session")
def gzip_bomb() -> bytes:
    """1 GiB of zeros as one gzip stream of ~1 MB (identical full-flush blocks)."""
    zeros = bytes(MB)
    comp = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH)
    assert comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH) == block
    crc = 0
    for _ in range(1024):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    trailer = struct.pack("<II", crc, (1 << 30) & 0xFFFFFFFF)
    return header + block * 1024 + comp.flush(zlib.Z_FINISH) + trailer


def test_gzip_bomb_cut_off_fast(http_server, client, now, gzip_bomb):
    url = http_server.add("/bomb", body=gzip_bomb, headers={"Content-Encoding": "gzip"})
    t0 = time.monotonic()
    with pytest.raises(FetchError, match="compression ratio over 100:1") as exc:
        fetch(client, url, now, max_bytes=2_000_000_000)
    assert time.monotonic() - t0 < 10  # it stops at ~6 MB decoded, not 1 GiB
    assert exc.value.resource == url


_MEASURE = """
import json, sys
from datetime import UTC, datetime
from monitor.config import FetchConfig
from monitor.fetch import fetch_url, make_client

def hwm_kb():  # this process's own peak RSS (ru_maxrss also counts the parent's)
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))

url, max_bytes = sys.argv[1], int(sys.argv[2])
with make_client(FetchConfig()) as client:
    base = hwm_kb()
    try:
        page = fetch_url(
            client, url, max_bytes=max_bytes, allow_private=True, total_timeout=60,
            max_redirects=0, now=lambda: datetime.now(UTC))
        out = {"ok": len(page.body)}
    except Exception as e:
        out = {"error": f"{type(e).__name__}: {e}"}
    peak = hwm_kb()
out["base_mb"] = base / 1024
out["growth_mb"] = (peak - base) / 1024
print(json.dumps(out))
"""


def measure_fetch(url: str, max_bytes: int) -> dict[str, Any]:
    """Fetch in a fresh interpreter; report its peak RSS growth during the fetch."""
    if not Path("/proc/self/status").exists():
        pytest.skip("needs /proc/self/status (Linux) to read peak RSS")
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, url, str(max_bytes)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=True,
    )
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def test_gzip_bomb_memory_bounded(http_server, gzip_bomb):
    """Even with a huge cap, the bomb is refused early and memory stays small."""
    url = http_server.add("/bomb", body=gzip_bomb, headers={"Content-Encoding": "gzip"})
    result = measure_fetch(url, max_bytes=4_000_000_000)
    print(f"gzip bomb (1 GiB of zeros in {len(gzip_bomb)} bytes): {result}")
    assert "compression ratio" in result["error"]
    assert result["growth_mb"] < 30, result


def test_large_body_memory_is_about_its_size(http_server):
    """50 MB streamed in is held once (no 2-3x copies)."""
    size = 50 * MB

    def chunks() -> Iterator[bytes]:
        for i in range(size // (64 * 1024)):
            yield bytes([i % 251]) * (64 * 1024)

    url = http_server.add("/big", stream=chunks, length=size)
    result = measure_fetch(url, max_bytes=60 * MB)
    print(f"50 MiB body: {result}")
    assert result["ok"] == size, result
    assert 40 < result["growth_mb"] < 50 * 1.5, result  # > 40: the probe sees it


# --------------------------------------------------------------------------- timeouts


def test_slow_headers_time_out(http_server, now):
    url = http_server.add("/slow", body=b"late", delay=3.0)
    with make_client(FetchConfig(timeout=0.3)) as c:
        t0 = time.monotonic()
        with pytest.raises(FetchError, match="timed out") as exc:
            fetch(c, url, now)
    assert time.monotonic() - t0 < 2.5  # the server waits 3 s
    assert exc.value.resource == url


def test_never_ending_body_cut_by_total_timeout(http_server, client, now):
    url = http_server.add("/endless", endless=True, chunk_delay=0.01)
    t0 = time.monotonic()
    with pytest.raises(FetchError, match="total timeout exceeded"):
        fetch(client, url, now, total_timeout=1.0, max_bytes=10**12)
    assert time.monotonic() - t0 < 5  # the server would go on for 30 s


def test_never_ending_fast_body_cut_by_size(http_server, client, now):
    url = http_server.add("/endless", endless=True)
    with pytest.raises(FetchError, match="more than max_bytes"):
        fetch(client, url, now, max_bytes=5 * MB)


def test_total_timeout_spans_redirect_hops(http_server, client, now):
    http_server.add("/r1", status=302, headers={"Location": "/r2"}, delay=0.6)
    http_server.add("/r2", body=b"late", delay=0.6)
    with pytest.raises(FetchError, match=r"timed out|total timeout"):
        fetch(client, http_server.url("/r1"), now, total_timeout=0.9)


def test_connection_refused(client, now):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/feed"
    with pytest.raises(FetchError, match="connection failed") as exc:
        fetch(client, url, now)
    assert exc.value.resource == url


def test_garbage_response_is_fetch_error(client, now):
    """A server that speaks something other than HTTP."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()

    def serve() -> None:
        conn, _ = srv.accept()
        with conn:
            conn.recv(1024)
            conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n\x00\x01garbage\r\n\r\n")

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        with pytest.raises(FetchError, match="network error"):
            fetch(client, f"http://127.0.0.1:{srv.getsockname()[1]}/", now)
    finally:
        t.join(5)
        srv.close()


# ---------------------------------------------------------------------- HostLimiter


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


def test_host_limiter_delay_between_starts():
    clock = FakeClock()
    limiter = HostLimiter(2, 1.5, clock=clock, sleep=clock.sleep)
    starts: list[tuple[str, float]] = []
    for url in [
        "http://a.kz/1",
        "http://A.kz/2",
        "http://b.uz/1",
        "http://a.kz:8080/3",
    ]:
        with limiter.slot(url):
            starts.append((url, clock()))
    assert starts == [
        ("http://a.kz/1", 100.0),
        ("http://A.kz/2", 101.5),  # same host, case-insensitive
        ("http://b.uz/1", 101.5),  # other host: no wait
        ("http://a.kz:8080/3", 103.0),
    ]
    assert clock.sleeps == [1.5, 1.5]


def test_host_limiter_no_wait_after_delay_passed():
    clock = FakeClock()
    limiter = HostLimiter(1, 2.0, clock=clock, sleep=clock.sleep)
    with limiter.slot("http://a.kz/"):
        pass
    clock.t += 5
    with limiter.slot("http://a.kz/"):
        pass
    assert clock.sleeps == []


def test_host_limiter_concurrency():
    limiter = HostLimiter(2, 0.0)
    lock = threading.Lock()
    active: dict[str, int] = {"a": 0, "b": 0}
    peak: dict[str, int] = {"a": 0, "b": 0}

    def work(host: str) -> None:
        with limiter.slot(f"http://{host}.example/"):
            with lock:
                active[host] += 1
                peak[host] = max(peak[host], active[host])
            time.sleep(0.03)
            with lock:
                active[host] -= 1

    threads = [threading.Thread(target=work, args=(h,)) for h in "ab" * 6]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert peak == {"a": 2, "b": 2}


def test_host_limiter_releases_slot_on_error():
    limiter = HostLimiter(1, 0.0)
    with pytest.raises(RuntimeError), limiter.slot("http://a.kz/"):
        raise RuntimeError("boom")
    done = threading.Event()

    def again() -> None:
        with limiter.slot("http://a.kz/"):
            done.set()

    t = threading.Thread(target=again)
    t.start()
    t.join(2)
    assert done.is_set()


def test_host_limiter_rejects_zero_concurrency():
    with pytest.raises(ValueError, match="per_host_concurrency"):
        HostLimiter(0, 1.0)


# --------------------------------------------------------------------------- fetch_many


def test_interleave_by_host():
    reqs = [
        FetchRequest(key=i, url=u, max_bytes=1)
        for i, u in enumerate(
            [
                "http://a/1",
                "http://a/2",
                "http://a/3",
                "http://b/1",
                "http://c/1",
                "http://b/2",
            ]
        )
    ]
    assert [r.key for r in interleave_by_host(reqs)] == [0, 3, 4, 1, 5, 2]


def test_fetch_many_yields_every_result(http_server, client, now):
    http_server.add("/ok1", body=b"one")
    http_server.add("/ok2", body=b"two", etag='"t"')
    http_server.add("/gone", status=410)
    http_server.redirect("/file", "file:///etc/passwd")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/"
    reqs = [
        FetchRequest(
            key="ok1", url=http_server.url("/ok1"), max_bytes=MB, allow_private=True
        ),
        FetchRequest(
            key="ok2",
            url=http_server.url("/ok2"),
            max_bytes=MB,
            etag='"t"',
            allow_private=True,
        ),
        FetchRequest(
            key="gone", url=http_server.url("/gone"), max_bytes=MB, allow_private=True
        ),
        FetchRequest(
            key="file", url=http_server.url("/file"), max_bytes=MB, allow_private=True
        ),
        FetchRequest(key="dead", url=dead, max_bytes=MB, allow_private=True),
        FetchRequest(key="private", url=http_server.url("/ok1"), max_bytes=MB),
        FetchRequest(
            key="small", url=http_server.url("/ok1"), max_bytes=2, allow_private=True
        ),
    ]
    limiter = HostLimiter(2, 0.0)
    consumer = threading.get_ident()
    results = {}
    for r in fetch_many(
        client,
        reqs,
        limiter=limiter,
        workers=3,
        total_timeout=5,
        max_redirects=3,
        now=lambda: now,
    ):
        assert threading.get_ident() == consumer
        results[r.key] = r.value
    assert set(results) == {r.key for r in reqs}
    assert isinstance(results["ok1"], Page)
    assert results["ok1"].body == b"one"
    assert isinstance(results["ok2"], Page)
    assert results["ok2"].status == 304
    assert isinstance(results["gone"], FetchStatusError)
    assert results["gone"].status == 410
    assert isinstance(results["file"], BlockedURLError)
    assert isinstance(results["dead"], FetchError)
    assert isinstance(results["private"], BlockedURLError)
    assert isinstance(results["small"], FetchError)


def test_fetch_many_respects_per_host_delay(http_server, client, now):
    for i in range(4):
        http_server.add(f"/p{i}", body=b"x")
    reqs = [
        FetchRequest(
            key=i, url=http_server.url(f"/p{i}"), max_bytes=MB, allow_private=True
        )
        for i in range(4)
    ]
    limiter = HostLimiter(4, 0.3)
    results = list(
        fetch_many(
            client,
            reqs,
            limiter=limiter,
            workers=4,
            total_timeout=5,
            max_redirects=0,
            now=lambda: now,
        )
    )
    assert len(results) == 4
    times = sorted(r.time for r in http_server.requests)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.2, gaps  # 0.3 s apart, minus scheduling jitter


def test_fetch_many_early_close_does_not_hang(http_server, client, now):
    for i in range(10):
        http_server.add(f"/p{i}", body=b"x", delay=0.05)
    reqs = [
        FetchRequest(
            key=i, url=http_server.url(f"/p{i}"), max_bytes=MB, allow_private=True
        )
        for i in range(10)
    ]
    gen = fetch_many(
        client,
        reqs,
        limiter=HostLimiter(2, 0.0),
        workers=2,
        total_timeout=5,
        max_redirects=0,
        now=lambda: now,
    )
    first = next(gen)
    gen.close()
    assert isinstance(first.value, Page)
    assert len(http_server.requests) < 10


def test_fetch_many_propagates_bugs(client, now):
    """Only FetchError is data; anything else is a bug and must surface."""

    class Boom(HostLimiter):
        def slot(self, url: str, **_kw: Any) -> Any:
            raise RuntimeError("limiter bug")

    reqs = [FetchRequest(key=1, url="http://127.0.0.1:9/", max_bytes=1)]
    with pytest.raises(RuntimeError, match="limiter bug"):
        list(
            fetch_many(
                client,
                reqs,
                limiter=Boom(1, 0.0),
                workers=1,
                total_timeout=1,
                max_redirects=0,
                now=lambda: now,
            )
        )


def test_recorded_request_has_query(http_server, client, now):
    http_server.add("/q", body=b"x")
    fetch(client, http_server.url("/q?a=1&b=2"), now)
    req: RecordedRequest = http_server.requests_to("/q")[0]
    assert req.query == "a=1&b=2"
    assert req.method == "GET"


def test_dynamic_route(http_server, client, now):
    http_server.route(
        "/echo", lambda req: Response(body=req.headers["user-agent"].encode())
    )
    assert fetch(client, http_server.url("/echo"), now).body == UA.encode()


def _raw_server(
    script: Callable[[socket.socket], None],
) -> tuple[str, Callable[[], None]]:
    """A one-connection TCP server running ``script(conn)``; returns (url, stop)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    done = threading.Event()

    def serve() -> None:
        conn, _ = srv.accept()
        with conn:
            conn.recv(65536)
            try:
                script(conn)
            except OSError:
                pass  # the client hung up: that is the point
            done.wait(5)

    t = threading.Thread(target=serve, daemon=True)
    t.start()

    def stop() -> None:
        done.set()
        t.join(5)
        srv.close()

    return f"http://127.0.0.1:{srv.getsockname()[1]}/", stop


def test_trickled_headers_cut_by_total_timeout(now):
    """A tarpit sending one header byte at a time never trips the read timeout."""

    def tarpit(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        for _ in range(200):
            conn.sendall(b"a")
            time.sleep(0.05)

    url, stop = _raw_server(tarpit)
    try:
        with make_client(FetchConfig(timeout=5.0)) as c:
            t0 = time.monotonic()
            with pytest.raises(FetchError, match="total timeout") as exc:
                fetch(c, url, now, total_timeout=1.0)
            assert time.monotonic() - t0 < 5  # the tarpit would go on for 10 s
            assert exc.value.resource == url
    finally:
        stop()


def test_oversized_headers_refused(now, client):
    def huge(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n")

    url, stop = _raw_server(huge)
    try:
        with pytest.raises(FetchError, match="network error"):
            fetch(client, url, now)
    finally:
        stop()


def test_mock_http_routes(mock_http, now):
    url = "http://93.184.216.34/rss"
    client = mock_http(
        {url: httpx.Response(200, content=b"<rss/>", headers={"ETag": '"m"'})}
    )
    page = fetch(client, url, now, allow_private=False)
    assert page.body == b"<rss/>"
    assert page.etag == '"m"'
    with pytest.raises(FetchStatusError):
        fetch(client, "http://93.184.216.34/other", now, allow_private=False)


def test_check_url_idn_host():
    seen: list[str] = []

    def resolve(host: str, port: int, **_kw: Any) -> list[tuple[Any, ...]]:
        seen.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))]

    check_url("https://пример.рф/новости", resolve=resolve)
    assert seen == ["пример.рф"]


def test_body_shorter_than_content_length(now, client):
    def short(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly this")
        conn.shutdown(socket.SHUT_WR)

    url, stop = _raw_server(short)
    try:
        with pytest.raises(FetchError, match="network error") as exc:
            fetch(client, url, now)
        assert exc.value.resource == url
    finally:
        stop()


def test_redirect_to_unparseable_location(http_server, client, now):
    http_server.redirect("/bad", "http://[::1/oops")
    with pytest.raises(FetchError, match=r"(?i)invalid URL"):
        fetch(client, http_server.url("/bad"), now)


def test_retry_after_on_success_recorded(http_server, client, now):
    url = http_server.add("/f", body=b"<rss/>", headers={"Retry-After": "600"})
    assert fetch(client, url, now).retry_after == now + timedelta(minutes=10)
    plain = http_server.add("/g", body=b"<rss/>")
    assert fetch(client, plain, now).retry_after is None


def test_no_content_is_an_empty_page(http_server, client, now):
    url = http_server.add("/n", status=204, content_type=None)
    page = fetch(client, url, now)
    assert page.status == 204
    assert page.body == b""


def test_unusable_3xx_is_status_error(http_server, client, now):
    url = http_server.add("/m", status=300, body=b"choices")
    with pytest.raises(FetchStatusError, match="HTTP 300") as exc:
        fetch(client, url, now)
    assert exc.value.status == 300


def test_x_gzip_and_trailing_junk(http_server, client, now):
    body = gzip.compress(b"payload") + b"\x00\x00junk"
    url = http_server.add("/z", body=body, headers={"Content-Encoding": "x-gzip"})
    assert fetch(client, url, now).body == b"payload"


class _Rebinding:
    """A resolver that answers ``first`` once, then ``later`` (DNS rebinding)."""

    def __init__(self, first: str, later: str = "127.0.0.1") -> None:
        self.first, self.later, self.calls = first, later, 0

    def __call__(self, host: str, port: int, **_kw: Any) -> list[tuple[Any, ...]]:
        self.calls += 1
        ip = self.first if self.calls == 1 else self.later
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once it is closed


def test_dns_rebinding_cannot_tell_open_from_closed_port(
    http_server, client, now, monkeypatch
):
    """Issue #11.14: a name that is public when checked and 127.0.0.1 afterwards.

    The connection must go to the checked address, so whether a port is open on
    127.0.0.1 makes no difference.  No public address may be dialled in a test,
    so ``127.0.0.2`` plays the "public" first answer (our policy predicate is
    told so); the local server listens on 127.0.0.1 only.
    """
    from monitor.fetch import _safety

    real = _safety._is_blocked
    monkeypatch.setattr(
        _safety, "_is_blocked", lambda ip: str(ip) != "127.0.0.2" and real(ip)
    )
    http_server.add("/p", body=b"internal")
    errors, calls = [], []
    for port in (http_server.port, _closed_port()):
        resolver = _Rebinding("127.0.0.2")
        with pytest.raises(FetchError) as exc:
            fetch(
                client,
                f"http://rebind.test:{port}/p",
                now,
                allow_private=False,
                resolve=resolver,
            )
        errors.append(exc.value.message)
        calls.append(resolver.calls)
    assert errors[0] == errors[1], errors  # open and closed look the same
    assert calls == [1, 1]  # resolved once: the check's answer is the one dialled
    assert http_server.requests == []


def test_connection_goes_to_the_checked_address_with_the_name_kept(
    http_server, client, now, monkeypatch
):
    """The pinned address is dialled; Host stays the name; DNS is not asked again."""
    from monitor.fetch import _safety

    real = _safety._is_blocked
    monkeypatch.setattr(
        _safety, "_is_blocked", lambda ip: str(ip) != "127.0.0.1" and real(ip)
    )
    system = socket.getaddrinfo

    def no_dns(host: Any, *a: Any, **kw: Any) -> Any:
        assert host != "named.test", "resolved a second time"
        return system(host, *a, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    http_server.add("/p", body=b"hello")
    resolver = _Rebinding("127.0.0.1", later="10.0.0.1")
    url = f"http://named.test:{http_server.port}/p"
    page = fetch(client, url, now, allow_private=False, resolve=resolver)
    assert page.body == b"hello"
    assert resolver.calls == 1
    assert http_server.requests[0].headers["host"] == f"named.test:{http_server.port}"


def test_fetch_many_with_nothing_to_do(client, now):
    results = fetch_many(
        client,
        [],
        limiter=HostLimiter(1, 0.0),
        workers=2,
        total_timeout=1,
        max_redirects=0,
        now=lambda: now,
    )
    assert list(results) == []


# ---------------------------------------------------------------------- DNS failure memory


@pytest.mark.parametrize("allow_private", [False, True])
def test_unresolvable_host_is_not_retried_nor_waited_for(
    client, now, monkeypatch, allow_private
):
    """#10.6: 20 pages on a host that does not resolve, 1 s per-host delay.

    ``.invalid`` never resolves (RFC 6761).  Without allow_private our own
    check_url resolves; with it, httpx's connect does: both are remembered.
    """
    lookups: list[str] = []
    real = socket.getaddrinfo

    def counting(host: Any, *args: Any, **kw: Any) -> Any:
        lookups.append(str(host))
        return real(host, *args, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", counting)
    reqs = [
        FetchRequest(
            key=i,
            url=f"http://nonexistent.invalid/a{i}",
            max_bytes=MB,
            allow_private=allow_private,
        )
        for i in range(20)
    ]
    started = time.monotonic()
    results = list(
        fetch_many(
            client,
            reqs,
            limiter=HostLimiter(2, 1.0),
            workers=8,
            total_timeout=5,
            max_redirects=0,
            now=lambda: now,
        )
    )
    elapsed = time.monotonic() - started
    assert elapsed < 5, elapsed  # 20 polite starts would take 19 s
    assert sorted(r.key for r in results) == list(range(20))  # type: ignore[type-var]
    errors = [r.value for r in results]
    assert all(isinstance(e, FetchError) for e in errors)
    messages = {e.message for e in errors if isinstance(e, FetchError)}
    assert len(messages) == 1, messages  # the same recorded error for each
    assert {e.resource for e in errors if isinstance(e, FetchError)} == {
        r.url for r in reqs
    }
    # two slots per host: at most the two requests already started resolve
    assert 1 <= lookups.count("nonexistent.invalid") <= 2, lookups


def test_other_hosts_keep_their_politeness_after_a_dns_failure(
    http_server, client, now
):
    for i in range(3):
        http_server.add(f"/ok{i}", body=b"x")
    reqs = [
        FetchRequest(key="dead", url="http://nonexistent.invalid/", max_bytes=MB),
        *(
            FetchRequest(
                key=i, url=http_server.url(f"/ok{i}"), max_bytes=MB, allow_private=True
            )
            for i in range(3)
        ),
    ]
    results = {
        r.key: r.value
        for r in fetch_many(
            client,
            reqs,
            limiter=HostLimiter(1, 0.2),
            workers=4,
            total_timeout=5,
            max_redirects=0,
            now=lambda: now,
        )
    }
    assert isinstance(results.pop("dead"), FetchError)
    assert all(isinstance(v, Page) for v in results.values())
    times = sorted(r.time for r in http_server.requests)
    assert min(b - a for a, b in itertools.pairwise(times)) >= 0.15


def test_is_name_resolution_error_only_for_gaierror():
    cause = socket.gaierror(-2, "Name or service not known")
    wrapped = FetchError("connection failed")
    wrapped.__cause__ = httpx.ConnectError("x")
    wrapped.__cause__.__cause__ = cause
    assert is_name_resolution_error(wrapped)
    refused = FetchError("connection failed")
    refused.__cause__ = ConnectionRefusedError(111, "refused")
    assert not is_name_resolution_error(refused)
