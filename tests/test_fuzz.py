"""Issue #11: a fuzz suite with a fixed budget, plus a corpus of hostile seeds.

Inputs: random bytes, real feeds from ../shared/corpus/feeds mutated by
hypothesis, and the hostile cases of issue #11 (edge dates, lone surrogates,
``&#xD800;``, ``&#xFFFF;``, terminal escapes, U+202E, huge words, namespaced
entries, non-ASCII validators).  They go through `parse_feed`, and through the
whole pipeline to the digest writers (served from a local HTTP server; run in
process for speed, the seeds also once through the installed executable).

Asserted: no exception escapes a stage (`Pipeline.run` returns; a bug would
raise), the control feed's articles reach the digest, every output file parses
(Atom with a strict XML parser, JSON with json.loads) and contains no character
XML 1.0 forbids.

Budget: derandomized, no example database, ``max_examples`` fixed below; the
whole file runs in about a minute on two cores.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from monitor import fetch
from monitor.config import load_config
from monitor.exceptions import FeedError
from monitor.feeds import parse_feed
from monitor.pipeline import Pipeline, open_storage
from tests.httpserver import LocalHTTPServer
from tests.sitegen import NOW, TITLES, TOPICS, build_site

REPO = Path(__file__).resolve().parents[1]
FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PARSE_EXAMPLES = 500
PIPELINE_EXAMPLES = 40
# Everything XML 1.0 forbids (surrogates included: they cannot be encoded).
FORBIDDEN = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

# --------------------------------------------------------------------- seeds


@dataclass(frozen=True)
class Seed:
    name: str
    body: bytes
    content_type: str = "application/rss+xml"
    etag: str | None = None
    last_modified: str | None = None


def _rss(*items: str) -> bytes:
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
        "<title>Seed</title><link>http://127.0.0.1/</link>"
        + "".join(items)
        + "</channel></rss>"
    ).encode("utf-8", "surrogatepass")


def _item(n: int, title: str = "Новость", pub: str = "", desc: str = "текст") -> str:
    pub = pub or format_datetime(NOW - timedelta(hours=1))
    return (
        f"<item><title>{title}</title><link>/s/{n}</link>"
        f"<guid>s{n}</guid><pubDate>{pub}</pubDate>"
        f"<description>{desc}</description></item>"
    )


def _json_feed(*items: str) -> bytes:
    return (
        '{"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": ['
        + ",".join(items)
        + "]}"
    ).encode()


def _json_item(n: int, title: str, date: str) -> str:
    return (
        f'{{"id": "j{n}", "url": "/j/{n}", "title": "{title}",'
        f' "content_text": "текст", "date_published": "{date}"}}'
    )


def _atom(updated: str, prefix: str = "", count: int = 1) -> bytes:
    ns = f"xmlns:{prefix}" if prefix else "xmlns"
    p = f"{prefix}:" if prefix else ""
    entries = "".join(
        f"<{p}entry><{p}title>Запись {i}</{p}title><{p}id>urn:e:{i}</{p}id>"
        f"<{p}link href='/a/{i}'/><{p}updated>{updated}</{p}updated>"
        f"</{p}entry>"
        for i in range(count)
    )
    return (
        f"<?xml version='1.0' encoding='utf-8'?><{p}feed {ns}='http://www.w3.org/2005/Atom'>"
        f"<{p}title>A</{p}title><{p}id>urn:a</{p}id>{entries}</{p}feed>"
    ).encode()


SEEDS = [
    Seed("rss-year-9999", _rss(_item(1, pub="Fri, 31 Dec 9999 23:59:59 -1400"))),
    Seed("rss-year-1", _rss(_item(1, pub="Mon, 01 Jan 0001 00:00:00 +1400"))),
    Seed("atom-year-9999", _atom("9999-12-31T23:59:59-14:00"), "application/atom+xml"),
    Seed("atom-year-1", _atom("0001-01-01T00:00:00+14:00"), "application/atom+xml"),
    Seed("atom-year-1-utc", _atom("0001-01-01T00:00:00Z"), "application/atom+xml"),
    Seed(
        "json-dates",
        _json_feed(
            _json_item(1, "Far", "9999-12-31T23:59:59-14:00"),
            _json_item(2, "Old", "0001-01-01T00:00:00+14:00"),
        ),
        "application/feed+json",
    ),
    Seed(
        "json-lone-surrogate",
        _json_feed(_json_item(1, "Lone \\ud800 surrogate", NOW.isoformat())),
        "application/feed+json",
    ),
    Seed(
        "rss-entity-d800",
        _rss(_item(1, "Плохой &#xD800; символ"), *(_item(i) for i in range(2, 20))),
    ),
    Seed("rss-nonchars", _rss(_item(1, "Не символ &#xFFFF; и &#xFFFE; конец"))),
    Seed(
        "rss-terminal-escapes",
        _rss(_item(1, "Title \x1b]0;pwned\x07 \x1b[2J \u202eevil", desc="\x1b[31m")),
    ),
    Seed("rss-huge-word", _rss(_item(1, "Длинное слово", desc="y" * 300_000))),
    Seed(
        "atom-namespaced",
        _atom(NOW.isoformat(), prefix="a", count=50),
        "application/atom+xml",
    ),
    Seed("rss-etag-non-ascii", _rss(_item(1)), etag='"clé"'),
    Seed(
        "rss-last-modified-non-ascii",
        _rss(_item(1)),
        last_modified="Mon, 01 Déc 2025 10:00:00 GMT",
    ),
    Seed("rss-cdata-controls", _rss(_item(1, "<![CDATA[\x00\x01\x0b bad]]>"))),
]
HOSTILE_SNIPPETS = [
    b"&#xD800;",
    b"&#xFFFF;",
    b"&#xFFFE;",
    b"\x1b]0;x\x07",
    b"\xe2\x80\xae",  # U+202E
    b"\xed\xa0\x80",  # an encoded lone surrogate
    b"<pubDate>Fri, 31 Dec 9999 23:59:59 -1400</pubDate>",
    b"<updated>0001-01-01T00:00:00Z</updated>",
    b"y" * 20_000,
    b"<![CDATA[",
    b"]]>",
    b"&",
    b"\x00",
]


# --------------------------------------------------------------------- inputs


def corpus_feeds(corpus: Path) -> list[Path]:
    return sorted(p for p in (corpus / "feeds").rglob("*") if p.is_file())


@st.composite
def mutated(draw: st.DrawFn, originals: list[bytes]) -> bytes:
    """A real feed with a few hostile edits: inserted snippets, flipped bytes, cut."""
    data = bytearray(draw(st.sampled_from(originals)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["insert", "flip", "truncate"]))
        if op == "insert":
            data[at:at] = draw(st.sampled_from(HOSTILE_SNIPPETS))
        elif op == "flip" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif op == "truncate" and at > len(data) // 2:
            del data[at:]
    return bytes(data)


def feed_bodies(originals: list[bytes]) -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.binary(max_size=2000),
        st.sampled_from([s.body for s in SEEDS]),
        mutated(originals),
    )


@pytest.fixture
def originals(corpus_dir: Path) -> list[bytes]:
    paths = [p for p in corpus_feeds(corpus_dir) if p.stat().st_size < 300_000]
    if not paths:
        pytest.skip(f"no feeds under {corpus_dir / 'feeds'}")
    return [p.read_bytes() for p in paths]


# --------------------------------------------------------------------- parse_feed


def check_parse(body: bytes, content_type: str | None = None) -> None:
    try:
        parsed = parse_feed(
            body,
            feed_name="fuzz",
            base_url="http://127.0.0.1/",
            content_type=content_type,
            fetched_at=NOW,
        )
    except FeedError:
        return
    for item in parsed.items:
        assert item.published is None or item.published.tzinfo is not None


@pytest.mark.parametrize("seed", SEEDS, ids=lambda s: s.name)
def test_parse_feed_on_hostile_seeds(seed: Seed):
    check_parse(seed.body, seed.content_type)


def test_parse_feed_fuzz(originals: list[bytes]):
    @settings(FUZZ, max_examples=PARSE_EXAMPLES)
    @given(body=feed_bodies(originals))
    def run(body: bytes) -> None:
        check_parse(body)

    run()


# --------------------------------------------------------------------- pipeline


@pytest.fixture(scope="module")
def server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as srv:
        build_site(srv, sorted(TITLES), NOW, feed_path="/control.xml")
        yield srv


@dataclass
class Outcome:
    outputs: dict[str, bytes]
    counts: dict[str, int]


def run_pipeline(server: LocalHTTPServer, seed: Seed, runs: int = 2) -> Outcome:
    """A config with a control feed and the fuzzed one; `runs` runs in process,
    then the day's digest.  Returns every output file and the summary counts."""
    path = f"/fuzz/{abs(hash((seed.name, seed.body)))}.xml"
    server.add(
        path,
        body=seed.body,
        content_type=seed.content_type,
        etag=seed.etag,
        last_modified=seed.last_modified,
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        fuzz_config(
            folder,
            [("control", server.url("/control.xml")), ("fuzz", server.url(path))],
        )
        cfg = load_config(folder, env={})
        counts: dict[str, int] = {}
        with closing(open_storage(cfg)) as storage:
            for i in range(runs):
                with Pipeline(
                    cfg=cfg,
                    storage=storage,
                    client=fetch.make_client(cfg.fetch),
                    now=lambda i=i: NOW + timedelta(minutes=10 * (i + 1)),
                ) as pipeline:
                    summary = pipeline.run(digest=False)
                    if i == runs - 1:
                        pipeline.write_digest(day=NOW.date(), send=False)
                for k, v in summary.counts.items():
                    counts[k] = counts.get(k, 0) + v
        root = folder / "digests"
        outputs = {
            p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }
    return Outcome(outputs=outputs, counts=counts)


def fuzz_config(folder: Path, feeds: list[tuple[str, str]]) -> None:
    """A config for the local server: no translation, UTC digests, every run polls."""
    (folder / "monitor.toml").write_text(
        f"""
[store]
path = "{folder / "monitor.db"}"
[fetch]
allow_private = true
per_host_delay = 0.0
timeout = 5.0
total_timeout = 10.0
[poll]
min_interval = 0
[classify]
topics_file = "{TOPICS}"
[translate]
backend = "none"
[digest]
output_dir = "{folder / "digests"}"
timezone = "UTC"
""",
        encoding="utf-8",
    )
    (folder / "feeds.toml").write_text(
        "".join(
            f'[[feed]]\nname = "{n}"\nurl = "{u}"\noutlet = "{n}"\nlang = "ru"\n'
            'country = "KZ"\n\n'
            for n, u in feeds
        ),
        encoding="utf-8",
    )


def assert_run_went_on(outcome: Outcome) -> None:
    """The control feed's articles reached the digest."""
    (data,) = [
        v
        for k, v in outcome.outputs.items()
        if k.endswith(".json") and k != "archive-index.json"  # the cache (#19)
    ]
    digest = data.decode("utf-8")
    for title in TITLES.values():
        assert title in digest
    assert outcome.counts.get("stage_errors", 0) == 0, outcome.counts


def assert_outputs_parse(outcome: Outcome) -> None:
    for name, data in outcome.outputs.items():
        if name.endswith(".json"):
            json.loads(data)
        elif name.endswith(".xml"):
            etree.fromstring(data, etree.XMLParser(recover=False))


def assert_no_forbidden_characters(outcome: Outcome) -> None:
    for name, data in outcome.outputs.items():
        text = data.decode("utf-8", "surrogateescape")
        bad = FORBIDDEN.findall(text)
        assert not bad, (name, bad[:5])


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS, ids=lambda s: s.name)
def test_pipeline_goes_on_after_hostile_seeds(server: LocalHTTPServer, seed: Seed):
    outcome = run_pipeline(server, seed)
    assert_run_went_on(outcome)


@pytest.mark.slow
@pytest.mark.parametrize(
    "seed",
    [s for s in SEEDS if s.name != "rss-huge-word"],
    ids=lambda s: s.name,
)
def test_outputs_stay_valid_after_hostile_seeds(server: LocalHTTPServer, seed: Seed):
    outcome = run_pipeline(server, seed, runs=1)
    assert_outputs_parse(outcome)
    assert_no_forbidden_characters(outcome)


@pytest.mark.slow
def test_pipeline_fuzz(server: LocalHTTPServer, originals: list[bytes]):
    @settings(FUZZ, max_examples=PIPELINE_EXAMPLES)
    @given(body=feed_bodies(originals))
    def run(body: bytes) -> None:
        outcome = run_pipeline(server, Seed("fuzz", body), runs=1)
        assert_run_went_on(outcome)
        assert_outputs_parse(outcome)

    run()


@pytest.mark.slow
def test_all_seeds_through_the_installed_executable(tmp_path: Path):
    """Every seed in one config, `monitor run` twice: exit 0, no traceback."""
    with LocalHTTPServer() as srv:
        build_site(srv, sorted(TITLES), NOW, feed_path="/control.xml")
        feeds = [("control", srv.url("/control.xml"))]
        for seed in SEEDS:
            url = srv.add(
                f"/seed/{seed.name}",
                body=seed.body,
                content_type=seed.content_type,
                etag=seed.etag,
                last_modified=seed.last_modified,
            )
            feeds.append((seed.name, url))
        fuzz_config(tmp_path, feeds)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
        env["PYTHONPATH"] = str(REPO)
        for _ in range(2):
            run = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "monitor",
                    "run",
                    "--no-digest",
                    "--config",
                    str(tmp_path),
                ],
                capture_output=True,
                text=True,
                timeout=300,
                env=env,
                check=False,
            )
            assert run.returncode == 0, run.stderr[-3000:]
            assert "Traceback" not in run.stderr
