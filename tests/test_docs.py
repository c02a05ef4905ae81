"""Docs stay honest: CLI reference, every config key documented, sane shipped feeds."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
import tomllib
import typing
from pathlib import Path

from click.testing import CliRunner

from monitor import config
from monitor.cli import cli

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import gen_cli_docs  # noqa: E402


def test_cli_reference_is_current():
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_cli_docs.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        # this checkout's code, not whichever checkout the venv's editable install names
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_command_has_help_with_an_example():
    runner = CliRunner()
    for path in gen_cli_docs.commands(cli):
        cmd = cli
        for name in path:
            cmd = cmd.commands[name]  # type: ignore[attr-defined]
        assert cmd.help, path
        if not hasattr(cmd, "commands"):
            assert "Example:" in cmd.help, path
        result = runner.invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)


def _keys(cls: type, prefix: str) -> list[str]:
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        args = typing.get_args(tp)
        if dataclasses.is_dataclass(tp):
            out += _keys(tp, f"{prefix}{f.name}.")  # type: ignore[arg-type]
        elif args and dataclasses.is_dataclass(args[0]):
            continue  # an array of tables, e.g. [[mail.recipients]]: checked separately
        else:
            out.append(f"{prefix}{f.name}")
    return out


def test_every_config_key_is_in_the_example():
    text = (ROOT / "config" / "monitor.example.toml").read_text(encoding="utf-8")
    sections: dict[str, str] = {}
    current = ""
    for line in text.splitlines():
        m = re.match(r"^#?\s*\[+([\w.]+)\]+", line)
        if m:
            current = m.group(1)
            continue
        m = re.match(r"^#?\s*(\w+)\s*=", line)
        if m:
            sections.setdefault(current, "")
            sections[current] += f" {m.group(1)} "
    for section in config.SECTIONS:
        cls = typing.get_type_hints(config.Config)[section]
        for key in _keys(cls, ""):
            assert f" {key} " in sections.get(section, ""), (
                f"{section}.{key} undocumented"
            )
    recipient_keys = _keys(config.Recipient, "")
    for key in recipient_keys:
        assert f" {key} " in sections.get("mail.recipients", ""), f"recipient {key}"


def test_shipped_config_is_valid():
    cfg = config.load_config(ROOT / "config", env={})
    names = [f.name for f in cfg.feeds]
    assert len(names) == len(set(names))
    countries = {f.country for f in cfg.feeds}
    assert {"KZ", "UZ", "KG", "TJ"} <= countries
    assert sum(f.lang == "en" for f in cfg.feeds) >= 3


def test_example_config_loads_as_is(tmp_path):
    text = (ROOT / "config" / "monitor.example.toml").read_text(encoding="utf-8")
    (tmp_path / "monitor.toml").write_text(text, encoding="utf-8")
    feeds = tomllib.loads((ROOT / "config" / "feeds.toml").read_text(encoding="utf-8"))
    assert feeds["feed"]
    for name in ("feeds.toml", "topics.toml"):
        (tmp_path / name).write_text(
            (ROOT / "config" / name).read_text(encoding="utf-8"), encoding="utf-8"
        )
    documented = config.load_config(tmp_path, env={})
    for section in config.SECTIONS:  # the example shows the defaults, not other values
        default = typing.get_type_hints(config.Config)[section]()
        if section == "digest":  # unset in the example: beside the database (#10)
            default = dataclasses.replace(
                default, output_dir=(tmp_path / "../var/digests").resolve()
            )
        assert getattr(documented, section) == default, section
