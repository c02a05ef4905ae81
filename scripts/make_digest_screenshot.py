"""Build a realistic sample digest and screenshot it for docs/digest.png.

Usage::

    .venv/bin/python scripts/make_digest_screenshot.py [--out docs/digest.png]
        [--keep DIR]

The stories are invented but shaped like a real day of Central Asian press:
Russian articles with machine-translated English headlines and ledes, English
originals, a story carried by several outlets, an untranslated Kazakh item, a
teaser, an unfiled story and two unhealthy feeds.  The rows go straight into a
fresh database (the classify/stories stages are not needed for a picture), the
digest is built and rendered by the real code, and headless Chromium (Debian's
``chromium``) takes the screenshot.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from monitor.config import Config, DigestConfig
from monitor.digest import build_digest, write_digest
from monitor.store import Storage

DAY = date(2026, 11, 25)
MIDNIGHT = datetime(2026, 11, 24, 19, 0, tzinfo=UTC)  # 00:00 in Almaty
NOW = datetime(2026, 11, 26, 1, 15, tzinfo=UTC)
TOPICS = (
    "Energy and utilities",
    "Unrest and protests",
    "Elections",
    "Economy and trade",
    "Water and climate",
)

FEEDS = [
    # name, outlet, country, lang, status, failures, last_new_item (hours before NOW)
    ("vlast", "Vlast.kz", "Kazakhstan", "ru", "ok", 0, 2),
    ("tengri", "Tengrinews", "Kazakhstan", "ru", "ok", 0, 1),
    ("kursiv", "Kursiv Media", "Kazakhstan", "ru", "ok", 0, 3),
    ("azattyq-kk", "Azattyq", "Kazakhstan", "kk", "ok", 0, 5),
    ("kaktus", "Kaktus.media", "Kyrgyzstan", "ru", "ok", 0, 2),
    ("24kg", "24.kg", "Kyrgyzstan", "ru", "ok", 0, 4),
    ("kun-uz", "Kun.uz", "Uzbekistan", "ru", "ok", 0, 2),
    ("gazeta-uz", "Gazeta.uz", "Uzbekistan", "ru", "ok", 0, 6),
    ("asiaplus", "Asia-Plus", "Tajikistan", "ru", "ok", 0, 3),
    ("eurasianet", "Eurasianet", "Central Asia", "en", "ok", 0, 8),
    ("diplomat", "The Diplomat", "Central Asia", "en", "ok", 0, 10),
    ("orda", "Orda.kz", "Kazakhstan", "ru", "error", 5, 30),
    ("podrobno", "Podrobno.uz", "Uzbekistan", "ru", "ok", 0, 80),
]

# story, feed, local time, lang, title, title_en, text_en (or English text), topics
ARTICLES = [
    (
        1,
        "vlast",
        "09:12",
        "ru",
        "Тарифы на электроэнергию в Казахстане вырастут на 15% с января",
        "Electricity tariffs in Kazakhstan will rise by 15% from January",
        "The Ministry of Energy has approved new maximum tariffs for power plants, "
        "which "
        "will take effect on 1 January. For households in Almaty and Astana the "
        "increase "
        "will be between 12 and 15 percent. The ministry says the money will go into "
        "repairing worn-out generating equipment. Consumer groups have asked for a "
        "delay.",
        {
            "Energy and utilities": ("tariffs", ["тариф*", "электроэнерги*"]),
            "Economy and trade": ("prices", ["тариф*"]),  # shown once, "Also under"
        },
    ),
    (
        1,
        "kursiv",
        "10:40",
        "ru",
        "Минэнерго утвердило предельные тарифы на 2027 год",
        "The Ministry of Energy approved the maximum tariffs for 2027",
        "The ministry published the order on its website. Tariffs rise from January.",
        {"Energy and utilities": ("tariffs", ["тариф*"])},
    ),
    (
        1,
        "eurasianet",
        "15:05",
        "en",
        "Kazakhstan: Power prices to climb as grid crumbles",
        None,
        "Kazakhstan will raise electricity prices again in January. Officials say "
        "there "
        "is no alternative.",
        {"Energy and utilities": ("tariffs", ["tariff*", "electricity"])},
    ),
    (
        2,
        "tengri",
        "07:55",
        "ru",
        "Энергоблок Экибастузской ГРЭС-2 вновь подключён к сети после аварийного "
        "ремонта",
        "Ekibastuz GRES-2 power unit reconnected to the grid after emergency repairs",
        "The 500 MW unit was shut down on Sunday after a boiler tube ruptured. Repair "
        "crews worked around the clock. The operator says heat supply to Ekibastuz was "
        "not interrupted.",
        {"Energy and utilities": ("power plants", ["ГРЭС", "энергоблок*"])},
    ),
    (
        3,
        "kun-uz",
        "11:30",
        "ru",
        "В ряде районов Ташкента отключили газ из-за падения давления",
        "Gas cut off in several districts of Tashkent due to a pressure drop",
        "Hududgaztaminot said the pressure in the network fell during the morning "
        "peak. "
        "Supply was restored to most homes by evening. Residents of Yunusabad "
        "complained "
        "of cold flats for the second week in a row.",
        {"Energy and utilities": ("gas supply", ["газ*", "отключ*"])},
    ),
    (
        3,
        "gazeta-uz",
        "13:05",
        "ru",
        "Ташкент: перебои с газом продолжаются вторую неделю",
        "Tashkent: gas outages continue for a second week",
        "Residents report low pressure. The company promises a fix.",
        {"Energy and utilities": ("gas supply", ["газ*"])},
    ),
    (
        4,
        "kaktus",
        "16:20",
        "ru",
        "Жители Оша вышли на акцию против сноса домов в центре города",
        "Residents of Osh rallied against the demolition of houses in the city centre",
        "About two hundred people gathered outside the mayor's office on Wednesday. "
        "They say they were offered compensation far below market prices. The mayor's "
        "office promised to set up a working group with residents.",
        {"Unrest and protests": ("protest", ["акци*", "снос*"])},
    ),
    (
        4,
        "24kg",
        "17:02",
        "ru",
        "В Оше прошла акция протеста против сноса жилья",
        "A protest against the demolition of housing took place in Osh",
        "Police watched the rally but did not intervene. The protest ended peacefully.",
        {"Unrest and protests": ("protest", ["протест*"])},
    ),
    (
        5,
        "azattyq-kk",
        "12:10",
        "kk",
        "Жаңаөзенде мұнайшылар жалақы талап етіп жиналды",
        None,
        "Жаңаөзенде мұнайшылар жалақы талап етіп жиналды. Олар жалақыны 30 пайызға "
        "көтеруді талап етеді.",
        {"Unrest and protests": ("strike", ["жиналды", "мұнайшылар"])},
    ),
    (
        6,
        "tengri",
        "14:45",
        "ru",
        "ЦИК зарегистрировал пятерых кандидатов на довыборы в мажилис",
        "The CEC registered five candidates for the Mazhilis by-election",
        "The vote in single-mandate district No. 12 will take place on 21 December. "
        "Two of the candidates are self-nominated. Campaigning starts on Friday.",
        {"Elections": ("elections", ["выбор*", "кандидат*"])},
    ),
    (
        7,
        "eurasianet",
        "18:30",
        "en",
        "Kyrgyzstan: Parliament backs early presidential vote",
        None,
        "Lawmakers in Bishkek voted 71 to 4 to bring the presidential election forward "
        "to March. Critics say the move leaves the opposition little time to organise. "
        "The Central Election Commission will publish a calendar next week.",
        {"Elections": ("elections", ["election*", "vote"])},
    ),
    (
        7,
        "24kg",
        "19:10",
        "ru",
        "Жогорку Кенеш одобрил досрочные президентские выборы",
        "The Jogorku Kenesh approved early presidential elections",
        "Deputies adopted the resolution in three readings at once.",
        {"Elections": ("elections", ["выбор*"])},
    ),
    (
        8,
        "asiaplus",
        "10:05",
        "ru",
        "Денежные переводы в Таджикистан из России сократились на 9%",
        "Money transfers to Tajikistan from Russia fell by 9%",
        "According to the central bank, transfers in the third quarter totalled "
        "$1.6 billion. Economists link the fall to tighter rules for migrants in "
        "Russia. "
        "Remittances make up about a third of Tajikistan's GDP.",
        {"Economy and trade": ("remittances", ["перевод*", "мигрант*"])},
    ),
    (
        9,
        "kursiv",
        "15:00",
        "ru",
        "Нацбанк сохранил базовую ставку на уровне 16,5%",
        "The National Bank kept the base rate at 16.5%",
        "The regulator cited persistent inflation expectations.",
        {"Economy and trade": ("monetary policy", ["базов* ставк*"])},
    ),
    (
        10,
        "diplomat",
        "08:20",
        "en",
        "The Amu Darya Is Running Dry. Who Pays the Price?",
        None,
        "Water levels on the Amu Darya have dropped to their lowest in a decade. "
        "Farmers "
        "in Karakalpakstan and Dashoguz are the first to feel it. A new canal in "
        "Afghanistan adds to the pressure.",
        {"Water and climate": ("water", ["water", "drought"])},
    ),
    (
        10,
        "asiaplus",
        "12:45",
        "ru",
        "Уровень воды в Амударье опустился до минимума за десять лет",
        "The water level in the Amu Darya fell to a ten-year low",
        "Hydrologists warn of shortages in the spring.",
        {"Water and climate": ("water", ["вод*", "маловоди*"])},
    ),
    (
        11,
        "vlast",
        "20:15",
        "ru",
        "В Алматы открылся фестиваль центральноазиатского кино",
        "A Central Asian film festival opened in Almaty",
        "Forty films from five countries will be screened over a week. The opening "
        "film "
        "was a Kyrgyz drama about labour migrants.",
        {},
    ),
]


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _local(hhmm: str) -> datetime:
    hours, minutes = map(int, hhmm.split(":"))
    return MIDNIGHT + timedelta(hours=hours, minutes=minutes)


def fill(storage: Storage) -> None:
    """Insert the sample day (direct SQL: a picture needs no pipeline run)."""
    db = storage._db  # the script's own sample data; the package never does this
    for name, outlet, country, lang, status, failures, silent_h in FEEDS:
        error = json.dumps(
            {"type": "FetchError", "message": "HTTP 503 Service Unavailable"}
        )
        db.execute(
            "INSERT INTO feeds (name, url, outlet, country, lang, last_status,"
            " failure_count, last_error, last_polled_at, last_ok_at, last_new_item_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                name,
                f"https://{name}.example/rss",
                outlet,
                country,
                lang,
                status,
                failures,
                error if failures else None,
                _iso(NOW),
                _iso(NOW - timedelta(hours=silent_h if failures else 1)),
                _iso(NOW - timedelta(hours=silent_h)),
            ),
        )
    for i, (story, feed, hhmm, lang, title, title_en, text, topics) in enumerate(
        ARTICLES
    ):
        _article(db, i, story, feed, _local(hhmm), lang, title, title_en, text, topics)
    db.commit()


def _article(db, i, story, feed, when, lang, title, title_en, text, topics) -> None:
    status = "not_needed" if lang == "en" else ("no_model" if lang == "kk" else "done")
    note = "untranslated (no kk→en model)" if lang == "kk" else None
    url = f"https://{feed}.example/news/2026/11/25/{i}-story"
    if db.execute("SELECT 1 FROM stories WHERE id = ?", (story,)).fetchone() is None:
        db.execute(
            "INSERT INTO stories (id, created_at) VALUES (?, ?)", (story, _iso(NOW))
        )
    cur = db.execute(
        "INSERT INTO articles (canonical_url, url, feed_name, title, published, "
        "first_seen,"
        " extract_status, text, source, is_teaser, lang, translation_status, title_en,"
        " text_en, translation_note, classify_status, story_id, updated_at)"
        " VALUES (?,?,?,?,?,?,'done',?,'page',?,?,?,?,?,?,'done',?,?)",
        (
            url,
            url,
            feed,
            title,
            _iso(when),
            _iso(when + timedelta(minutes=6)),
            text if lang != "ru" else "",
            int(i == 13),
            lang,
            status,
            title_en,
            text if lang == "ru" else None,
            note,
            story,
            _iso(NOW),
        ),
    )
    article_id = cur.lastrowid
    db.execute(
        "INSERT INTO entries (feed_name, entry_id, article_id, link, hash, first_seen)"
        " VALUES (?,?,?,?,?,?)",
        (feed, url, article_id, url, "h", _iso(when)),
    )
    db.execute(
        "INSERT INTO story_members (article_id, story_id, relation, score, added_at)"
        " VALUES (?,?,?,?,?)",
        (article_id, story, "story", 1.0, _iso(NOW)),
    )
    if i == 0:  # "About: Kazakhstan" (country filings: weighted mentions)
        for label, score in (("Kazakhstan", 4.0), ("Central Asia", 1.0)):
            db.execute(
                "INSERT INTO filings (article_id, facet, label, score, rule, terms,"
                " matched) VALUES (?,'country',?,?,'places-and-people','[]','[]')",
                (article_id, label, score),
            )
    for label, (rule, terms) in topics.items():
        db.execute(
            "INSERT INTO filings (article_id, facet, label, score, rule, terms, "
            "matched)"
            " VALUES (?,?,?,?,?,?,?)",
            (
                article_id,
                "topic",
                label,
                1.0,
                rule,
                json.dumps(terms),
                json.dumps(terms),
            ),
        )


def screenshot(page: Path, out: Path, *, width: int = 900, height: int = 3050) -> None:
    """Render ``page`` with headless Chromium into ``out`` (PNG)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("chromium not found: apt-get install -y chromium")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
                f"--screenshot={out}",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("docs/digest.png"))
    ap.add_argument("--keep", type=Path, help="also keep the archive in this folder")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp).resolve()
        cfg = Config(config_dir=root, digest=DigestConfig(output_dir=root / "digests"))
        with Storage(root / "sample.db") as storage:
            fill(storage)
            digest = build_digest(
                storage, day=DAY, cfg=cfg.digest, topic_order=TOPICS, now=NOW
            )
            paths = write_digest(digest, cfg, storage)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        screenshot(paths[0], args.out.resolve())
    print(f"wrote {args.out} from {paths[0].name}")


if __name__ == "__main__":
    main()
