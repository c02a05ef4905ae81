"""Topic and country filing: morphology, aliases, query semantics (issue #4)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from monitor.classify import (
    classify_article,
    compile_topics,
    explain_article,
    format_match,
    score_article,
)

ROOT = Path(__file__).resolve().parents[1]
TOPICS_TOML = ROOT / "config" / "topics.toml"


@pytest.fixture(scope="module")
def shipped():
    return compile_topics(tomllib.loads(TOPICS_TOML.read_text(encoding="utf-8")))


def one_topic(query: str, *, view: str = "ru", threshold: float = 1.0, **extra):
    """A rule set with one topic 't' whose single rule is `query`."""
    raw = {
        "settings": {"title_weight": 1.0},
        "entity": extra.pop("entity", []),
        "topic": [
            {"id": "t", "threshold": threshold, "rule": [{view: query}], **extra}
        ],
    }
    return compile_topics(raw)


def filed(
    rules, text: str, *, title: str = "", lang: str = "ru", **kw
) -> dict[str, object]:
    topics = classify_article(rules, title=title, text=text, lang=lang, **kw)
    return {m.label: m for m in topics.labels}


# ---------------------------------------------------------------- morphology

# nominative, genitive, dative, accusative, instrumental, prepositional
SURNAME_CASES = {
    "Назарбаев": [
        "Назарбаев",
        "Назарбаева",
        "Назарбаеву",
        "Назарбаева",
        "Назарбаевым",
        "Назарбаеве",
    ],
    "Токаев": ["Токаев", "Токаева", "Токаеву", "Токаева", "Токаевым", "Токаеве"],
    "Жапаров": ["Жапаров", "Жапарова", "Жапарову", "Жапарова", "Жапаровым", "Жапарове"],
}
PLACE_CASES = {
    "Жанаозен": [
        "Жанаозен",
        "Жанаозена",
        "Жанаозену",
        "Жанаозен",
        "Жанаозеном",
        "Жанаозене",
    ],
    "Андижан": ["Андижан", "Андижана", "Андижану", "Андижан", "Андижаном", "Андижане"],
    "Каракалпакстан": [
        "Каракалпакстан",
        "Каракалпакстана",
        "Каракалпакстану",
        "Каракалпакстан",
        "Каракалпакстаном",
        "Каракалпакстане",
    ],
    "Алма-Ата": [
        "Алма-Ата",
        "Алма-Аты",
        "Алма-Ате",
        "Алма-Ату",
        "Алма-Атой",
        "Алма-Ате",
    ],
}


@pytest.mark.parametrize(
    ("term", "form"),
    [
        (t, f)
        for cases in (SURNAME_CASES, PLACE_CASES)
        for t, fs in cases.items()
        for f in fs
    ],
)
def test_a_name_written_once_matches_all_six_cases(term, form):
    rules = one_topic(term)
    got = filed(rules, f"Вчера {form} снова упоминали в новостях.")
    assert got["t"].matched == (form,)
    assert got["t"].terms == (term,)


@pytest.mark.parametrize(
    ("term", "text"),
    [
        ("протест", "Протесты продолжались, протестов стало больше."),
        ("забастовка", "Нефтяники объявили забастовку."),
        ("задержать", "Активистов задержали у акимата."),
        ("ёлка", "На площади поставили елку."),  # ё/е folded
        ("елка", "На площади поставили ёлку."),
        ("election", "The elections were held on Sunday."),
        ("protester", "Police dispersed the protesters."),
    ],
)
def test_common_words_match_their_inflections(term, text):
    lang = "en" if text.isascii() else "ru"
    assert "t" in filed(one_topic(term, view="any"), text, lang=lang)


def test_words_that_only_share_letters_do_not_match():
    assert "t" not in filed(
        one_topic("митинг"), "Мы обсудили тему без митингующих слов."
    )


def test_a_surname_entity_does_not_match_the_common_noun_it_looks_like():
    entity = [{"id": "peskov", "names": ["Песков"]}]
    rules = one_topic("@peskov", entity=entity, view="any")
    assert "t" not in filed(rules, "Песок и несколько песков лежали на дороге.")
    assert "t" in filed(rules, "Об этом сообщил Дмитрий Песков.")


# ---------------------------------------------------------------- aliases


ENTITIES = [
    {"id": "nazarbayev", "names": ["Назарбаев"], "tags": ["family"]},
    {"id": "tokayev", "names": ["Токаев"]},
    {"id": "almaty", "names": ["Алматы"], "spellings": ["Alma-Ata", "Алма-Ата"]},
    {"id": "zhanaozen", "names": ["Жанаозен"]},
]


@pytest.mark.parametrize(
    ("ref", "text", "lang"),
    [
        ("@nazarbayev", "Former president Nursultan Nazarbayev spoke.", "en"),
        ("@nazarbayev", "Nazarbaev's family kept its assets.", "en"),
        ("@nazarbayev", "Dariga Nazarbayeva left parliament.", "en"),
        ("@nazarbayev", "Встреча с Назарбаевым не состоялась.", "ru"),
        ("@tokayev", "President Tokayev signed the decree.", "en"),
        ("@tokayev", "President Tokaev signed the decree.", "en"),
        ("@almaty", "Protests in Almaty grew.", "en"),
        ("@almaty", "In Soviet Alma-Ata the students rose in 1986.", "en"),
        ("@almaty", "События в Алма-Ате в 1986 году.", "ru"),
        ("@zhanaozen", "The Zhanaozen massacre of 2011.", "en"),
        ("@zhanaozen", "Janaozen oil workers went on strike.", "en"),
        ("@zhanaozen", "В Жанаозене бастовали нефтяники.", "ru"),
        ("#family", "Nazarbayev's relatives", "en"),
    ],
)
def test_one_entity_matches_cyrillic_and_latin_spellings(ref, text, lang):
    rules = one_topic(ref, entity=ENTITIES, view="any")
    got = filed(rules, text, lang=lang)
    assert got["t"].terms == (ref,)


def test_latin_spellings_are_generated_not_listed(shipped):
    entity = next(e for e in shipped.entities if e.id == "zhanaozen")
    assert entity.names == ("Жанаозен", "Новый Узень")
    assert {"Zhanaozen", "Janaozen"} <= set(entity.spellings)
    tokayev = next(e for e in shipped.entities if e.id == "tokayev")
    assert {"Tokayev", "Tokaev"} <= set(tokayev.spellings)


# ---------------------------------------------------------------- boolean / proximity


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        ("нефть AND газ", "Добыча нефти и газа выросла.", True),
        ("нефть AND газ", "Добыча нефти выросла.", False),
        ("нефть OR газ", "Добыча газа выросла.", True),
        ("нефть AND NOT газ", "Добыча нефти выросла.", True),
        ("нефть AND NOT газ", "Добыча нефти и газа выросла.", False),
        ("(нефть OR уголь) AND экспорт", "Экспорт угля вырос.", True),
        ("(нефть OR уголь) AND экспорт", "Импорт угля вырос.", False),
        ("нефть OR уголь AND экспорт", "Добыча нефти.", True),  # AND binds tighter
        ('"массовые беспорядки"', "Начались массовые беспорядки.", True),
        ('"массовые беспорядки"', "В массовых беспорядках пострадали люди.", True),
        ('"массовые беспорядки"', "Беспорядки были массовые.", False),  # order matters
        ("митинг NEAR/3 площадь", "Митинг прошёл на центральной площади.", True),
        (
            "митинг NEAR/2 площадь",
            "Митинг прошёл на большой центральной площади.",
            False,
        ),
        ("площадь NEAR/3 митинг", "Митинг прошёл на центральной площади.", True),
        ("коррупц*", "Коррупционный скандал разгорелся.", True),
        ("коррупц*", "Скандал разгорелся.", False),
    ],
)
def test_boolean_and_proximity_semantics(query, text, expected):
    assert ("t" in filed(one_topic(query), text)) is expected


def test_near_does_not_join_title_and_body():
    rules = one_topic("митинг NEAR/3 площадь")
    assert "t" not in filed(rules, "Площадь была пуста.", title="Митинг")


def test_exclusion_vetoes_a_topic_and_explain_says_why():
    rules = one_topic("протест", exclude={"ru": "футбол"})
    assert "t" in filed(rules, "Протест у акимата.")
    assert "t" not in filed(
        rules, "Протест болельщиков после матча: футбол не для всех."
    )
    text = explain_article(
        rules, article_id=7, title="", text="Протест: футбол.", lang="ru"
    )
    assert "vetoed by exclude ru: футбол (футбол)" in text


def test_weights_thresholds_and_title_weight():
    raw = {
        "settings": {"title_weight": 2.0, "max_count": 3},
        "topic": [
            {
                "id": "t",
                "threshold": 2.0,
                "rule": [
                    {"name": "strong", "weight": 2.0, "ru": "забастовка"},
                    {"name": "weak", "weight": 0.5, "ru": "зарплата"},
                ],
            }
        ],
    }
    rules = compile_topics(raw)
    assert "t" not in filed(
        rules, "Зарплата выросла. Зарплата снова выросла."
    )  # 2 x 0.5
    assert filed(rules, "Началась забастовка.")["t"].score == 2.0
    assert "t" not in filed(rules, "Нет.", title="Зарплата")  # 0.5 x title weight 2
    got = filed(rules, "Зарплата, зарплата, зарплата, зарплата.", title="Забастовка")
    assert got["t"].score == 2.0 * 2 + 0.5 * 3  # title counts twice; count capped at 3
    assert got["t"].rule == "strong + weak"


def test_negative_weight_is_a_soft_exclusion():
    raw = {
        "topic": [
            {
                "id": "t",
                "threshold": 1.0,
                "rule": [
                    {"ru": "выборы"},
                    {"name": "sport", "weight": -5.0, "ru": "футбол"},
                ],
            }
        ]
    }
    rules = compile_topics(raw)
    assert "t" in filed(rules, "Прошли выборы.")
    assert "t" not in filed(rules, "Прошли выборы в федерации футбола.")


# ---------------------------------------------------------------- views


def test_english_only_rule_files_a_russian_article_through_its_translation():
    rules = one_topic('"asset recovery" OR oligarch', view="en")
    ru_text = "Генпрокуратура вернула государству активы олигархов."
    assert "t" not in filed(rules, ru_text)
    got = filed(
        rules,
        ru_text,
        text_en="The prosecutor returned oligarchs' assets.",
        title_en="Asset recovery continues",
    )
    assert got["t"].matched == ("Asset recovery", "oligarchs")


def test_russian_rules_do_not_run_on_english_originals():
    rules = one_topic("протест", view="ru")
    assert "t" not in filed(rules, "Протест", lang="en")


def test_translation_does_not_double_the_score():
    rules = one_topic("протест", view="any")
    one = filed(rules, "Протест.")["t"].score
    both = filed(rules, "Протест.", text_en="Protest.")["t"].score
    assert one == both == 1.0


# ---------------------------------------------------------------- shipped rules


JANUARY_2022 = (
    "5 января 2022 года в Алматы протестующие захватили здание акимата. "
    "Митинги, начавшиеся в Жанаозене из-за подорожания сжиженного газа, переросли в "
    "массовые беспорядки. Президент Токаев объявил чрезвычайное положение и запросил "
    "помощь ОДКБ, а силовикам разрешили стрелять без предупреждения. Назарбаев "
    "лишился поста председателя Совета безопасности, бывший глава КНБ Масимов задержан."
)


def test_january_2022_article_is_filed_under_kazakhstan_and_unrest(shipped):
    got = filed(shipped, JANUARY_2022, title="Кровавый январь: что произошло в Алматы")
    assert got["kazakhstan"].facet == "country"
    assert {"@almaty", "@tokayev"} <= set(got["kazakhstan"].terms)
    assert {"Алматы", "Токаев"} <= set(got["kazakhstan"].matched)
    unrest = got["unrest"]
    assert unrest.facet == "topic"
    assert {"Митинги", "массовые беспорядки"} <= set(unrest.matched)
    assert "протестующий" in unrest.terms
    assert "qantar-2022" in got
    assert "Кровавый январь" in got["qantar-2022"].matched
    assert {"elite-succession", "security-courts", "foreign-security"} <= set(got)
    assert "uzbekistan" not in got
    assert "russia" not in got


def test_shipped_rules_keep_file_order_for_the_digest(shipped):
    ids = [c.id for c in shipped.topics]
    assert ids[:3] == ["unrest", "elite-succession", "corruption-assets"]
    for parallel in (
        "andijan-2005",
        "zhanaozen-2011",
        "bolotnaya-2012",
        "karakalpakstan-2022",
        "gbao-2022",
        "qantar-2022",
    ):
        assert parallel in ids
    got = filed(shipped, JANUARY_2022)
    order = [label for label in got if got[label].facet == "topic"]
    assert order == [i for i in ids if i in order]


@pytest.mark.parametrize(
    ("text", "lang", "topic", "country"),
    [
        (
            "В Нукусе и по всему Каракалпакстану прошли протесты против поправок "
            "в конституцию, лишающих республику суверенитета.",
            "ru",
            "karakalpakstan-2022",
            "uzbekistan",
        ),
        (
            "Khorog residents protested after the death of Gulbiddin Ziyobekov; "
            "the GBAO unrest of 2022 ended with an anti-terrorist operation.",
            "en",
            "gbao-2022",
            "tajikistan",
        ),
        (
            "Годовщина андижанских событий. 13 мая 2005 года в Андижане "
            "узбекские войска расстреляли демонстрантов.",
            "ru",
            "andijan-2005",
            "uzbekistan",
        ),
        (
            "Bishkek court sentenced Kempir-Abad activists; Japarov's GKNB "
            "opened a criminal case.",
            "en",
            "security-courts",
            "kyrgyzstan",
        ),
        (
            "Ашхабад: Сердар Бердымухамедов сменил отца, Гурбангулы "
            "Бердымухамедова, на посту президента — передача власти в династии.",
            "ru",
            "elite-succession",
            "turkmenistan",
        ),
    ],
)
def test_shipped_rules_on_regional_stories(shipped, text, lang, topic, country):
    got = filed(shipped, text, lang=lang)
    assert topic in got, explain_article(
        shipped, article_id=0, title="", text=text, lang=lang
    )
    assert country in got


def test_format_match_and_explain(shipped):
    topics = classify_article(shipped, title="", text=JANUARY_2022, lang="ru")
    line = format_match(topics.labels[0], shipped)
    assert line.startswith("Unrest and protests (")
    out = explain_article(
        shipped, article_id=3, title="t", text=JANUARY_2022, lang="ru", stored=topics
    )
    assert "stored filings:\n  [topic] Unrest and protests (" in out
    assert "current rules:" in out
    assert "-> FILED" in out
    scores = score_article(shipped, title="", text=JANUARY_2022, lang="ru")
    assert len(scores) == len(shipped.categories)


def test_article_without_matches_gets_nothing_or_the_default_label():
    rules = one_topic("протест")
    assert classify_article(rules, title="", text="Погода.", lang="ru").labels == ()
    raw = {
        "settings": {"default_label": "other"},
        "topic": [{"id": "t", "rule": [{"ru": "протест"}]}],
    }
    got = classify_article(compile_topics(raw), title="", text="Погода.", lang="ru")
    assert [m.label for m in got.labels] == ["other"]


def test_language_is_guessed_from_the_script_when_unknown():
    rules = one_topic("протест", view="ru")
    assert "t" in filed(rules, "Протест у акимата.", lang=None)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\t ",
        "!!! ??? ... — «» 123 456",
        "\x00\x01\ufeff\u2028 митинг \u200b",
        "a" * 100_000,
        "Ǆ ǅ ǆ ﬁ ß İ ı ẞ 𝕄𝕠𝕟",
    ],
)
def test_odd_input_never_crashes(shipped, text):
    topics = classify_article(
        shipped, title=text[:100], text=text, lang="xx", title_en=text, text_en=""
    )
    assert all(m.score > 0 for m in topics.labels)


def test_near_on_a_huge_article_finds_only_close_pairs():
    rules = one_topic("митинг NEAR/2 площадь")
    far = "митинг " + "слово " * 5 + "площадь " + "слово " * 5
    text = far * 5000 + "митинг на площади"
    got = filed(rules, text)
    assert got["t"].matched == ("митинг", "площади")


def test_rule_set_gives_the_digest_its_order_and_labels(shipped):
    assert shipped.topic_order[0] == "unrest"
    assert len(shipped.topic_order) == len(shipped.topics) == 15
    assert shipped.label_of("country", "tajikistan") == "Tajikistan (incl. GBAO)"
    assert shipped.label_of("topic", "gone") == "gone"
