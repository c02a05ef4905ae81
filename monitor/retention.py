"""Retention (issue #19): which articles `monitor prune` prunes, and what it reports.

Pure decisions, time passed in (STYLE.md 8); storage reads the candidates in an
index range and applies the decision (monitor/store/_prune.py), the pipeline
runs the batches.

Pruning an article removes its body (text, English text, feed content), its
story features and the cached translations of its sentences; it keeps the
headline, link, English title, filings, sightings and story membership, so
search (by headline) and the digest of an old day still work.  The article is
marked (``pruned_at``) in the same transaction.

Story features alone (no body) go sooner: `monitor run` drops those older than
the story window plus ``[stories] keep_features_days`` (`features_keep_cutoff`),
and ``prune --features-only`` those older than the window (`features_cutoff`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .models import PruneCandidate

# Stages whose work must be finished before an article's body may go: an
# article still waiting for one is skipped and pruned on a later run.
_DONE = "done"


def prune_cutoff(
    now: datetime,
    *,
    keep_days: int,
    older_than: date | int | None,
    timezone: str,
    window_hours: float,
) -> datetime | None:
    """The moment before which articles are pruned; None: nothing to prune.

    Args:
        now: the run's clock.
        keep_days: ``[store] keep_days`` (0 keeps everything).
        older_than: ``--older-than``: a number of days, or a local day (articles
            first seen before that day, in ``timezone``, are pruned).  It
            overrides ``keep_days``.
        timezone: ``digest.timezone``, the zone a day is read in.
        window_hours: ``stories.window_hours``: the clusterer still needs the
            features of this window, so the cutoff is never later than
            ``now - window_hours``.
    """
    if isinstance(older_than, date):
        local = datetime.combine(older_than, time(0), tzinfo=ZoneInfo(timezone))
        before = local.astimezone(now.tzinfo)
    elif older_than is not None:
        before = now - timedelta(days=older_than)
    elif keep_days > 0:
        before = now - timedelta(days=keep_days)
    else:
        return None
    return min(before, now - timedelta(hours=window_hours))


def features_cutoff(
    now: datetime, *, older_than: date | int | None, timezone: str, window_hours: float
) -> datetime:
    """Story features of articles before this go with ``prune --features-only``.

    The clusterer only reads features inside the story window, so the default
    is the window's start (``now - window_hours``); ``--older-than`` moves it
    further back, never forward.  The bodies stay: `monitor stories-explain`
    recomputes the features of an article from its stored title and text.
    """
    window = now - timedelta(hours=window_hours)
    cutoff = prune_cutoff(
        now, keep_days=0, older_than=older_than, timezone=timezone,
        window_hours=window_hours,
    )  # fmt: skip
    return window if cutoff is None else cutoff


def features_keep_cutoff(
    now: datetime, *, window_hours: float, keep_features_days: int
) -> datetime:
    """Story features of articles before this are dropped by `monitor run`.

    Args:
        now: the run's clock.
        window_hours: ``stories.window_hours``: the clusterer reads this window.
        keep_features_days: ``stories.keep_features_days``: kept this much
            longer, so a late article (an old story time) still finds the
            stories it belongs to.
    """
    try:
        return now - timedelta(hours=window_hours, days=keep_features_days)
    except OverflowError:  # a margin of millennia: nothing is that old
        return datetime.min.replace(tzinfo=now.tzinfo)


def is_prunable(
    candidate: PruneCandidate, before: datetime, *, wait_for_translation: bool = True
) -> bool:
    """Whether one candidate is pruned now.

    It must be old by both its times (first seen, and published when known:
    the digest files an article under either day), and every stage must be
    finished with it: extracted, translated or settled (unless translation is
    off: ``wait_for_translation=False``, as the story stage does), filed and
    in a story.  An article still in the pipeline waits.
    """
    c = candidate
    if c.first_seen >= before or (c.published is not None and c.published >= before):
        return False
    return (
        c.extract_status == _DONE
        and (c.translation_status != "pending" or not wait_for_translation)
        and c.classify_status == _DONE
        and c.story_status == _DONE
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class PruneReport:
    """What a prune removed (or, with ``--dry-run``, would remove)."""

    articles: int = 0  # pruned
    skipped: int = 0  # old enough but still in the pipeline
    body_bytes: int = 0  # text + English text + feed content (stored lengths)
    feature_bytes: int = 0  # story features
    cache_rows: int = 0  # cached sentence translations

    def __add__(self, other: PruneReport) -> PruneReport:
        return PruneReport(
            articles=self.articles + other.articles,
            skipped=self.skipped + other.skipped,
            body_bytes=self.body_bytes + other.body_bytes,
            feature_bytes=self.feature_bytes + other.feature_bytes,
            cache_rows=self.cache_rows + other.cache_rows,
        )

    def line(self, *, dry_run: bool = False) -> str:
        """The one summary line, e.g. ``pruned 120 articles (3.4 MB) ...``."""
        verb = "would prune" if dry_run else "pruned"
        return (
            f"{verb} {self.articles} articles: bodies {_size(self.body_bytes)},"
            f" story features {_size(self.feature_bytes)},"
            f" {self.cache_rows} cached sentences;"
            f" {self.skipped} old articles still in the pipeline skipped"
        )


def report_of(
    chosen: list[PruneCandidate], *, skipped: int, cache_rows: int
) -> PruneReport:
    """The report of one batch of chosen candidates."""
    return PruneReport(
        articles=len(chosen),
        skipped=skipped,
        body_bytes=sum(c.body_bytes for c in chosen),
        feature_bytes=sum(c.feature_bytes for c in chosen),
        cache_rows=cache_rows,
    )


def _size(n: int) -> str:
    if n < 1000:
        return f"{n} B"
    if n < 1_000_000:
        return f"{n / 1000:.1f} KB"
    return f"{n / 1_000_000:.1f} MB"
