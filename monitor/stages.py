"""Article stage rules that storage applies: pure, no SQL, no clock (issue #13).

They were written as SQL in the SQLite store; a second backend would have had
to repeat them exactly.  Each backend now asks these functions and stores the
answer.  The entry-change cap (reader's ``HASH_CHANGED_LIMIT``) lives beside
the other entry rules in `monitor.entries` (`decide_entry`).

* `stages_reset_by`: which downstream stages start again when a stage writes.
* `merge_target`: where an article goes when its page names another's URL.
* `next_attempt`: the per-stage attempt counter after one more failure.
"""

from __future__ import annotations

# Article stages in pipeline order, with the status column each one owns.
STAGE_COLUMNS: dict[str, str] = {
    "extract": "extract_status",
    "translate": "translation_status",
    "classify": "classify_status",
    "stories": "story_status",
}

# What goes back to 'pending' when an event happens to an article.
#   entry_changed: the feed's entry changed within the cap: fetch and extract again
#   extract:       new text: translate and file it again (its story stays: members
#                  never move, docs/stories.md)
#   translate:     rules also read the English text: file it again
_RESETS: dict[str, tuple[str, ...]] = {
    "entry_changed": ("extract",),
    "extract": ("translate", "classify"),
    "translate": ("classify",),
}


def stages_reset_by(event: str) -> tuple[str, ...]:
    """The stages whose status returns to 'pending' after ``event``.

    Args:
        event: ``entry_changed``, or the stage that just stored its result.

    Returns:
        Stage names (keys of `STAGE_COLUMNS`), in pipeline order; empty for a
        stage whose result nothing downstream depends on.
    """
    return _RESETS.get(event, ())


def merge_target(article_id: int, holder: int | None) -> int | None:
    """Where an extracted article must go (issue #11: canonical merging).

    Args:
        article_id: the article whose page was just extracted.
        holder: the id of the article that already has the page's canonical
            URL, or None when no article has it.

    Returns:
        The id to fold ``article_id`` into (its sightings move there and the row
        is dropped), or None when the article keeps its own row.
    """
    if holder is None or holder == article_id:
        return None
    return holder


def next_attempt(last_error: str | None, stage: str, attempts: int) -> int:
    """The attempt count after one more failure in ``stage``.

    Attempts count per stage: when the previous failure was in another stage
    (``last_error`` is stored as ``"<stage>: <message>"``), counting starts
    again at 1.
    """
    if last_error is not None and last_error.startswith(f"{stage}:"):
        return attempts + 1
    return 1


def error_text(stage: str, message: str) -> str:
    """How an article's last error is stored (read back by `next_attempt`)."""
    return f"{stage}: {message}"
