"""Pure parsers for response headers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

MAX_RETRY_AFTER = timedelta(days=7)  # a longer Retry-After is capped, never overflows


def parse_content_type(value: str | None) -> tuple[str | None, str | None]:
    """Split a Content-Type header into (media type, charset), both lower-cased.

    >>> parse_content_type('text/html; charset="Windows-1251"')
    ('text/html', 'windows-1251')
    """
    if not value:
        return None, None
    media, *params = value.split(";")
    charset = None
    for param in params:
        key, _, val = param.partition("=")
        if key.strip().lower() == "charset":
            charset = val.strip().strip("\"'").strip().lower() or None
    return media.strip().lower() or None, charset


def parse_retry_after(value: str | None, now: datetime) -> datetime | None:
    """Parse a ``Retry-After`` header: delta-seconds or an HTTP-date (RFC 9110 10.2.3).

    Args:
        value: the header value, or None.
        now: aware current time.

    Returns:
        Aware UTC time to retry at, clamped to [now, now + MAX_RETRY_AFTER];
        None when the header is missing or unreadable.
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    now = now.astimezone(UTC)
    if value.isdigit():
        seconds = min(int(value), int(MAX_RETRY_AFTER.total_seconds()))
        return now + timedelta(seconds=seconds)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # HTTP-dates are GMT
    return min(max(when.astimezone(UTC), now), now + MAX_RETRY_AFTER)


def sendable_validator(value: str | None) -> str | None:
    """An ETag / Last-Modified we can send back, or None (issue #11).

    A validator goes back verbatim as ``If-None-Match`` / ``If-Modified-Since``,
    and httpx sends header values as ASCII: a server's ``ETag: "ключ"`` or
    ``Last-Modified: … Déc …`` would make every later request fail before it is
    sent.  Only visible ASCII (and spaces) is kept; the caller drops the rest
    with a note.

    >>> sendable_validator('"v1"'), sendable_validator('"ключ"')
    ('"v1"', None)
    """
    if value is None:
        return None
    value = value.strip()
    if not value or any(not (" " <= c <= "~") for c in value):
        return None
    return value
