"""What to do with a feed entry seen again: pure rules, storage applies them.

A sighting (`entries` row) ties one feed's entry to an article.  Some feeds
issue a new guid on every poll for the same links; keyed by guid alone the
table grew by one row per item per poll, forever (issue #11.8).  So within a
feed an entry is identified by its guid *or* by the article its canonical link
leads to, and a feed keeps at most one sighting per article: extra rows left by
older versions are pruned.  No SQL and no clock here (STYLE "Decisions out of
SQL").
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class KnownEntry:
    """A stored sighting of the same feed, as the rule needs it."""

    entry_id: str
    article_id: int
    hash: str
    updated_count: int


class EntryAction(enum.StrEnum):
    INSERT = "insert"  # a new sighting row
    KEEP = "keep"  # nothing changed (or the change cap is reached)
    UPDATE = "update"  # content changed: refresh the article, count the change


@dataclass(frozen=True, slots=True, kw_only=True)
class EntryDecision:
    """The verdict for one incoming entry.

    Attributes:
        action: what to do with the row.
        row: the stored row to keep or update (None with INSERT).
        rename: the row's guid differs from the incoming one: store the new guid.
        prune: guids of other rows of this feed for the same article, to delete.
    """

    action: EntryAction
    row: KnownEntry | None = None
    rename: bool = False
    prune: tuple[str, ...] = ()


def decide_entry(
    entry_id: str,
    item_hash: str,
    same_article: Sequence[KnownEntry],
    by_id: KnownEntry | None,
    *,
    change_limit: int,
) -> EntryDecision:
    """Match an incoming entry to a stored sighting of the same feed.

    Args:
        entry_id: the incoming guid.
        item_hash: the incoming content hash.
        same_article: this feed's rows for the article the link's canonical URL
            names (any order; empty for a new article).
        by_id: this feed's row with the same guid, if any.
        change_limit: content changes honoured per sighting (reader's
            HASH_CHANGED_LIMIT).

    Returns:
        The decision; at most one row per (feed, article) survives it.
    """
    row = by_id or _newest(same_article)
    if row is None:
        return EntryDecision(action=EntryAction.INSERT)
    prune = tuple(
        sorted(
            e.entry_id
            for e in same_article
            if e.entry_id != row.entry_id and e.article_id == row.article_id
        )
    )
    changed = row.hash != item_hash and row.updated_count < change_limit
    return EntryDecision(
        action=EntryAction.UPDATE if changed else EntryAction.KEEP,
        row=row,
        rename=row.entry_id != entry_id,
        prune=prune,
    )


def duplicate_sightings(
    rows: Sequence[tuple[str, KnownEntry]],
) -> tuple[tuple[str, str], ...]:
    """(feed, guid) of rows to delete so each feed keeps one row per article.

    Used after two articles were merged (same page canonical URL): both may have
    had a sighting from the same feed.
    """
    keep: dict[tuple[str, int], KnownEntry] = {}
    for feed, e in rows:
        best = keep.get((feed, e.article_id))
        keep[(feed, e.article_id)] = (
            e
            if best is None
            else max((best, e), key=lambda x: (x.updated_count, x.entry_id))
        )
    kept = {(feed, e.entry_id) for (feed, _), e in keep.items()}
    return tuple(
        sorted((f, e.entry_id) for f, e in rows if (f, e.entry_id) not in kept)
    )


def _newest(rows: Sequence[KnownEntry]) -> KnownEntry | None:
    """The row to keep: the most changed, then the greatest guid (stable)."""
    if not rows:
        return None
    return max(rows, key=lambda e: (e.updated_count, e.entry_id))
