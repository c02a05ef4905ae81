"""Plausible dates at the parsing boundary, and safe arithmetic on stored ones (#11).

A news item's date is believed only inside ``[EARLIEST_DATE, now +
FUTURE_LIMIT]``; outside it (``0001-01-01``, ``9999-12-31T23:59:59-14:00``, a
clock stuck in 1970) the date **counts as missing**, with a reason the caller
records.  ``now`` is always passed in (the fetch time), never read here.

Every parser calls `check_date` on each date it keeps (`monitor.feeds` for
RSS/Atom/RDF and JSON Feed); a source added later must do the same.

A database written before this rule may still hold a year-1 or year-9999
date, so computations on stored dates go through `clamp_stored` (or
`shift`), which never overflow.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = [
    "EARLIEST_DATE",
    "FUTURE_LIMIT",
    "check_date",
    "clamp_stored",
    "shift",
]

EARLIEST_DATE = datetime(1990, 1, 1, tzinfo=UTC)
FUTURE_LIMIT = timedelta(days=2)
# Bounds for arithmetic on stored dates: far enough from datetime.min/max that
# any window (days, weeks) and any time-zone conversion stays representable.
_STORED_MIN = datetime(1900, 1, 1, tzinfo=UTC)
_STORED_MAX = datetime(9000, 1, 1, tzinfo=UTC)


def check_date(value: datetime, now: datetime) -> tuple[datetime | None, str | None]:
    """The date if plausible, else None and why.

    Args:
        value: a timezone-aware date read from outside (naive is taken as UTC).
        now: the fetch time (timezone-aware).

    Returns:
        ``(value in UTC, None)`` inside ``[EARLIEST_DATE, now + FUTURE_LIMIT]``,
        else ``(None, reason)``.

    >>> now = datetime(2026, 3, 14, tzinfo=UTC)
    >>> check_date(datetime(1, 1, 1, tzinfo=UTC), now)[1]
    'date 0001-01-01T00:00:00+00:00 before 1990-01-01: taken as missing'
    """
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        value = value.astimezone(UTC)
    except OverflowError:
        # e.g. 0001-01-01T00:00:00+14:00 is in year 0 in UTC
        return None, f"date {value.isoformat()} out of range: taken as missing"
    if value < EARLIEST_DATE:
        return None, f"date {value.isoformat()} before 1990-01-01: taken as missing"
    if value - FUTURE_LIMIT > now:
        return None, (
            f"date {value.isoformat()} more than {FUTURE_LIMIT.days} days after "
            f"the fetch ({now.astimezone(UTC):%Y-%m-%dT%H:%M}Z): taken as missing"
        )
    return value, None


def clamp_stored(value: datetime) -> datetime:
    """A stored date pulled into a range where arithmetic cannot overflow.

    Dates outside 1900…9000 (only a database written before `check_date`
    existed can hold them) become the nearest bound, so ``value -
    timedelta(hours=72)`` or ``value.astimezone(ZoneInfo(...))`` never raises.
    """
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if value.year <= _STORED_MIN.year or value.year >= _STORED_MAX.year:
        return _STORED_MIN if value.year <= _STORED_MIN.year else _STORED_MAX
    return value


def shift(value: datetime, delta: timedelta) -> datetime:
    """``clamp_stored(value) + delta``, for windows around stored dates."""
    return clamp_stored(value) + delta
