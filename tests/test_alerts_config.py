"""[[watch]] tables (issue #16): validated at start-up with the rest, all at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.alerts import validate_watches
from monitor.config import load_config
from monitor.exceptions import ConfigError
from tests.configfiles import write_config

ROOT = Path(__file__).resolve().parents[1]
TOPICS = (ROOT / "config" / "topics.toml").read_text(encoding="utf-8")


def folder(tmp_path: Path, monitor: str, watches: str | None = None) -> Path:
    files = {} if watches is None else {"watches": watches}
    return write_config(tmp_path, monitor, topics=TOPICS, **files)


def load(path: Path):
    return load_config(path, env={}, watch_validator=validate_watches)


def errors(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(path)
    return list(info.value.errors)


GOOD = """
[[watch]]
name = "kulibayev"
query = '@kulibayev OR "Халык банк"'
notify = ["mailto:analyst@example.org", "https://hooks.example.org/x", "atom:a.xml"]
min_outlets = 2
follow_up = [5, 10]
quiet_hours = "22:00-07:00"
"""


def test_watches_from_monitor_toml_and_watches_toml_beside_it(tmp_path):
    more = '[[watch]]\nname = "protests"\ntopic = "Unrest and protests"\nnotify = ["atom:p.xml"]\n'
    cfg = load(folder(tmp_path, GOOD, more))
    assert [w.name for w in cfg.watches] == ["kulibayev", "protests"]
    w = cfg.watches[0]
    assert (w.min_outlets, w.follow_up, w.quiet_hours) == (2, (5, 10), "22:00-07:00")
    assert w.notify[1] == "https://hooks.example.org/x"


def test_every_watch_error_at_once_with_did_you_mean(tmp_path):
    bad = """
[[watch]]
name = "a"
query = "митинг AND ("
notify = ["mailtoo:x@example.org", "atom:"]
min_outlets = 0
quiet_hours = "25:00-07:00"
alow_private = true

[[watch]]
name = "b"
topic = "unrets"
country = "kazakstan"
notify = ["mailto:not an address"]
follow_up = [1]

[[watch]]
name = "c"
notify = []

[[watch]]
name = "d"
query = "@nobody"
notify = ["ftp://x"]
"""
    more = '[[watch]]\nname = "a"\ncountry = "kazakhstan"\nnotify = ["atom:x.xml"]\n'
    found = "\n".join(errors(folder(tmp_path, bad, more)))
    assert "alow_private: unknown key (did you mean 'allow_private'?)" in found
    # the unknown key stops watch a; the other watches are all checked
    assert "unknown topic 'unrets' (did you mean 'unrest'?)" in found
    assert "unknown country 'kazakstan' (did you mean 'kazakhstan'?)" in found
    assert "'mailto:not an address' is not one e-mail address" in found
    assert "follow_up: 1 must be above min_outlets (1)" in found
    assert "watch[2] (c): set query, topic or country" in found
    assert "watch[2] (c).notify: list at least one" in found
    assert "unknown entity @nobody" in found
    assert "'ftp://x': start with mailto:, http://, https:// or atom:" in found
    assert "watches.toml: watch[0].name: duplicate 'a'" in found


def test_value_errors_of_one_watch_are_reported_together(tmp_path):
    bad = """
[[watch]]
name = "a"
query = "митинг AND ("
notify = ["mailtoo:x@example.org", "atom:"]
min_outlets = 0
quiet_hours = "25:00-07:00"
"""
    found = "\n".join(errors(folder(tmp_path, bad)))
    assert "(did you mean 'mailto'?)" in found
    assert "give the file, e.g. atom:" in found
    assert "min_outlets: must be >= 1, got 0" in found
    assert "quiet_hours: '25:00-07:00': hours are 0..23" in found
    assert "watch 'a'.query: bad query: column" in found


def test_alerts_section_is_checked(tmp_path):
    found = errors(
        folder(tmp_path, '[alerts]\ntimezone = "Mars/Base"\nwebhook_attempts = 0\n')
    )
    assert "alerts.timezone: unknown time zone 'Mars/Base'" in found
    assert "alerts.webhook_attempts: must be greater than 0, got 0" in found


def test_cli_reports_watch_errors_with_the_other_config_errors(tmp_path):
    from click.testing import CliRunner

    from monitor.cli import cli

    bad = '[fetch]\ntimout = 3\n[[watch]]\nname = "x"\ntopic = "unrets"\nnotify = ["atom:x.xml"]\n'
    folder(tmp_path, bad)
    result = CliRunner().invoke(cli, ["status", "--config", str(tmp_path)])
    assert result.exit_code == 1
    assert "fetch.timout: unknown key (did you mean 'timeout'?)" in result.output
    assert "unknown topic 'unrets'" in result.output
