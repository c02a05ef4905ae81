"""Plain-text listing of a day's stories (``monitor stories --date D``) and of
the reasons behind one pair (``monitor stories-explain A B``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo

from ._similarity import CONFLICT_FACTOR, PairEvidence
from ._types import Story, StoryMember

TITLE_WIDTH = 100


def _clip(text: str, width: int = TITLE_WIDTH) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _member_line(m: StoryMember, tz: tzinfo | None, representative: bool) -> str:
    when = m.published.astimezone(tz).strftime("%m-%d %H:%M") if m.published else "--"
    mark = "*" if representative else " "
    title = _clip(m.title)
    if m.title_en and m.lang != "en":
        title += f"  [en: {_clip(m.title_en, 70)}]"
    score = "" if m.relation == "seed" else f" {m.score:.2f}"
    return (
        f"  {mark} {when} {m.outlet} ({m.lang or '?'}) "
        f"{m.relation}{score}: {title}\n      article {m.article_id}  {m.url}"
    )


def summarise_languages(story: Story) -> str:
    """ "ru: Outlet A, Outlet B; en: Outlet C" — the outlets of a story by language."""
    by_lang: dict[str, list[str]] = {}
    for m in story.members:
        outlets = by_lang.setdefault(m.lang or "?", [])
        if m.outlet not in outlets:
            outlets.append(m.outlet)
    return "; ".join(f"{lang}: {', '.join(o)}" for lang, o in sorted(by_lang.items()))


def format_stories(stories: Sequence[Story], *, tz: tzinfo | None = None) -> str:
    """Render stories as text, largest first, the representative marked ``*``.

    Args:
        stories: e.g. from `Storage.get_stories_for_day`.
        tz: time zone for the member times (default UTC).

    Returns:
        The listing, ending with a newline; "no stories" when empty.
    """
    if not stories:
        return "no stories\n"
    ordered = sorted(stories, key=lambda s: (-len(s.members), s.id))
    blocks = []
    for s in ordered:
        rep = s.representative or s.members[0]
        title = rep.title_en if rep.lang != "en" and rep.title_en else rep.title
        head = (
            f"story {s.id}: {_clip(title)}"
            f"\n  {len(s.members)} article(s), {len(s.outlets)} outlet(s) — "
            f"{summarise_languages(s)}"
        )
        lines = [
            _member_line(m, tz, m.article_id == s.representative_id) for m in s.members
        ]
        blocks.append("\n".join([head, *lines]))
    return "\n\n".join(blocks) + "\n"


def _listed(items: Sequence[str]) -> str:
    return ", ".join(items) if items else "none"


def _conflict_line(label: str, sides: tuple[Sequence[str], Sequence[str]]) -> str:
    return f"a: {_listed(sides[0])}; b: {_listed(sides[1])}"


def format_pair_evidence(
    ev: PairEvidence, *, titles: tuple[str, str], threshold: float
) -> str:
    """Render `PairEvidence` as the lines of ``monitor stories-explain``.

    Args:
        ev: from `explain_pair`.
        titles: the two headlines (a, b).
        threshold: ``stories.story_threshold``.

    Returns:
        The text, ending with a newline.
    """
    verdict = "same story" if ev.score >= threshold else "kept apart"
    ent = "n/a (no names on one side)" if ev.entities is None else f"{ev.entities:.3f}"
    lines = [
        f"a: {_clip(titles[0])}",
        f"b: {_clip(titles[1])}",
        f"text cosine ({ev.space}): {ev.text:.3f}  shared: {_listed(ev.shared_terms)}",
        f"entity cosine: {ent}  shared: {_listed(ev.shared_entities)}",
        f"lexical score: {ev.lexical:.3f}",
        f"headline dates: {_conflict_line('dates', ev.dates)}"
        + ("  -> CONFLICT: score 0" if ev.date_conflict else ""),
        "headline names the other never mentions: "
        + _conflict_line("names", ev.novel_names)
        + (f"  -> CONFLICT: x{CONFLICT_FACTOR}" if ev.name_conflict else ""),
        "quoted names the other never mentions: "
        + _conflict_line("quotes", ev.novel_quotes)
        + (f"  -> CONFLICT: x{CONFLICT_FACTOR}" if ev.quote_conflict else ""),
        f"score: {ev.score:.3f} (threshold {threshold:.2f}) -> {verdict}",
    ]
    return "\n".join(lines) + "\n"
