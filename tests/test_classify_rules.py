"""Bad topic rules give clear errors with their location, all of them at once."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from monitor.classify import TopicRulesError, compile_topics, validate_topics
from monitor.config import load_config
from monitor.exceptions import ConfigError, RuleError

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("протест митинг", "column 9: missing operator before 'митинг'"),
        ("протест or митинг", "(operators are upper-case: OR)"),
        ("(протест OR митинг", "column 19: '(' at column 1 is never closed"),
        ("протест OR", "column 11: query ends where a term was expected"),
        ("протест)", "column 8: unbalanced ')'"),
        ('"массовые беспорядки', "column 1: unterminated quoted phrase"),
        ('""', "column 1: empty quoted phrase"),
        ("NOT протест", "a query cannot consist only of NOT terms"),
        (
            "митинг NEAR/0 площадь",
            "column 8: NEAR/n needs a whole number 1..200, got '0'",
        ),
        ("митинг NEAR/abc площадь", "got 'abc'"),
        (
            "(a AND b) NEAR/3 c",
            "NEAR joins terms, phrases, @entities or (a OR b) groups",
        ),
        ("ко*", "prefix 'ко*' is too short"),
        ("a AND @", "'@' needs a name after @"),
        ("протест AND @nobody", "column 13: unknown entity @nobody"),
        ("#nothing", "column 1: no entity has tag or country #nothing"),
        ("100%", "'100%' is not a word"),
    ],
)
def test_query_errors_name_topic_rule_field_and_column(query, message):
    raw = {"topic": [{"id": "unrest", "rule": [{"name": "crowds", "ru": query}]}]}
    errors = validate_topics(raw)
    assert len(errors) == 1
    assert errors[0].startswith("topic[0] 'unrest' rule[0] 'crowds' ru: ")
    assert message in errors[0]


def test_every_error_is_collected():
    raw = {
        "typo": 1,
        "settings": {"title_weight": "x"},
        "entity": [{"id": "a", "names": []}, {"id": "a", "names": ["А"]}],
        "topic": [
            {"id": "Bad Id", "rule": [{"ru": "a b"}]},
            {"id": "t", "threshold": 0, "rule": [{"xx": "a"}], "exclude": {"ru": "(b"}},
            {"id": "t", "rule": [{"en": "ok"}]},
            {"id": "u", "rule": [{"weight": "heavy", "en": "ok"}]},
        ],
        "country": [{"id": "kz", "rule": "nope"}],
    }
    errors = validate_topics(raw)
    expected = [
        "(top level): unknown key 'typo'",
        "settings.title_weight: must be a number, got 'x'",
        "entity[0] 'a'.names: needs at least one name",
        "entity[1].id: duplicate id 'a'",
        "topic[0].id: needs an id of lower-case letters",
        "topic[0] rule[0] 'rule1' ru: column 3: missing operator before 'b'",
        "topic[1] 't'.threshold: must be > 0, got 0.0",
        "topic[1] 't' rule[0] 'rule1': unknown key 'xx'",
        "topic[1] 't' rule[0] 'rule1': needs at least one of ru, en, any",
        "topic[1] 't'.exclude ru: column 3: '(' at column 1 is never closed",
        "topic[2].id: duplicate id 't'",
        "topic[3] 'u' rule[0] 'rule1'.weight: must be a number, got 'heavy'",
        "country[0] 'kz'.rule: must be an array of tables",
    ]
    for want in expected:
        assert any(e.startswith(want) for e in errors), (want, errors)


def test_compile_topics_raises_one_error_listing_all():
    raw = {
        "topic": [
            {"id": "a", "rule": [{"ru": "x y"}]},
            {"id": "b", "rule": [{"en": "("}]},
        ]
    }
    with pytest.raises(TopicRulesError) as info:
        compile_topics(raw)
    assert isinstance(info.value, RuleError)
    assert len(info.value.errors) == 2
    assert "2 topic rule error(s)" in str(info.value)


def test_entity_with_unknown_country_is_an_error():
    raw = {
        "entity": [{"id": "x", "names": ["Икс"], "country": "narnia"}],
        "topic": [{"id": "t", "rule": [{"ru": "@x"}]}],
    }
    assert validate_topics(raw) == ["entity 'x'.country: unknown country 'narnia'"]


def test_shipped_rules_and_examples_are_valid():
    for path in [
        ROOT / "config" / "topics.toml",
        *sorted((ROOT / "config" / "examples").glob("*.toml")),
    ]:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        assert validate_topics(raw) == [], path


def test_rule_errors_are_reported_with_config_errors(tmp_path):
    (tmp_path / "monitor.toml").write_text(
        '[fetch]\ntimeout = "slow"\n', encoding="utf-8"
    )
    (tmp_path / "feeds.toml").write_text("", encoding="utf-8")
    (tmp_path / "topics.toml").write_text(
        '[[topic]]\nid = "t"\n[[topic.rule]]\nru = "протест митинг"\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, env={}, rule_validator=validate_topics)
    text = str(info.value)
    assert "topics.toml: topic[0] 't' rule[0] 'rule1' ru: column 9" in text
    assert "fetch.timeout" in text


def test_multi_line_queries_report_line_and_column():
    raw = {
        "topic": [{"id": "t", "rule": [{"en": "protest OR rally\n    OR riot unrest"}]}]
    }
    (error,) = validate_topics(raw)
    assert error == (
        "topic[0] 't' rule[0] 'rule1' en: line 2, column 13: missing operator before "
        "'unrest': use AND, OR, NEAR/n, or write a \"quoted phrase\" in 'OR riot unrest'"
    )
