"""Render one `Digest` as HTML, plain text, Markdown and JSON, and the archive
pages (index.html, atom.xml) from archive entries.

Every article string is untrusted (issue #7 "hostile HTML").  Each format has
its own escaping, applied automatically to *every* value a template prints:

* HTML and Atom: Jinja2 autoescaping (always on for these environments);
* Markdown: a ``finalize`` hook backslash-escapes Markdown and inline HTML
  syntax, so ``<script>`` and ``[x](javascript:...)`` stay text;
* plain text: control characters were removed when the model was built;
* JSON: ``<``, ``>`` and ``&`` are written as ``\\u003c`` etc., so the file is
  inert even when pasted into an HTML page.

Links are emitted only for URLs that passed `safe_url` (absolute http/https).
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from ..usercache import cache_dir
from ..xmlsafe import strip_xml_forbidden_data
from ._model import Digest, DigestStory, TopicSection

logger = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
JSON_FORMAT = "monitor-digest/1"

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#|~&!])")
_MD_LINE_START = re.compile(r"^(\s*)([-+=>]|\d+[.)])")


@dataclass(frozen=True, slots=True, kw_only=True)
class ArchiveStory:
    """A story as the Atom feed shows it (read back from a digest's JSON)."""

    headline: str
    url: str | None
    outlet: str
    lede: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ArchiveEntry:
    """One digest in the archive, as read back from its JSON file.

    Older entries (past `read_archive`'s ``full``) carry each topic's first
    headline only: what index.html shows of them.
    """

    key: str
    slug: str
    label: str
    title: str
    generated_at: datetime
    html_path: str  # relative to the archive root, with "/" separators
    stories: int
    articles: int
    headlines: tuple[tuple[str, tuple[ArchiveStory, ...]], ...]  # (topic, stories)

    @property
    def top_headlines(self) -> tuple[str, ...]:
        """The first headline of each topic, in topic order."""
        return tuple(heads[0].headline for _, heads in self.headlines if heads)

    def atom_id(self, base: str) -> str:
        """A permanent Atom entry id: the public URL, or a URN without one."""
        return f"{base}{self.html_path}" if base else f"urn:monitor:digest:{self.key}"


class MdSafe(str):
    """A string the Markdown environment must not escape again."""

    __slots__ = ()


# ---------------------------------------------------------------------- escaping


def md_escape(value: Any) -> str:
    """Backslash-escape Markdown/HTML syntax in untrusted text (CommonMark)."""
    if value is None:
        return ""
    if isinstance(value, MdSafe):
        return str(value)
    text = _MD_SPECIAL.sub(r"\\\1", str(value))
    return _MD_LINE_START.sub(_escape_marker, text)


def _escape_marker(m: re.Match[str]) -> str:
    """Escape a list/quote marker (a backslash before a digit would be literal)."""
    marker = m.group(2)
    if marker[0].isdigit():
        return m.group(1) + marker[:-1] + "\\" + marker[-1]
    return m.group(1) + "\\" + marker


def md_url(url: str | None) -> MdSafe:
    """A checked URL ready for ``[text](url)``: parentheses etc. percent-encoded."""
    if not url:
        return MdSafe("")
    table = {"(": "%28", ")": "%29", "<": "%3C", ">": "%3E", " ": "%20", "\\": "%5C"}
    return MdSafe("".join(table.get(c, c) for c in url))


def _wrap(text: str, width: int = 78, indent: str = "", hang: str | None = None) -> str:
    return textwrap.fill(
        text,
        width=width,
        initial_indent=indent,
        subsequent_indent=indent if hang is None else hang,
        break_long_words=False,
        break_on_hyphens=False,
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class _CompiledTemplates(jinja2.FileSystemBytecodeCache):
    """Compiled templates kept between processes (issue #19: compiling the five
    templates cost a digest 0.1-0.2 s on each start).

    jinja2 keys each file by the template's name and checks the checksum of its
    source (and its own bytecode format); the folder is per jinja2 version,
    per version of this module (which sets the environments up) and per
    environment kind (escaping differs).  A file that cannot be read is
    compiled again, a folder that cannot be written is not used."""

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except (OSError, ValueError, EOFError, pickle.UnpicklingError) as e:
            logger.info("compiled template unreadable (%s): compiling again", e)
            bucket.reset()

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            Path(self.directory).mkdir(mode=0o700, parents=True, exist_ok=True)
            super().dump_bytecode(bucket)
        except OSError as e:
            logger.debug("compiled template not kept in %s: %s", self.directory, e)


@cache
def _environment_key() -> str:
    """jinja2's version and this module (it sets the environments up)."""
    code = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
    return f"jinja2-{jinja2.__version__}-{code}"


@cache
def _env(kind: str) -> jinja2.Environment:
    loader = jinja2.FileSystemLoader(str(TEMPLATES))
    folder = cache_dir() / f"templates-{_environment_key()}" / kind
    common: dict[str, Any] = {
        "loader": loader,
        "bytecode_cache": _CompiledTemplates(str(folder), "%s.cache"),
        "undefined": jinja2.StrictUndefined,
        "keep_trailing_newline": True,
        "trim_blocks": True,
        "lstrip_blocks": True,
    }
    if kind == "md":
        env = jinja2.Environment(autoescape=False, finalize=md_escape, **common)
        env.filters["url"] = md_url
        env.filters["raw"] = MdSafe
    elif kind == "txt":
        env = jinja2.Environment(autoescape=False, **common)
    else:
        env = jinja2.Environment(autoescape=True, **common)
    env.filters["wrap"] = _wrap
    env.filters["iso"] = _iso
    return env


# ---------------------------------------------------------------------- formats


def _context(digest: Digest) -> dict[str, Any]:
    anchors = {s.label: _anchor(i) for i, s in enumerate(digest.sections)}
    return {
        "d": digest,
        "sections": digest.sections,
        "top": digest.top,
        "other": digest.other if digest.other and digest.other.stories else None,
        "nav_sections": _nav_sections(digest),
        "generated": _iso(digest.generated_at),
        "anchor": _anchor,
        "anchors": anchors,
        "story_anchor": story_anchor,
        "also_text": also_text,
        "meta_text": meta_text,
    }


def _anchor(index: int) -> str:
    return f"t{index + 1}"


def story_anchor(s: DigestStory) -> str:
    """The HTML id of a story: its shown article's id (``a123``)."""
    return f"a{s.article_id}"


def _nav_sections(digest: Digest) -> list[tuple[str, str, int]]:
    """(anchor, heading, count) of every section, in display order."""
    out = [("top", digest.top.label, len(digest.top.stories))] if digest.top else []
    out += [
        (_anchor(i), s.label, len(s.stories) + s.omitted)
        for i, s in enumerate(digest.sections)
    ]
    if digest.other is not None and digest.other.stories:
        o = digest.other
        out.append(("other", o.label, len(o.stories) + o.omitted))
    return out


def also_text(s: DigestStory) -> str:
    """ "Also: Vlast.kz (ru) ×2, Kaktus (ru)" as plain text, each outlet once."""
    parts = [
        f"{c.outlet} ({c.lang})" + (f" ×{c.copies}" if c.copies > 1 else "")
        for c in s.also
    ]
    return ", ".join(parts)


def meta_text(s: DigestStory) -> str:
    """The plain-text metadata line of a story (outlet, time, markers)."""
    parts = [
        f"{s.outlet}, {s.country}" if s.country else s.outlet,
        s.local_time,
        s.lang,
    ]
    if s.outlets > 1:
        parts.append(f"{s.outlets} outlets")
    if s.translation_marker:
        parts.append(f"[{s.translation_marker}]")
    if s.translated_by:
        parts.append(s.translated_by)
    if s.is_teaser:
        parts.append("[teaser only]")
    parts.append(f"id\u00a0{s.article_id}")  # no break inside
    return " | ".join(parts)


def render_html(digest: Digest) -> str:
    """A single self-contained HTML page (inline CSS, no JS, no remote assets)."""
    return _env("html").get_template("digest.html").render(_context(digest))


def render_text(digest: Digest) -> str:
    """Plain text, wrapped at 78 columns (the text/plain part of the mail)."""
    return _env("txt").get_template("digest.txt").render(_context(digest))


def render_markdown(digest: Digest) -> str:
    """CommonMark with every untrusted string escaped."""
    return _env("md").get_template("digest.md").render(_context(digest))


def render_json(digest: Digest) -> str:
    """Stable, sorted JSON (``<>&`` escaped so the file is inert in HTML)."""
    data = strip_xml_forbidden_data(digest_to_dict(digest))  # issue #11.12
    text = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True)
    return _inert_json(text) + "\n"


def _inert_json(text: str) -> str:
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def render_index(
    entries: Sequence[ArchiveEntry], *, title: str, atom: bool = True
) -> str:
    """The static archive index (newest first); links atom.xml when ``atom``."""
    template = _env("html").get_template("index.html")
    return template.render(entries=entries, title=title, atom=atom)


def render_atom(
    entries: Sequence[ArchiveEntry], *, title: str, base_url: str, feed_id: str
) -> str:
    """An Atom 1.0 feed of digests (newest first)."""
    updated = max(
        (e.generated_at for e in entries), default=datetime(1970, 1, 1, tzinfo=UTC)
    )
    base = base_url.rstrip("/") + "/" if base_url else ""
    return (
        _env("html")
        .get_template("atom.xml")
        .render(
            entries=entries, title=title, base=base, feed_id=feed_id, updated=updated
        )
    )


# ---------------------------------------------------------------------- JSON model


def digest_to_dict(digest: Digest) -> dict[str, Any]:
    """The digest as plain JSON-ready data (times in ISO-8601 UTC)."""
    p = digest.period
    return {
        "format": JSON_FORMAT,
        "title": digest.title,
        "period": {
            "key": p.key,
            "slug": p.slug,
            "label": p.label,
            "day": p.day.isoformat() if p.day else None,
            "start": _iso(p.start),
            "end": _iso(p.end),
            "timezone": p.timezone,
            "utc_offset": p.utc_offset,
        },
        "generated_at": _iso(digest.generated_at),
        "empty": digest.is_empty,
        "topics_filter": list(digest.topics),
        "stats": {
            "articles": digest.stats.articles,
            "stories": digest.stats.stories,
            "outlets": digest.stats.outlets,
            "untranslated": digest.stats.untranslated,
            "feeds": digest.stats.feeds,
            "feeds_with_problems": digest.stats.feeds_with_problems,
        },
        "top": _section_dict(digest.top) if digest.top else None,
        "sections": [_section_dict(s) for s in digest.sections],
        "other": _section_dict(digest.other) if digest.other else None,
        "topic_order": list(digest.topic_order),
        "feed_problems": [
            {
                "name": f.name,
                "outlet": f.outlet,
                "country": f.country,
                "kind": f.kind,
                "status": f.status,
                "detail": f.detail,
                "since": f.since,
            }
            for f in digest.feed_problems
        ],
    }


def _section_dict(section: TopicSection) -> dict[str, Any]:
    return {
        "label": section.label,
        "omitted": section.omitted,
        "stories": [_story_dict(s) for s in section.stories],
    }


def _story_dict(s: DigestStory) -> dict[str, Any]:
    return {
        "key": s.story_key,
        "article_id": s.article_id,
        "article_ids": list(s.article_ids),
        "headline": s.headline,
        "original_headline": s.original_headline,
        "outlet": s.outlet,
        "country": s.country,
        "lang": s.lang,
        "time": _iso(s.time),
        "last_time": _iso(s.last_time),
        "local_time": s.local_time,
        "lede": s.lede,
        "url": s.url,
        "outlets": s.outlets,
        "countries": list(s.countries),
        "about": list(s.about),
        "primary_country": s.primary_country,
        "also": [
            {
                "outlet": c.outlet,
                "country": c.country,
                "lang": c.lang,
                "url": c.url,
                "title": c.title,
                "copies": c.copies,
            }
            for c in s.also
        ],
        "topic": s.topic,
        "rule": s.rule,
        "terms": list(s.terms),
        "other_topics": list(s.other_topics),
        "filings": [
            {"topic": f.topic, "score": f.score, "rule": f.rule, "terms": list(f.terms)}
            for f in s.filings
        ],
        "translation_marker": s.translation_marker,
        "translated_by": s.translated_by,
        "teaser": s.is_teaser,
    }
