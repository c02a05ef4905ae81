"""Quoted-name conflicts and the reasons behind a pair (issue #17)."""

from __future__ import annotations

import subprocess
import sys
from contextlib import closing
from datetime import timedelta
from pathlib import Path

from monitor.store import Storage
from monitor.stories import explain_articles, format_pair_evidence
from monitor.stories._similarity import (
    DocumentFrequencies,
    conflicting,
    vectors_of,
    weigh,
    weighted_similarity,
)
from monitor.stories._specifics import quotes_conflict, title_quotes
from tests import test_stories_data as D
from tests.sitegen import write_config
from tests.test_stories import feat
from tests.test_stories_store import DAY1, FEEDS, add_article, run_story_step

REPO = Path(__file__).resolve().parents[1]


def test_title_quotes_keep_short_quoted_names_as_content_terms():
    assert title_quotes("Голосуйте за участников фотоконкурса «Кофемания»", "ru") == {
        "кофеман"
    }
    assert title_quotes("Голосуйте за фото в конкурсе «На спорте»", "ru") == {"спорт"}
    assert title_quotes('Fans queue for "Frozen II" premiere', "en") == {"frozen ii"}
    # a long quoted span is a citation, not a name
    assert title_quotes(
        "Он сказал: «мы будем бороться до конца за наш город»", "ru"
    ) == (frozenset())
    assert title_quotes("Без кавычек", "ru") == frozenset()


def test_quotes_conflict_needs_an_unseen_quote_on_both_sides():
    a, b = frozenset({"кофеман"}), frozenset({"спорт"})
    assert quotes_conflict(a, a, b, b)
    # the other article names the quoted contest in its text: no conflict
    assert not quotes_conflict(a, a | {"спорт"}, b, b)
    assert not quotes_conflict(a, a, frozenset(), b)


CONTEST = (
    "Редакция продолжает фотоконкурс «{name}». Читатели присылают снимки, "
    "голосование открыто до конца месяца. Победитель получит приз от редакции, "
    "итоги подведут в воскресенье. Голосовать можно один раз в сутки."
)


def _contest(article_id: int, name: str):
    return feat(
        article_id,
        "gazeta",
        "ru",
        f"Голосуйте за участников фотоконкурса «{name}»",
        CONTEST.format(name=name),
    )


def test_two_contests_of_one_template_are_kept_apart():
    a, b = _contest(1, "Кофемания"), _contest(2, "На спорте")
    va, vb = vectors_of(a), vectors_of(b)
    assert conflicting(va, vb)
    dfs = DocumentFrequencies()
    dfs.add(va)
    dfs.add(vb)
    wa, wb = weigh(a, va, dfs), weigh(b, vb, dfs)
    ev = explain_articles(a, b)
    assert ev.quote_conflict
    assert not ev.date_conflict
    assert ev.novel_quotes == (("кофеман",), ("спорт",))
    assert ev.score == weighted_similarity(wa, wb)
    assert ev.score == ev.lexical * 0.5
    # the same contest reported twice is no conflict
    assert not explain_articles(a, _contest(3, "Кофемания")).quote_conflict


def test_explain_lists_terms_and_conflicts():
    a = feat(1, "kazinform", "ru", D.PROTEST_ALMATY_TITLE, D.PROTEST_ALMATY)
    b = feat(2, "tengri", "ru", D.PROTEST_BISHKEK_TITLE, D.PROTEST_BISHKEK)
    ev = explain_articles(a, b)
    text = format_pair_evidence(
        ev, titles=(D.PROTEST_ALMATY_TITLE, D.PROTEST_BISHKEK_TITLE), threshold=0.35
    )
    assert text.startswith(f"a: {D.PROTEST_ALMATY_TITLE}\n")
    assert f"text cosine (ru): {ev.text:.3f}" in text
    assert ev.space == "ru"
    assert ev.shared_terms
    assert ev.name_conflict
    assert "-> CONFLICT: x0.5" in text
    assert text.endswith("-> kept apart\n")


def test_explain_across_languages_uses_the_english_side():
    ru = feat(
        1,
        "kazinform",
        "ru",
        D.WIRE_TITLE,
        D.WIRE,
        title_en=D.WIRE_EN_TITLE,
        text_en=D.WIRE_EN,
    )
    en = feat(2, "eurasianet", "en", D.EN_REPORT_TITLE, D.EN_REPORT, hours=2)
    ev = explain_articles(ru, en)
    assert ev.space == "en"
    assert ev.novel_names == ((), ())  # names are compared within a language only
    text = format_pair_evidence(ev, titles=("a", "b"), threshold=0.35)
    assert ("-> same story" in text) == (ev.score >= 0.35)


def test_cli_stories_explain(tmp_path):
    write_config(tmp_path, [("kazinform", "https://kazinform.example/rss", "ru")])
    with closing(Storage(tmp_path / "monitor.db")) as storage:
        storage.sync_feeds(FEEDS)
        t = DAY1
        wire = add_article(storage, "kazinform", "w", D.WIRE_TITLE, D.WIRE, t)
        copy = add_article(
            storage,
            "tengri",
            "w2",
            D.WIRE_B_TITLE,
            D.WIRE_B,
            t + timedelta(hours=1),
        )
        almaty = add_article(
            storage, "vlast", "p1", D.PROTEST_ALMATY_TITLE, D.PROTEST_ALMATY, t
        )
        bishkek = add_article(
            storage, "azattyq", "p2", D.PROTEST_BISHKEK_TITLE, D.PROTEST_BISHKEK, t
        )
        run_story_step(storage, t + timedelta(hours=2))

    def explain(*ids: int) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                *(sys.executable, "-m", "monitor", "stories-explain"),
                *map(str, ids),
                *("--config", str(tmp_path)),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=REPO,
            env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
            check=False,
        )

    same = explain(wire, copy)
    assert same.returncode == 0, same.stderr
    assert same.stdout.startswith(f"a: {D.WIRE_TITLE}\nb: {D.WIRE_B_TITLE}\n")
    assert same.stdout.endswith("-> same story\n")
    apart = explain(almaty, bishkek)
    assert "headline names the other never mentions" in apart.stdout
    assert "CONFLICT" in apart.stdout
    assert apart.stdout.endswith("-> kept apart\n")
    missing = explain(wire, 999)
    assert missing.returncode == 1
    assert "no article with id 999" in missing.stderr
