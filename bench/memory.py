"""Peak memory on the largest hostile inputs, each in a fresh process (issue #7).

Usage::

    .venv/bin/python bench/memory.py

Every case runs in its own ``python -c`` child (so one case's garbage cannot
hide another's peak) and reports its own ``VmHWM`` (peak resident set, from
/proc/self/status; ``ru_maxrss`` where /proc is missing).  The parent serves
the hostile bodies from a `tests.httpserver.LocalHTTPServer` on 127.0.0.1;
nothing leaves the machine.  The baseline is the same work on an ordinary
feed or page in the same run; the table prints each case's peak, its excess
over the baseline and the ratio.

Cases: a gzip bomb (1 GB of zeros, about 1 MB compressed), a 50 MB body, a
body that never ends, billion laughs (nested entities), a 5 MB article page
through trafilatura (the `fetch.max_page_bytes` cap), and a 9 MB feed of
320,000 tiny entries (just under `fetch.max_feed_bytes`) through `parse_feed`.
"""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.httpserver import LocalHTTPServer  # noqa: E402

PRELUDE = """
import json, resource, sys
from datetime import UTC, datetime
from monitor import extract, feeds, fetch
from monitor.config import ExtractConfig, FetchConfig
from monitor.models import FeedItem, Page
NOW = datetime(2026, 11, 26, tzinfo=UTC)

def hwm_kb():
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

def get(url, max_bytes=10_000_000):
    cfg = FetchConfig(allow_private=True, total_timeout=10.0)
    with fetch.make_client(cfg) as client:
        try:
            page = fetch.fetch_url(client, url, max_bytes=max_bytes, allow_private=True,
                                   total_timeout=10.0, max_redirects=5, now=lambda: NOW)
            return f"ok {len(page.body)} bytes"
        except Exception as e:
            return f"{type(e).__name__}: {str(e)[:90]}"

def parse(body):
    try:
        feed = feeds.parse_feed(body, feed_name="bench", base_url="http://127.0.0.1/",
                                content_type="application/xml", fetched_at=NOW)
        return f"ok {len(feed.items)} items"
    except Exception as e:
        return f"{type(e).__name__}: {str(e)[:90]}"

def page(body):
    p = Page(requested_url="http://127.0.0.1/a", final_url="http://127.0.0.1/a",
             status=200, fetched_at=NOW, body=body, content_type="text/html")
    item = FeedItem(feed_name="bench", entry_id="a", link="http://127.0.0.1/a",
                    title="Заголовок")
    ex = extract.extract_article(p, item, ExtractConfig())
    return f"ok {len(ex.text)} chars from {ex.source}"
"""


def _billion_laughs() -> bytes:
    """The classic: lol9 expands to 10**9 "lol"s (3 GB) if a parser lets it."""
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    ]
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE rss [\n'
        + "\n".join(entities)
        + '\n]>\n<rss version="2.0"><channel><title>&lol9;</title><item>'
        "<title>&lol9;</title><link>http://127.0.0.1/x</link></item></channel></rss>"
    ).encode()


def _ordinary_feed() -> bytes:
    items = "".join(
        f"<item><title>Новость {i}</title><link>http://127.0.0.1/n/{i}</link>"
        f"<description>{'Текст новости. ' * 40}</description>"
        f"<pubDate>Thu, 26 Nov 2026 10:{i:02d}:00 GMT</pubDate></item>"
        for i in range(50)
    )
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
        f"<title>Лента</title>{items}</channel></rss>"
    ).encode()


def _page(paragraphs: int) -> bytes:
    body = "".join(
        f"<p>Абзац {i}: {'В Алматы прошло заседание правительства. ' * 8}</p>"
        for i in range(paragraphs)
    )
    return (
        f"<html><head><meta charset='utf-8'><title>Статья</title></head>"
        f"<body><article><h1>Статья</h1>{body}</article></body></html>"
    ).encode()


def _gzip_bomb(size: int) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9) as gz:
        chunk = b"\0" * (1 << 20)
        for _ in range(size >> 20):
            gz.write(chunk)
    return buf.getvalue()


def _serve(server: LocalHTTPServer, tmp: Path) -> dict[str, str]:
    """Register the hostile routes; returns the child code per case."""
    feed = _ordinary_feed()
    server.add("/feed.xml", body=feed, content_type="application/rss+xml")
    bomb = _gzip_bomb(1 << 30)
    server.add(
        "/bomb.xml",
        body=bomb,
        content_type="application/rss+xml",
        headers={"Content-Encoding": "gzip"},
    )
    chunk = b"<item><title>x</title></item>" * 2000
    server.add(
        "/50mb.xml",
        stream=lambda: iter([chunk] * (50_000_000 // len(chunk))),
        length=len(chunk) * (50_000_000 // len(chunk)),
        content_type="application/rss+xml",
    )
    server.add("/endless.xml", endless=True, content_type="application/rss+xml")
    (tmp / "laughs.xml").write_bytes(_billion_laughs())
    (tmp / "feed.xml").write_bytes(feed)
    (tmp / "small.html").write_bytes(_page(8))
    (tmp / "huge.html").write_bytes(_page(5_000_000 // 450))
    big_feed = feed.replace(b"</channel>", b"".join([chunk] * 160) + b"</channel>")
    (tmp / "big.xml").write_bytes(big_feed)
    server.add(
        "/50mb-nolength.xml",
        stream=lambda: iter([chunk] * (50_000_000 // len(chunk))),
        content_type="application/rss+xml",
    )
    u = server.url
    return {
        "baseline: import only": "r = 'ok'",
        "baseline: fetch+parse ordinary feed": (
            f"r = get({u('/feed.xml')!r}) + ' / ' "
            f"+ parse(open({str(tmp / 'feed.xml')!r}, 'rb').read())"
        ),
        "baseline: extract ordinary page": (
            f"r = page(open({str(tmp / 'small.html')!r}, 'rb').read())"
        ),
        "gzip bomb (1 GB of zeros gzipped)": f"r = get({u('/bomb.xml')!r})",
        "50 MB body (Content-Length)": f"r = get({u('/50mb.xml')!r})",
        "50 MB body (no Content-Length)": f"r = get({u('/50mb-nolength.xml')!r})",
        "endless body": f"r = get({u('/endless.xml')!r})",
        "billion laughs through parse_feed": (
            f"r = parse(open({str(tmp / 'laughs.xml')!r}, 'rb').read())"
        ),
        f"{len(big_feed) >> 20} MB feed XML through parse_feed": (
            f"r = parse(open({str(tmp / 'big.xml')!r}, 'rb').read())"
        ),
        "5 MB article page through extraction": (
            f"r = page(open({str(tmp / 'huge.html')!r}, 'rb').read())"
        ),
    }


def _measure(code: str) -> tuple[int, str, float]:
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", PRELUDE + code + "\nprint(json.dumps([hwm_kb(), r]))"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if out.returncode != 0:
        return 0, f"CRASH rc={out.returncode}: {out.stderr.strip()[-200:]}", elapsed
    hwm, result = json.loads(out.stdout.strip().splitlines()[-1])
    return int(hwm), str(result), elapsed


def main() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp, LocalHTTPServer() as server:
        cases = _serve(server, Path(tmp))
        rows = [(name, *_measure(code)) for name, code in cases.items()]
    feed_base = next(h for n, h, _, _ in rows if n.startswith("baseline: fetch"))
    page_base = next(h for n, h, _, _ in rows if n.startswith("baseline: extract"))
    print("peak = VmHWM of a fresh child; +MB and ratio against the baseline of the")
    print("same kind measured in this run (extraction cases: the ordinary page)")
    print(f"{'case':<40} {'peak MB':>8} {'+MB':>7} {'ratio':>6} {'s':>5}  result")
    for name, hwm, result, secs in rows:
        base = page_base if "extract" in name else feed_base
        ratio = hwm / base if base else 0.0
        print(
            f"{name:<40} {hwm / 1024:8.1f} {(hwm - base) / 1024:7.1f} "
            f"{ratio:6.2f} {secs:5.1f}  {result}"
        )


if __name__ == "__main__":
    main()
