"""Issue #7: missing, future, malformed and naive feed dates land on the right day.

The documented rule (docs/design.md "Dates", monitor/feeds docstring,
docs/digest.md "Which timestamp decides the day"):

- missing or malformed → no date; the article's first-seen time stands in;
- naive → UTC;
- before 1990-01-01 or more than 2 days after the fetch → not believed: no
  date, the reason in the feed's warning (issue #11);
- 1 to 2 days after the fetch → clamped to the fetch time;
- a date more than an hour after first-seen (a feed whose clock runs ahead)
  → first-seen decides the day;
- the day is the local calendar day in ``digest.timezone`` (Asia/Almaty, UTC+5).

A feed carrying one entry per case is polled through `Pipeline.poll_feeds`
from a local HTTP server; the digests of the surrounding days are built from
the database and each entry must appear in exactly the expected one.
"""

from __future__ import annotations

import json
from contextlib import closing
from datetime import UTC, date, datetime, timedelta

import pytest

from monitor import digest as digest_mod
from monitor import fetch
from monitor.config import load_config
from monitor.pipeline import Pipeline, open_storage
from tests.sitegen import write_config

NOW = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)  # 14:00 in Almaty, 14 March
D01, D13, D14 = date(2026, 3, 1), date(2026, 3, 13), date(2026, 3, 14)

# title → (date element or None, stored `published` (UTC) or None, digest day)
CASES: dict[str, tuple[str | None, datetime | None, date]] = {
    "Case missing": (None, None, D14),
    "Case malformed": ("<published>вчера вечером</published>", None, D14),
    "Case far future": ("<published>2026-03-19T09:00:00Z</published>", None, D14),
    "Case within two days": (
        "<published>2026-03-15T21:00:00Z</published>",  # 36 h ahead: clamped
        NOW,
        D14,
    ),
    "Case before 1990": ("<published>1989-12-31T12:00:00Z</published>", None, D14),
    "Case year one": ("<updated>0001-01-01T00:00:00+14:00</updated>", None, D14),
    "Case near future": (
        "<published>2026-03-14T12:00:00Z</published>",
        datetime(2026, 3, 14, 12, 0, tzinfo=UTC),
        D14,  # 3 h ahead of first-seen: first-seen decides
    ),
    "Case naive late": (
        "<published>2026-03-13T22:30:00</published>",  # UTC → 03:30 on the 14th
        datetime(2026, 3, 13, 22, 30, tzinfo=UTC),
        D14,
    ),
    "Case naive evening": (
        "<published>2026-03-13T17:00:00</published>",  # UTC → 22:00 on the 13th
        datetime(2026, 3, 13, 17, 0, tzinfo=UTC),
        D13,
    ),
    "Case offset": (
        "<published>2026-03-13T20:00:00+03:00</published>",  # 22:00 in Almaty
        datetime(2026, 3, 13, 17, 0, tzinfo=UTC),
        D13,
    ),
    "Case rfc822": (
        "<published>Fri, 13 Mar 2026 19:30:00 GMT</published>",  # 00:30 on the 14th
        datetime(2026, 3, 13, 19, 30, tzinfo=UTC),
        D14,
    ),
    "Case old": (
        "<updated>2026-03-01T06:00:00Z</updated>",  # only an updated date
        datetime(2026, 3, 1, 6, 0, tzinfo=UTC),
        D01,
    ),
}


def _atom(server, cases) -> bytes:
    entries = "".join(
        f"<entry><id>urn:case:{i}</id><title>{title}</title>"
        f"<link href='{server.url(f'/case/{i}')}'/>{element or ''}"
        "<summary>Короткий текст.</summary></entry>"
        for i, (title, (element, _, _)) in enumerate(cases.items())
    )
    return (
        "<?xml version='1.0' encoding='utf-8'?>"
        "<feed xmlns='http://www.w3.org/2005/Atom'><title>Даты</title>"
        f"<id>urn:dates</id><updated>2026-03-14T08:00:00Z</updated>{entries}</feed>"
    ).encode()


# Out-of-range ISO fields: feedparser rolls them over (2026-02-30 → 2 March,
# 2026-00-10 → 10 December 2025) instead of failing, so they land on a wrong day.
ROLLOVER: dict[str, tuple[str | None, datetime | None, date]] = {
    "Case february 30": ("<published>2026-02-30T10:00:00Z</published>", None, D14),
    "Case month zero": ("<published>2026-00-10T10:00:00Z</published>", None, D14),
    "Case hour 25": ("<published>2026-03-13T25:00:00Z</published>", None, D14),
}


def _poll(http_server, tmp_path, cases):
    http_server.add(
        "/dates.atom",
        body=_atom(http_server, cases),
        content_type="application/atom+xml",
    )
    write_config(tmp_path, [("dates", http_server.url("/dates.atom"), "ru")])
    cfg = load_config(tmp_path, env={})
    with closing(open_storage(cfg)) as storage:
        with Pipeline(
            cfg=cfg,
            storage=storage,
            client=fetch.make_client(cfg.fetch),
            now=lambda: NOW,
        ) as pipeline:
            pipeline.poll_feeds()
        _check_stored(storage, cases)
        _check_days(cfg, storage, cases)


def _check_stored(storage, cases) -> None:
    articles = {a.title: a for a in storage.get_articles(range(1, 100))}
    assert set(articles) == set(cases)
    for title, (_, published, _) in cases.items():
        art = articles[title]
        assert art.published == published, title
        if art.published is not None:
            assert art.published.tzinfo is not None


def _check_days(cfg, storage, cases) -> None:
    """Each article appears in the digest of its day and of no other."""
    days = {day for _, _, day in cases.values()} | {D13 - timedelta(days=1)}
    days |= {D14 + timedelta(days=1), date(2025, 12, 10), date(2026, 3, 2)}
    found: dict[str, list[date]] = {title: [] for title in cases}
    later = NOW + timedelta(days=2)
    for day in sorted(days):
        d = digest_mod.build_digest(
            storage, day=day, cfg=cfg.digest, topic_order=(), now=later
        )
        text = json.dumps(json.loads(digest_mod.render_json(d)), ensure_ascii=False)
        for title in cases:
            if title in text:
                found[title].append(day)
    assert found == {title: [day] for title, (_, _, day) in cases.items()}


def test_dates_are_stored_and_filed_by_the_documented_rule(http_server, tmp_path):
    _poll(http_server, tmp_path, CASES)


@pytest.mark.parametrize("title", sorted(ROLLOVER))
def test_out_of_range_iso_dates_count_as_malformed(http_server, tmp_path, title):
    _poll(http_server, tmp_path, {title: ROLLOVER[title]})
