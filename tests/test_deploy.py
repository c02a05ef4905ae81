"""The systemd units in deploy/systemd/ (docs/deploy.md) parse, and start real
`monitor` commands with options that exist."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import click
import pytest

from monitor.cli import cli
from tests.test_pipeline_backends import MONITOR

UNITS = Path(__file__).resolve().parents[1] / "deploy" / "systemd"
INSTALLED = "/srv/monitor/.venv/bin/monitor"  # where docs/deploy.md installs it


def _sections(path: Path) -> dict[str, dict[str, str]]:
    """A unit file as {section: {key: value}} (systemd's INI dialect, no repeats)."""
    out: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = out.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{path.name}: {line!r} outside a section"
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: {line!r} is not key=value"
        assert key not in current, f"{path.name}: {key} twice"
        current[key] = value
    return out


def test_the_units_are_there_and_well_formed():
    names = sorted(p.name for p in UNITS.iterdir())
    assert names == [
        "monitor-run.service",
        "monitor-run.timer",
        "monitor-worker@.service",
    ]
    worker = _sections(UNITS / "monitor-worker@.service")
    assert worker["Service"]["Restart"] == "always"
    assert worker["Install"]["WantedBy"] == "multi-user.target"
    run = _sections(UNITS / "monitor-run.service")
    assert run["Service"]["Type"] == "oneshot"
    timer = _sections(UNITS / "monitor-run.timer")
    assert timer["Timer"]["Unit"] == "monitor-run.service"
    assert timer["Install"]["WantedBy"] == "timers.target"


@pytest.mark.parametrize("unit", ["monitor-worker@.service", "monitor-run.service"])
def test_exec_start_is_a_monitor_command_with_real_options(unit):
    argv = shlex.split(_sections(UNITS / unit)["Service"]["ExecStart"])
    assert argv[0] == INSTALLED
    command = cli.commands[argv[1]]  # type: ignore[attr-defined]
    known = {o for p in command.params if isinstance(p, click.Option) for o in p.opts}
    assert {a for a in argv[2:] if a.startswith("-")} <= known, argv


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd")
def test_systemd_analyze_verify_accepts_the_units(tmp_path):
    """Verified with the executable path pointed at this checkout's (verify
    refuses a command that does not exist)."""
    for src in UNITS.iterdir():
        text = src.read_text(encoding="utf-8").replace(INSTALLED, MONITOR)
        (tmp_path / src.name).write_text(text, encoding="utf-8")
    done = subprocess.run(
        ["systemd-analyze", "verify", *sorted(str(p) for p in tmp_path.iterdir())],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr
