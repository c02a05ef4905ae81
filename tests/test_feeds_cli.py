"""`monitor feeds add/remove/import/export` (issue #14) on real corpus bytes.

feeds.toml edits must keep comments and order, pass the normal validation
before anything is written, and never leave a half-written file.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import listparser
import pytest
from click.testing import CliRunner

from monitor.cli import cli
from monitor.config import load_config
from monitor.exceptions import ConfigError
from tests.httpserver import LocalHTTPServer

REPO = Path(__file__).resolve().parents[1]
FEEDS_TOML = """\
# feeds.toml — hand-written header comment that must survive every edit
#   name  unique id

# ------------------------------------------------ Kazakhstan
[[feed]]
name = "vlast"
url = "https://vlast.kz/rss/"   # an inline comment
outlet = "Vlast.kz"
lang = "ru"
country = "KZ"
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "monitor.toml").write_text(
        f'[store]\npath = "{cfg / "monitor.db"}"\n[fetch]\nper_host_delay = 0.0\n',
        encoding="utf-8",
    )
    (cfg / "feeds.toml").write_text(FEEDS_TOML, encoding="utf-8")
    (cfg / "topics.toml").write_bytes((REPO / "config" / "topics.toml").read_bytes())
    return cfg


def invoke(folder: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [*args, "--config", str(folder)])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def feeds_of(folder: Path) -> list[dict[str, object]]:
    data = tomllib.loads((folder / "feeds.toml").read_text(encoding="utf-8"))
    return list(data["feed"])


def assert_comments_kept(folder: Path) -> None:
    text = (folder / "feeds.toml").read_text(encoding="utf-8")
    assert text.startswith(FEEDS_TOML)  # header, section comment, inline comment


# ---------------------------------------------------------------------- import


def test_import_malformed_real_opml_keeps_comments(
    folder: Path, corpus_dir: Path
) -> None:
    opml = corpus_dir / "opml" / "awesome-rss-feeds_Russia_without_category.opml"
    code, out = invoke(folder, "feeds", "import", str(opml), "--country", "RU")
    assert code == 0, out
    assert "imported 13 feeds, skipped 0 duplicates" in out
    assert_comments_kept(folder)
    feeds = feeds_of(folder)
    assert len(feeds) == 14
    assert feeds[1]["url"] == "https://lenta.ru/rss"
    assert all(f["country"] == "RU" for f in feeds[1:])
    assert len(load_config(folder, env={}).feeds) == 14  # valid for a normal run
    # the same file again: every feed is a duplicate, reported, nothing written
    code, out = invoke(folder, "feeds", "import", str(opml))
    assert "imported 0 feeds, skipped 13 duplicates" in out
    assert "already configured as" in out
    assert len(feeds_of(folder)) == 14


def test_import_nested_folders_become_tags(folder: Path, corpus_dir: Path) -> None:
    opml = corpus_dir / "opml" / "awesome-rss-feeds_Ukraine_with_category.opml"
    code, out = invoke(folder, "feeds", "import", str(opml), "--lang", "uk")
    assert code == 0, out
    added = feeds_of(folder)[1:]
    assert len(added) == 12
    assert all(f["tags"] == ["Ukraine"] for f in added)
    nested = (
        corpus_dir / "opml" / "listparser-tests" / "categories" / "hier-2-nested.xml"
    )
    invoke(folder, "feeds", "import", str(nested))
    assert feeds_of(folder)[-1]["tags"] == ["grouping1", "grouping2"]


def test_import_skips_duplicates_within_the_file(
    folder: Path, corpus_dir: Path
) -> None:
    subs = corpus_dir / "opml" / "coldsweat_sample-subscriptions.opml"
    text = subs.read_text(encoding="utf-8")
    doubled = folder / "doubled.opml"
    first = text.index("<outline", text.index("<body"))
    line = text[first : text.index(">", first) + 1]
    if not line.endswith("/>"):
        line = line[:-1] + "/>"
    doubled.write_text(
        text.replace("<body>", f"<body>{line}{line}", 1), encoding="utf-8"
    )
    code, out = invoke(folder, "feeds", "import", str(doubled))
    assert code == 0, out
    assert "skipped" in out
    urls = [f["url"] for f in feeds_of(folder)]
    assert len(urls) == len(set(urls))


def test_invalid_import_leaves_feeds_toml_untouched(
    folder: Path, corpus_dir: Path
) -> None:
    before = (folder / "feeds.toml").read_bytes()
    opml = corpus_dir / "opml" / "listparser_feeds.opml"
    code, out = invoke(folder, "feeds", "import", str(opml), "--lang", "russian")
    assert code == 1
    assert "is not a language code" in out
    assert (folder / "feeds.toml").read_bytes() == before
    assert list(folder.glob(".feeds.toml.*")) == []  # no temp file left behind


# ---------------------------------------------------------------------- add


def test_add_finds_the_sites_relative_atom_link(
    folder: Path, corpus_dir: Path, http_server: LocalHTTPServer
) -> None:
    home = (
        corpus_dir / "discovery" / "coldsweat_synthetic_html4-no-base.html"
    ).read_bytes()
    atom = (
        corpus_dir
        / "feeds"
        / "real-world-ru"
        / "touchnokia.ru_atom_pathological_css.xml"
    ).read_bytes()
    http_server.add("/site/", body=home)
    http_server.add(
        "/site/articles.xml", body=atom, content_type="application/atom+xml"
    )
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": str(folder)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "monitor",
            "feeds",
            "add",
            http_server.url("/site/"),
            "--allow-private",
            "--lang",
            "ru",
            "--country",
            "RU",
            "--config",
            str(folder),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "added" in done.stdout
    assert_comments_kept(folder)
    new = feeds_of(folder)[-1]
    assert new["url"] == http_server.url("/site/articles.xml")
    assert new["allow_private"] is True
    assert "kind" not in new  # the default kind is not written
    assert str(new["outlet"]).startswith("Все для Nokia")
    assert http_server.requests_to("/site/articles.xml")  # verified by fetching


def test_add_resolves_against_base_href(
    folder: Path, corpus_dir: Path, http_server: LocalHTTPServer
) -> None:
    from monitor.sources.discover import find_candidates

    body = (
        corpus_dir / "discovery" / "coldsweat_synthetic_html4-base.html"
    ).read_bytes()
    found = find_candidates(body, "http://example.com")
    assert found.alternate[0][0] == "http://somedomain.com/articles.xml"
    cnn = (corpus_dir / "discovery" / "newspaper4k_cnn_main_site.html").read_bytes()
    assert find_candidates(cnn, "http://edition.cnn.com/").alternate[0][0] == (
        "http://rss.cnn.com/rss/edition.rss"
    )
    coco = (corpus_dir / "discovery" / "rsparser_coco.html").read_bytes()
    base = "https://www.theatlantic.com/entertainment/archive/2017/11/coco/546695/"
    assert [u for u, _ in find_candidates(coco, base).alternate] == [
        "https://www.theatlantic.com/feed/all/",
        "https://www.theatlantic.com/feed/best-of/",
    ]
    inessential = (
        corpus_dir / "discovery" / "magpie_inessential.com_homepage.html"
    ).read_bytes()
    assert len(find_candidates(inessential, "https://inessential.com/").alternate) == 2


def test_add_with_no_feed_says_what_it_saw(
    folder: Path, corpus_dir: Path, http_server: LocalHTTPServer
) -> None:
    import gzip

    yahoo = gzip.decompress(
        (corpus_dir / "discovery" / "newspaper4k_yahoo_main_site.html.gz").read_bytes()
    )
    http_server.add("/portal/", body=yahoo)
    before = (folder / "feeds.toml").read_bytes()
    code, out = invoke(
        folder,
        "feeds",
        "add",
        http_server.url("/portal/"),
        "--allow-private",
        "--lang",
        "en",
    )
    assert code == 1
    assert "no feed found" in out
    assert "page title: Yahoo" in out
    assert "<link rel=alternate> feeds: 0" in out
    assert (folder / "feeds.toml").read_bytes() == before


def test_add_telegram_and_sitemap_urls(
    folder: Path, corpus_dir: Path, http_server: LocalHTTPServer
) -> None:
    code, out = invoke(
        folder,
        "feeds",
        "add",
        "https://t.me/kun_uz",
        "--no-check",
        "--lang",
        "uz",
        "--country",
        "UZ",
    )
    assert code == 0, out
    tg = feeds_of(folder)[-1]
    assert (tg["kind"], tg["url"], tg["name"]) == (
        "telegram",
        "https://t.me/s/kun_uz",
        "kun_uz",
    )
    sitemap = (
        corpus_dir / "sitemaps" / "advertools_nytimes_news_sitemap.xml"
    ).read_bytes()
    http_server.add("/news-sitemap.xml", body=sitemap, content_type="application/xml")
    code, out = invoke(
        folder,
        "feeds",
        "add",
        http_server.url("/news-sitemap.xml"),
        "--allow-private",
        "--lang",
        "en",
    )
    assert code == 0, out
    assert feeds_of(folder)[-1]["kind"] == "sitemap"
    code, out = invoke(folder, "feeds", "add", "https://vlast.kz/rss", "--lang", "ru")
    assert code == 1
    assert "already configured as 'vlast'" in out


# ---------------------------------------------------------------------- remove, export


def test_remove_keeps_the_rest(folder: Path) -> None:
    invoke(
        folder, "feeds", "add", "https://t.me/s/orda_kz", "--no-check", "--lang", "ru"
    )
    code, out = invoke(folder, "feeds", "remove", "orda_kz")
    assert code == 0, out
    assert (folder / "feeds.toml").read_text(
        encoding="utf-8"
    ).strip() == FEEDS_TOML.strip()
    code, out = invoke(folder, "feeds", "remove", "vlats")
    assert code == 1
    assert "did you mean 'vlast'" in out


def test_export_writes_opml_2(folder: Path, corpus_dir: Path, tmp_path: Path) -> None:
    invoke(
        folder,
        "feeds",
        "import",
        str(corpus_dir / "opml" / "awesome-rss-feeds_Ukraine_with_category.opml"),
    )
    invoke(
        folder, "feeds", "add", "https://t.me/s/orda_kz", "--no-check", "--lang", "ru"
    )
    out_file = tmp_path / "out.opml"
    code, out = invoke(folder, "feeds", "export", "--output", str(out_file))
    assert code == 0, out
    parsed = listparser.parse(out_file.read_bytes())
    assert parsed.version == "opml2"
    assert len(parsed.feeds) == 14
    assert {"https://vlast.kz/rss/", "https://t.me/s/orda_kz"} <= {
        f.url for f in parsed.feeds
    }
    assert b'monitor:kind="telegram"' in out_file.read_bytes()
    again = tmp_path / "again"
    again.mkdir()
    for name in ("monitor.toml", "topics.toml"):
        (again / name).write_bytes((folder / name).read_bytes())
    (again / "feeds.toml").write_text("# empty\n", encoding="utf-8")
    code, out = invoke(again, "feeds", "import", str(out_file))
    assert "imported 14 feeds" in out
    assert feeds_of(again)[-1]["kind"] == "telegram"


# ---------------------------------------------------------------------- config


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('kind = "telegarm"\nurl = "https://t.me/s/x_news"', "did you mean 'telegram'"),
        (
            'kind = "telegram"\nurl = "https://t.me/codecamp"',
            "use https://t.me/s/codecamp",
        ),
        ('kind = "telegram"', "url: required key is missing (or `channel`"),
        ('url = "https://x.kz/rss"\nbackfill_pages = 2', "only for kind = 'telegram'"),
        (
            'kind = "sitemap"\nurl = "https://x.kz/s.xml"\nmax_urls_per_poll = 0',
            "must be in 1..1000",
        ),
        ('kind = "telegram"\nchannel = "x y"', "is not a Telegram channel name"),
        ('url = "https://x.kz/rss"\nfetch_page = false', "did you mean 'fetch_pages'"),
    ],
)
def test_source_settings_are_validated(folder: Path, table: str, message: str) -> None:
    (folder / "feeds.toml").write_text(
        f'[[feed]]\nname = "x"\noutlet = "X"\nlang = "ru"\ncountry = "KZ"\n{table}\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="feed\\[0\\] \\(x\\)") as exc:
        load_config(folder, env={})
    assert message in str(exc.value)


def test_channel_becomes_the_preview_url(folder: Path) -> None:
    (folder / "feeds.toml").write_text(
        '[[feed]]\nname = "kun"\nkind = "telegram"\nchannel = "kun_uz"\noutlet = "Kun.uz"\n'
        'lang = "uz"\ncountry = "UZ"\ninterval = 600\ntags = ["uz", "telegram"]\n',
        encoding="utf-8",
    )
    (spec,) = load_config(folder, env={}).feeds
    assert spec.url == "https://t.me/s/kun_uz"
    assert spec.interval == 600.0
    assert spec.tags == ("uz", "telegram")


def test_add_with_a_forced_kind_is_verified(
    folder: Path, corpus_dir: Path, http_server: LocalHTTPServer
) -> None:
    home = (corpus_dir / "discovery" / "magpie_goodnews.eu_homepage.html").read_bytes()
    http_server.add("/section/", body=home)
    url = http_server.url("/section/")
    code, out = invoke(
        folder,
        "feeds",
        "add",
        url,
        "--kind",
        "sitemap",
        "--allow-private",
        "--lang",
        "de",
    )
    assert code == 1
    assert "not a sitemap" in out
    code, out = invoke(
        folder, "feeds", "add", url, "--kind", "page", "--allow-private", "--lang", "de"
    )
    assert code == 0, out
    assert feeds_of(folder)[-1]["kind"] == "page"
    assert len(http_server.requests_to("/section/")) == 2
