"""The HTML digest and the archive index in headless Chromium (issue #6, #7).

Chromium comes from Debian's ``chromium`` package (CI installs it); without it
these tests are skipped with the reason.  A positive control proves that the
setup *would* notice a script running: the same hostile markup, unescaped, does
change the page.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest

from monitor.config import DigestConfig
from monitor.digest import Digest, build_digest, render_html, write_digest
from monitor.store import Storage
from tests.test_digest_helpers import (
    GENERATED_AT,
    HOSTILE_TEXT,
    HOSTILE_TITLE,
    TOPICS,
    digest_config,
    sample_db,
)

DAY = date(2026, 3, 13)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--virtual-time-budget=3000",  # let onerror/onload handlers fire before the dump
)

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium not installed (apt-get install -y chromium; CI installs it)",
)


def chromium(tmp_path: Path, *args: str) -> str:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    cmd = [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args]
    # stdin closed: a JS dialog (alert) would block headless Chromium, so no
    # payload here uses one.
    done = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def dump_dom(tmp_path: Path, page: Path) -> str:
    return chromium(tmp_path, "--dump-dom", page.as_uri())


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


def parse_elements(dom: str) -> list[tuple[str, dict[str, str | None]]]:
    """Every element of the dumped DOM with its attributes."""
    parser = _Elements()
    parser.feed(dom)
    parser.close()
    return parser.found


# SQLite only: the subject is the rendered files; the same digest from both
# backends is checked against the golden files in test_digest_render.py.
@pytest.fixture
def storage() -> Iterator[Storage]:
    with Storage(":memory:") as s:
        sample_db(s)
        yield s


@pytest.fixture
def digest(storage: Storage) -> Digest:
    return build_digest(
        storage, day=DAY, cfg=DigestConfig(), topic_order=TOPICS, now=GENERATED_AT
    )


def test_control_unescaped_payload_does_run(tmp_path: Path) -> None:
    """Positive control: this harness sees scripts and onerror handlers run."""
    page = tmp_path / "control.html"
    page.write_text(
        "<!DOCTYPE html><title>clean</title>"
        f"<h1>{HOSTILE_TITLE}</h1><p>{HOSTILE_TEXT}</p>",
        encoding="utf-8",
    )
    dom = dump_dom(tmp_path, page)
    assert "<title>PWNED</title>" in dom


def test_digest_runs_no_script_from_content(digest: Digest, tmp_path: Path) -> None:
    html = render_html(digest)
    # without the CSP too: escaping alone must keep the content inert
    no_csp = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html)
    assert no_csp != html
    for name, text in (("with-csp.html", html), ("no-csp.html", no_csp)):
        page = tmp_path / name
        page.write_text(text, encoding="utf-8")
        dom = dump_dom(tmp_path, page)
        title = re.search(r"<title>(.*?)</title>", dom, re.S)
        assert title is not None
        assert title.group(1) == "Central Asia press digest — Friday 13 March 2026"
        assert "PWNED" not in title.group(1)
        elements = parse_elements(dom)
        assert not {t for t, _ in elements} & {"script", "img", "svg", "iframe"}
        handlers = [(t, a) for t, a in elements if any(k.startswith("on") for k in a)]
        assert handlers == []
        # the payload is visible as text
        assert "&lt;script&gt;document.title='PWNED'&lt;/script&gt;" in dom
        hrefs = [str(a["href"]) for _, a in elements if "href" in a]
        assert len(hrefs) > 5
        assert all(h.startswith(("https://", "http://", "#")) for h in hrefs), hrefs


def test_digest_headings_links_and_screenshot(digest: Digest, tmp_path: Path) -> None:
    paths = write_digest(digest, digest_config(tmp_path))
    page = paths[0]
    dom = dump_dom(tmp_path, page)
    assert re.search(r"<h1[^>]*>Friday 13 March 2026</h1>", dom)
    h2 = [
        re.sub(r"<[^>]+>", "", h).split(" ·")[0].strip()
        for h in re.findall(r"<h2[^>]*>(.*?)</h2>", dom, re.S)
    ]
    # each story once: the two carried by most outlets open the page
    assert h2 == ["Top stories", "Unrest and protests", "Other", "Feed health"]
    assert '<a href="https://vlast.kz/novosti/tarify.html"' in dom
    assert '<a href="https://eurasianet.org/kazakhstan-tariffs"' in dom
    assert 'href="#t1"' in dom
    shot = tmp_path / "digest.png"
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=1000,2400", page.as_uri())
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 20_000  # a rendered page, not a blank one


def test_archive_index_opens_and_links(
    storage: Storage, digest: Digest, tmp_path: Path
) -> None:
    cfg = digest_config(tmp_path)
    write_digest(digest, cfg)
    later = build_digest(
        storage,
        day=date(2026, 3, 14),
        cfg=cfg.digest,
        topic_order=TOPICS,
        now=GENERATED_AT,
    )
    write_digest(later, cfg)
    index = tmp_path / "digests" / "index.html"
    dom = dump_dom(tmp_path, index)
    assert re.search(r"<h1[^>]*>Digest archive</h1>", dom)
    links = re.findall(r'<a href="([^"]+)"', dom)
    assert links == ["atom.xml", "2026/03/2026-03-14.html", "2026/03/2026-03-13.html"]
    assert "Friday 13 March 2026" in dom
    assert "Saturday 14 March 2026" in dom
    shot = tmp_path / "index.png"
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=900,700", index.as_uri())
    assert shot.read_bytes()[:4] == b"\x89PNG"
