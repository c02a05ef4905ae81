"""What an alert says: one JSON document, and the mail and Atom made from it.

The document (`build_payload`) is stored with the delivery when it is first
claimed, so a retry re-sends exactly what was meant to go out.  Webhooks get
it as their body; the mail and the per-watch Atom entry are rendered from it.
"""

from __future__ import annotations

import html
import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from ..models import Story
from ..text import clean_title
from ..xmlsafe import strip_xml_forbidden, strip_xml_forbidden_data
from ._decide import BURST_LEVEL, AlertDecision, Verdict
from ._match import StoryMatch

ATOM_NS = "http://www.w3.org/2005/Atom"
MAX_ARTICLES = 30  # articles listed in one alert


def build_payload(
    match: StoryMatch, decision: AlertDecision, *, now: datetime
) -> dict[str, Any]:
    """The JSON-ready alert: the story, its articles, outlets, languages, the
    matched terms and the links."""
    story = match.story
    rep = story.representative or (story.members[0] if story.members else None)
    articles = [
        {
            "id": m.article_id,
            "title": clean_title(m.title),
            "title_en": clean_title(m.title_en or ""),
            "url": m.url,
            "outlet": m.outlet,
            "lang": m.lang or "",
            "published": _iso(m.published),
            "matched": m.article_id in match.article_ids,
        }
        for m in story.members[:MAX_ARTICLES]
    ]
    doc = {
        "watch": decision.watch,
        "kind": _kind(decision),
        "level": decision.level,
        "outlet_count": decision.outlets,
        "decided_at": _iso(now),
        "matched_terms": list(match.terms),
        "story": {
            "id": story.id,
            "title": clean_title(rep.title) if rep else "",
            "title_en": clean_title(rep.title_en or "") if rep else "",
            "url": rep.url if rep else "",
            "first_published": _iso(story.first_published),
            "last_published": _iso(story.last_published),
            "outlets": list(story.outlets),
            "languages": sorted({m.lang for m in story.members if m.lang}),
            "article_count": len(story.members),
            "articles": articles,
        },
        "links": list(dict.fromkeys(a["url"] for a in articles if a["url"])),
    }
    return strip_xml_forbidden_data(doc)  # type: ignore[no-any-return]


def _kind(decision: AlertDecision) -> str:
    if decision.level == BURST_LEVEL:
        return "burst"
    return "follow_up" if decision.verdict == Verdict.FOLLOW_UP else "alert"


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds")


def encode(payload: Mapping[str, Any]) -> str:
    """The stored (and sent) form of a payload."""
    return json.dumps(payload, ensure_ascii=False, sort_keys=True)


def headline(payload: Mapping[str, Any]) -> str:
    """The story's title, English first when there is one."""
    story = payload.get("story", {})
    return str(
        story.get("title_en") or story.get("title") or f"story {story.get('id')}"
    )


def subject(payload: Mapping[str, Any]) -> str:
    """``[monitor] protests: <title> (3 outlets)``; follow-ups say so."""
    n = payload.get("outlet_count", 0)
    grown = {"follow_up": "grew: ", "burst": "spreading fast: "}.get(
        str(payload.get("kind")), ""
    )
    return f"[monitor] {payload.get('watch')}: {grown}{headline(payload)} ({n} outlets)"


def mail_bodies(payload: Mapping[str, Any]) -> tuple[str, str]:
    """(text/plain, text/html) bodies of an alert mail."""
    story = payload.get("story", {})
    terms = ", ".join(payload.get("matched_terms", [])) or "-"
    lines = [
        subject(payload),
        "",
        f"Outlets ({len(story.get('outlets', []))}): {', '.join(story.get('outlets', []))}",
        f"Languages: {', '.join(story.get('languages', [])) or '-'}",
        f"Matched: {terms}",
        "",
    ]
    items = []
    for a in story.get("articles", []):
        title = a.get("title_en") or a.get("title") or a.get("url")
        lines.append(
            f"- {title} — {a.get('outlet')} ({a.get('lang')})\n  {a.get('url')}"
        )
        items.append(
            f'<li><a href="{html.escape(a.get("url") or "")}">'
            f"{html.escape(str(title))}</a> — {html.escape(str(a.get('outlet')))}"
            f" ({html.escape(str(a.get('lang')))})</li>"
        )
    body = (
        f"<p><b>{html.escape(subject(payload))}</b></p>"
        f"<p>Outlets: {html.escape(', '.join(story.get('outlets', [])))}<br>"
        f"Matched: {html.escape(terms)}</p><ul>{''.join(items)}</ul>"
    )
    return "\n".join(lines) + "\n", body


def atom_document(
    watch: str, entries: Sequence[tuple[datetime, Mapping[str, Any]]]
) -> str:
    """A watch's Atom 1.0 feed: one entry per alert sent, newest first.

    Args:
        watch: the watch name.
        entries: (sent at, payload) pairs, newest first.
    """
    ET.register_namespace("", ATOM_NS)
    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    _sub(feed, "id", f"urn:monitor:watch:{watch}")
    _sub(feed, "title", f"monitor alerts: {watch}")
    updated = entries[0][0] if entries else None
    _sub(feed, "updated", _iso(updated) or "1970-01-01T00:00:00+00:00")
    _sub(_sub(feed, "author"), "name", "monitor")
    for sent_at, payload in entries:
        _entry(feed, sent_at, payload)
    ET.indent(feed)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        + ET.tostring(feed, encoding="unicode")
        + "\n"
    )


def _entry(feed: ET.Element, sent_at: datetime, payload: Mapping[str, Any]) -> None:
    story = payload.get("story", {})
    entry = _sub(feed, "entry")
    key = f"{payload.get('watch')}:{story.get('id')}:{payload.get('level')}"
    _sub(entry, "id", f"urn:monitor:alert:{key}")
    _sub(entry, "title", subject(payload))
    _sub(entry, "updated", _iso(sent_at) or "")
    if story.get("url"):
        link = _sub(entry, "link")
        link.set("rel", "alternate")
        link.set("href", strip_xml_forbidden(str(story["url"])))
    content = _sub(entry, "content", mail_bodies(payload)[1])
    content.set("type", "html")


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    el = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}")
    if text is not None:
        el.text = strip_xml_forbidden(text)
    return el


def story_line(story: Story) -> str:
    """``#12 <title> (3 outlets: A, B, C)`` for `monitor watch test`."""
    rep = story.representative or (story.members[0] if story.members else None)
    title = (rep.title_en or rep.title) if rep else ""
    outlets = story.outlets
    return f"#{story.id} {clean_title(title)} ({len(outlets)} outlets: {', '.join(outlets)})"
