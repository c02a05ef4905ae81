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
from .config import Config
from .runtime import utc_now


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
@click.option(
    "--features-only",
    is_flag=True,
    help="Only drop the story features of articles older than the story window"
    " (or --older-than); keep every body.",
)
def prune_cmd(
    opts: Options, older_than: date | int | None, dry_run: bool, features_only: bool
) -> None:
    """Drop the bodies of old articles; keep headlines, links, topics and stories.

    Removes each old article's text and English text, its story features and
    the cached translations of its sentences, and marks it pruned.  Search by
    headline and the digests of old days keep working.  Never later than the
    story window (stories.window_hours).

    With --features-only, only the story features of articles older than the
    story window go (4 KB an article); bodies stay, and `monitor
    stories-explain` recomputes the features it needs from them.

    Example:

        monitor prune --older-than 365 --dry-run
    """
    cfg = load(opts)
    now = utc_now()
    if features_only:
        _features_only(cfg, older_than, dry_run=dry_run)
        return
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


def _features_only(
    cfg: Config, older_than: date | int | None, *, dry_run: bool
) -> None:
    before = retention.features_cutoff(
        utc_now(),
        older_than=older_than,
        timezone=cfg.digest.timezone,
        window_hours=cfg.stories.window_hours,
    )
    when = before.isoformat(timespec="seconds")
    if dry_run:
        with _storage(cfg, must_exist=True) as storage:
            rows, size = storage.count_story_features(before)
        _echo(f"would drop {rows} story features ({size} bytes) older than {when}")
        return
    with _locked(cfg), _storage(cfg, must_exist=True) as storage:
        with _pipeline(cfg, storage) as pipeline:
            rows, size = pipeline.drop_story_features(before)
    _summary(f"dropped {rows} story features ({size} bytes) older than {when}")
