"""`monitor prune` (issue #19): a thin wrapper over `Pipeline.prune_archive`.

Registered on the `monitor` group by monitor/cli.py.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import click

from . import retention
from .cli import (
    Options,
    _echo,
    _locked,
    _pipeline,
    _storage,
    _summary,
    cli,
    common_options,
    load,
)
from .pipeline import utc_now


class _AgeType(click.ParamType["date | int", Any]):
    """A number of days (``365``) or a local day (``2026-01-01``)."""

    name = "DAYS|DATE"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> date | int:
        if isinstance(value, date | int):
            return value
        text = str(value).strip()
        if text.isdigit():
            return int(text)
        try:
            return date.fromisoformat(text)
        except ValueError:
            self.fail(f"{value!r} is not a number of days or YYYY-MM-DD", param, ctx)


@cli.command("prune")
@common_options
@click.option(
    "--older-than",
    type=_AgeType(),
    help="Prune articles first seen more than DAYS days ago, or before DATE"
    " (local day) [store.keep_days].",
)
@click.option("--dry-run", is_flag=True, help="Show what would go; change nothing.")
def prune_cmd(opts: Options, older_than: date | int | None, dry_run: bool) -> None:
    """Drop the bodies of old articles; keep headlines, links, topics and stories.

    Removes each old article's text and English text, its story features and
    the cached translations of its sentences, and marks it pruned.  Search by
    headline and the digests of old days keep working.  Never later than the
    story window (stories.window_hours).

    Example:

        monitor prune --older-than 365 --dry-run
    """
    cfg = load(opts)
    now = utc_now()
    before = retention.prune_cutoff(
        now,
        keep_days=cfg.store.keep_days,
        older_than=older_than,
        timezone=cfg.digest.timezone,
        window_hours=cfg.stories.window_hours,
    )
    if before is None:
        raise click.UsageError(
            "nothing to prune: give --older-than DAYS|DATE or set [store] keep_days"
        )
    if dry_run:
        with _storage(cfg, must_exist=True) as storage:
            with _pipeline(cfg, storage) as pipeline:
                report = pipeline.prune_archive(before, dry_run=True)
        _echo(f"articles first seen before {before.isoformat(timespec='seconds')}")
        _echo(report.line(dry_run=True))
        return
    with _locked(cfg), _storage(cfg, must_exist=True) as storage:
        with _pipeline(cfg, storage) as pipeline:
            report = pipeline.prune_archive(before)
    _summary(report.line())
