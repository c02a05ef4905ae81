"""A small fake news site for pipeline tests: a Russian feed and its article pages.

The texts are written for these tests (not copied from anywhere).  `build_site`
registers everything on a `LocalHTTPServer` and returns what it served, so tests
can assert on real bytes fetched over HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path

from tests.httpserver import LocalHTTPServer

TOPICS = Path(__file__).resolve().parents[1] / "config" / "topics.toml"

PARAGRAPHS = {
    "protest": [
        "В Алматы в среду прошёл митинг жителей микрорайона Шанырак, которые требуют "
        "остановить снос домов. По данным организаторов, на площади собрались около "
        "трёхсот человек.",
        "Полиция задержала нескольких участников акции. В департаменте полиции города "
        "заявили, что митинг не был согласован с акиматом.",
        "Правозащитники напомнили, что после январских событий 2022 года власти "
        "Казахстана обещали смягчить закон о мирных собраниях.",
        "Аким города Ерболат Досаев пообещал встретиться с жителями в четверг и "
        "рассмотреть их жалобы.",
    ],
    "energy": [
        "На Экибастузской ГРЭС-1 произошла авария, из-за которой без тепла остались "
        "жители нескольких районов Павлодарской области.",
        "Министерство энергетики Казахстана сообщило, что ремонт займёт не менее трёх "
        "суток. Температура воздуха ночью опускается до минус тридцати градусов.",
        "Эксперты связывают аварию с изношенностью оборудования: большинство котлов "
        "станции работают более сорока лет.",
        "Президент Касым-Жомарт Токаев поручил правительству проверить готовность "
        "энергосистемы к отопительному сезону.",
    ],
    "court": [
        "Суд в Астане приговорил бывшего заместителя председателя КНБ к восьми годам "
        "лишения свободы по делу о попытке захвата власти в январе 2022 года.",
        "Защита намерена обжаловать приговор. Адвокат заявил, что обвинение не "
        "представило доказательств участия его подзащитного в беспорядках.",
        "Процесс проходил в закрытом режиме, журналистов в зал заседаний не пустили.",
    ],
}
TITLES = {
    "protest": "В Алматы жители Шанырака вышли на митинг против сноса домов",
    "energy": "Авария на Экибастузской ГРЭС-1 оставила без тепла тысячи жителей",
    "court": "Бывшего замглавы КНБ приговорили к восьми годам",
}


@dataclass(frozen=True)
class Site:
    feed_url: str
    article_urls: dict[str, str]


def article_html(slug: str) -> str:
    body = "\n".join(f"<p>{escape(p)}</p>" for p in PARAGRAPHS[slug])
    return f"""<!DOCTYPE html>
<html lang="ru"><head><meta charset="utf-8"><title>{escape(TITLES[slug])} | Новости</title>
<link rel="canonical" href="/news/{slug}?utm_source=rss">
<meta property="og:title" content="{escape(TITLES[slug])}"></head>
<body><header><nav><a href="/">Главная</a> <a href="/politics">Политика</a></nav></header>
<main><article><h1>{escape(TITLES[slug])}</h1>
<p class="byline">Автор: Айгерим Сатпаева</p>
{body}
</article></main>
<aside>Читайте также: <a href="/other">Другие новости дня</a></aside>
<footer>© 2026 Новости. Подписывайтесь на наш Telegram-канал.</footer></body></html>"""


def feed_xml(server: LocalHTTPServer, slugs: list[str], published: datetime) -> bytes:
    items = []
    for i, slug in enumerate(slugs):
        pub = format_datetime(published - timedelta(hours=i))
        link = server.url(f"/news/{slug}?utm_source=rss&utm_medium=feed")
        items.append(
            f"<item><title>{escape(TITLES[slug])}</title><link>{escape(link)}</link>"
            f"<guid isPermaLink='false'>{slug}-guid</guid><pubDate>{pub}</pubDate>"
            f"<description>{escape(PARAGRAPHS[slug][0])}</description></item>"
        )
    xml = (
        "<?xml version='1.0' encoding='windows-1251'?>\n<rss version='2.0'><channel>"
        "<title>Новости Казахстана</title><link>"
        + server.url("/")
        + "</link>"
        + "".join(items)
        + "</channel></rss>"
    )
    return xml.encode("cp1251")


def build_site(
    server: LocalHTTPServer,
    slugs: list[str],
    published: datetime,
    feed_path: str = "/rss.xml",
) -> Site:
    server.add(
        feed_path,
        body=feed_xml(server, slugs, published),
        content_type="application/rss+xml; charset=windows-1251",
        etag='"feed-v1"',
    )
    urls = {}
    for slug in slugs:
        urls[slug] = server.add(
            f"/news/{slug}",
            body=article_html(slug).encode(),
            content_type="text/html; charset=utf-8",
        )
    return Site(feed_url=server.url(feed_path), article_urls=urls)


def write_config(tmp_path, feeds: list[tuple[str, str, str]], extra: str = "") -> None:
    """A config folder for a run against the local server: (name, url, lang) per feed."""
    (tmp_path / "monitor.toml").write_text(
        f"""
[store]
path = "{tmp_path / "monitor.db"}"
[fetch]
allow_private = true      # the test server is on 127.0.0.1
per_host_delay = 0.0
timeout = 5.0
total_timeout = 10.0
[classify]
topics_file = "{TOPICS}"
[translate]
models_dir = "{tmp_path / "models"}"
[digest]
output_dir = "{tmp_path / "digests"}"
{extra}
""",
        encoding="utf-8",
    )
    tables = "".join(
        f'[[feed]]\nname = "{n}"\nurl = "{u}"\noutlet = "{n.title()}"\nlang = "{lang}"\n'
        f'country = "KZ"\n\n'
        for n, u, lang in feeds
    )
    (tmp_path / "feeds.toml").write_text(tables, encoding="utf-8")


NOW = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)
