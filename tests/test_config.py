"""Config: validated once, every error with its key path, precedence flag > env > file."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from monitor.config import load_config
from monitor.exceptions import ConfigError
from tests.configfiles import FEED, write_config


def write(tmp_path: Path, monitor: str = "", feeds: str = FEED) -> Path:
    return write_config(tmp_path, monitor, feeds)


def errors_of(tmp_path: Path, **kwargs: object) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, **{"env": {}, **kwargs})  # type: ignore[arg-type]
    return list(info.value.errors)


def test_defaults_and_relative_paths(tmp_path):
    cfg = load_config(write(tmp_path), env={})
    assert cfg.fetch.timeout == 20.0
    assert cfg.feeds[0].name == "tengrinews"
    assert cfg.config_dir == tmp_path.resolve()


def test_every_error_is_reported_together_with_key_paths(tmp_path):
    monitor = """
feeds_file = "feeds.toml"
[fetch]
timout = 5
workers = "many"
per_host_delay = -1
[digest]
timezone = "Asia/Nowhere"
formats = ["html", "pdff"]
[translate]
backend = "google"
"""
    feeds = (
        FEED
        + FEED.replace("https://tengrinews.kz/news.rss", "ftp://x")
        + """
[[feed]]
name = "bad"
url = "not a url"
outlet = "X"
lang = "russian"
"""
    )
    errs = errors_of(write(tmp_path, monitor, feeds))
    text = "\n".join(errs)
    assert "fetch.timout: unknown key (did you mean 'timeout'?)" in text
    assert "fetch.workers: expected int, got str 'many'" in text
    assert "fetch.per_host_delay: must be >= 0" in text
    assert "digest.timezone: unknown time zone 'Asia/Nowhere'" in text
    assert "digest.formats: unknown format 'pdff' (did you mean 'pdf'" not in text
    assert "unknown format 'pdff'" in text
    assert "translate.backend: 'google' is not one of" in text
    assert "duplicate feed name 'tengrinews'" in text
    assert "'ftp://x' is not an http(s) URL" in text
    assert "feed[2] (bad).country: required key is missing" in text
    assert "feed[2] (bad).lang: 'russian' is not a language code" in text
    assert len(errs) >= 10


def test_invalid_toml_names_the_file(tmp_path):
    errs = errors_of(write(tmp_path, "[fetch\ntimeout = 1"))
    assert any("monitor.toml: invalid TOML" in e for e in errs)


def test_missing_feeds_file(tmp_path):
    (tmp_path / "monitor.toml").write_text("", encoding="utf-8")
    errs = errors_of(tmp_path)
    assert any("feeds.toml: file not found" in e for e in errs)


def test_precedence_flag_over_env_over_file(tmp_path):
    write(tmp_path, "[fetch]\ntimeout = 7\nworkers = 3\n[store]\npath = 'file.db'\n")
    env = {"MONITOR_FETCH_TIMEOUT": "9", "MONITOR_DB": "env.db"}
    cfg = load_config(tmp_path, env=env)
    assert cfg.fetch.timeout == 9.0  # env beats file
    assert cfg.fetch.workers == 3  # file beats default
    assert cfg.store.path == Path("env.db").absolute()  # the environment: cwd
    cfg = load_config(tmp_path, env=env, overrides={"store.path": "flag.db"})
    assert cfg.store.path == Path("flag.db")  # flag beats env


def test_bad_environment_value_is_reported(tmp_path):
    errs = errors_of(write(tmp_path), env={"MONITOR_FETCH_WORKERS": "lots"})
    assert errs == ["fetch.workers (from environment): cannot read 'lots' as int"]


def test_env_tuple_and_bool(tmp_path):
    env = {"MONITOR_DIGEST_FORMATS": "html, txt", "MONITOR_MAIL_ENABLED": "yes"}
    cfg = load_config(write(tmp_path), env=env)
    assert cfg.digest.formats == ("html", "txt")
    assert cfg.mail.enabled is True


def test_rule_validator_errors_join_the_rest(tmp_path):
    write(tmp_path, "[fetch]\nworkers = 0\n")
    (tmp_path / "topics.toml").write_text("[x]\n", encoding="utf-8")
    errs = errors_of(tmp_path, rule_validator=lambda raw: ["topic 'x': no rules"])
    assert "fetch.workers: must be greater than 0, got 0" in errs
    assert "topics.toml: topic 'x': no rules" in errs


def test_recipients_are_typed(tmp_path):
    monitor = """
[mail]
enabled = true
[[mail.recipients]]
address = "a@example.org"
topics = ["Unrest and protests"]
[[mail.recipients]]
adress = "typo@example.org"
"""
    errs = errors_of(write(tmp_path, monitor))
    assert "mail.recipients[1].adress: unknown key (did you mean 'address'?)" in errs
    assert "mail.recipients[1].address: required key is missing" in errs


def test_recipient_topics_by_id_or_heading_and_unknown_ones(tmp_path):
    from monitor.config import resolve_recipient_topics

    monitor = """
[[mail.recipients]]
address = "a@example.org"
topics = ["unrest", "Energy and utilities", "other"]
[[mail.recipients]]
address = "A@example.org"
topics = ["Unrest and protest"]
"""
    cfg = load_config(write(tmp_path, monitor), env={})
    headings = {"unrest": "Unrest and protests", "energy": "Energy and utilities"}
    with pytest.raises(ConfigError) as info:
        resolve_recipient_topics(cfg, headings)
    assert info.value.errors == (
        "mail.recipients[1].address: duplicate recipient 'A@example.org'",
        "mail.recipients[1].topics: unknown topic 'Unrest and protest'"
        " (did you mean 'Unrest and protests'?)",
    )
    ok = dataclasses.replace(cfg.mail, recipients=cfg.mail.recipients[:1])
    resolved = resolve_recipient_topics(dataclasses.replace(cfg, mail=ok), headings)
    assert resolved.mail.recipients[0].topics == (
        "Unrest and protests",
        "Energy and utilities",
        "Other",
    )


# --------------------------------------------------------------- issue #10: paths


def test_digests_follow_the_database_unless_configured(tmp_path):
    write(tmp_path)
    other = tmp_path / "elsewhere" / "test.db"
    cfg = load_config(tmp_path, env={}, overrides={"store.path": str(other)})
    assert cfg.digest.output_dir == other.parent / "digests"
    default = load_config(tmp_path, env={})
    assert default.digest.output_dir == (tmp_path / "../var/digests").resolve()
    write(tmp_path, "[digest]\noutput_dir = 'out'\n")
    cfg = load_config(tmp_path, env={}, overrides={"store.path": str(other)})
    assert cfg.digest.output_dir == Path("out")  # configured: relative to config


# --------------------------------------------------------------- issue #10: validation


def test_unknown_monitor_variable_warns_with_did_you_mean(tmp_path, caplog):
    write(tmp_path, "[mail]\npassword_env = 'MONITOR_MAIL_SECRET'\n")
    env = {
        "MONITOR_FETCH_TIMOUT": "3",  # misspelt: ignored, so say so
        "MONITOR_FETCH_TIMEOUT": "4",
        "MONITOR_DB": "x.db",
        "MONITOR_SMTP_USER": "u",  # a secret named by mail.username_env (default)
        "MONITOR_MAIL_SECRET": "p",  # a secret named in the file
        "PATH": "/bin",
    }
    with caplog.at_level("WARNING", logger="monitor.config"):
        cfg = load_config(tmp_path, env=env)
    assert cfg.fetch.timeout == 4.0
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings == [
        "unknown environment variable MONITOR_FETCH_TIMOUT ignored"
        " (did you mean 'MONITOR_FETCH_TIMEOUT'?)"
    ]


@pytest.mark.parametrize(
    ("country", "hint"),
    [("Kazakhstan", "KZ"), ("kz", "KZ"), ("Kyrgyzstan", "KG"), ("Uzbekstan", "UZ")],
)
def test_country_must_be_iso_alpha2_with_a_suggestion(tmp_path, country, hint):
    errs = errors_of(write(tmp_path, feeds=FEED.replace('"KZ"', f'"{country}"')))
    assert errs == [
        f"feeds.toml: feed[0] (tengrinews).country: {country!r} is not an ISO 3166 "
        f"alpha-2 code (like 'KZ') or 'intl' (did you mean {hint!r}?)"
    ]


def test_country_intl_and_codes_are_accepted(tmp_path):
    for country in ("intl", "TJ", "RU"):
        cfg = load_config(
            write(tmp_path, feeds=FEED.replace('"KZ"', f'"{country}"')), env={}
        )
        assert cfg.feeds[0].country == country


def test_translation_cache_days_is_checked(tmp_path):
    """issue #19: the cache bound; 0 keeps everything, a negative is an error."""
    assert load_config(write(tmp_path), env={}).translate.cache_days == 180
    cfg = load_config(write(tmp_path, "[translate]\ncache_days = 0\n"), env={})
    assert cfg.translate.cache_days == 0
    errs = errors_of(write(tmp_path, "[translate]\ncache_days = -3\n"))
    assert errs == ["translate.cache_days: must be >= 0 (0 keeps everything), got -3"]


def test_queue_is_off_by_default(tmp_path):
    assert load_config(write(tmp_path), env={}).queue.enabled is False


@pytest.mark.parametrize(
    ("monitor", "env"),
    [("[queue]\nenabled = true\n", {}), ("", {"MONITOR_QUEUE_ENABLED": "yes"})],
)
def test_queue_needs_postgresql_and_joins_the_other_errors(tmp_path, monitor, env):
    text = monitor + "[fetch]\nworkers = 0\n"
    errs = errors_of(write(tmp_path, text), env=env)
    assert "fetch.workers: must be greater than 0, got 0" in errs
    assert [e for e in errs if e.startswith("queue.enabled: ")] == [
        "queue.enabled: needs a PostgreSQL store ([store] url ="
        ' "postgresql://..." or MONITOR_STORE_URL); this store is SQLite'
    ]


def test_queue_key_typo_has_a_suggestion(tmp_path):
    errs = errors_of(write(tmp_path, "[queue]\nenable = false\n"))
    assert any("queue.enable" in e and "'enabled'" in e for e in errs), errs


def test_store_url_is_unset_by_default(tmp_path):
    assert load_config(write(tmp_path), env={}).store.url is None


@pytest.mark.parametrize(
    ("monitor", "env"),
    [
        ('[store]\nurl = "postgresql://m@127.0.0.1/m"\n', {}),
        ("", {"MONITOR_STORE_URL": "postgresql://m@127.0.0.1/m"}),
        ("", {"MONITOR_DATABASE_URL": "postgresql://m@127.0.0.1/m"}),
    ],
)
def test_store_url_from_file_or_environment(tmp_path, monitor, env):
    cfg = load_config(write(tmp_path, monitor), env=env)
    assert cfg.store.url == "postgresql://m@127.0.0.1/m"


def test_store_url_must_be_postgresql_and_joins_the_other_errors(tmp_path):
    text = '[store]\nurl = "postgresq://m:secret@db/m"\n[fetch]\nworkers = 0\n'
    errs = errors_of(write(tmp_path, text))
    assert "fetch.workers: must be greater than 0, got 0" in errs
    (err,) = [e for e in errs if e.startswith("store.url: ")]
    assert "not a PostgreSQL URL" in err
    assert "did you mean 'postgresql'?" in err
    assert "secret" not in err  # a password in the URL is not echoed


def test_queue_on_postgresql_is_accepted(tmp_path):
    text = '[store]\nurl = "postgresql://m@db/m"\n[queue]\nenabled = true\n'
    assert load_config(write(tmp_path, text), env={}).queue.enabled is True
