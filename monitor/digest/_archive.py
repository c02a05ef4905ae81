"""The digest archive on disk (issue #6 "Delivery").

Layout under ``digest.output_dir``::

    index.html                  every digest, newest first (relative links)
    atom.xml                    Atom feed of the latest digests
    2026/11/2026-11-25.html     one file per format and digest
    2026/11/2026-11-25.json     always written: the index and feed are built from it
    archive-index.json          what index.html needs of each JSON file (a cache)

Every file is written to a temporary name and renamed into place, so a crash
never leaves a half-written digest.  The index and the feed are rebuilt from the
JSON files on disk, so they are always consistent with the archive.

Reading every JSON file on each write grew with days x digest size (issue #19),
so ``archive-index.json`` keeps, per JSON file, its signature (inode, size,
mtime, ctime, whether its HTML exists) and the part of it the index and feed
use.  A write lists the folders (stat only) and parses just the files whose
signature changed: the one it wrote.  The cache is never trusted over the disk:
a missing, unreadable or stale cache (a kill -9 between a digest and the cache
update) only costs a re-read, and ``read_archive(root, rebuild=True)`` ignores it.
It holds headlines and links as they were after the checks a JSON file gets:
every headline for the newest `FULL_ENTRIES` (or ``atom_entries``) days, and
each topic's first headline for older ones (all index.html shows), so the
cache grows by about 1 KB a day, not by a digest's size.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from ..models import stable_hash
from ..xmlsafe import strip_xml_forbidden
from ._model import Digest, DigestNav, clean_text, safe_url
from ._render import (
    JSON_FORMAT,
    ArchiveEntry,
    ArchiveStory,
    digest_to_dict,
    render_atom,
    render_html,
    render_index,
    render_json,
    render_markdown,
    render_text,
)

logger = logging.getLogger(__name__)

ATOM_STORIES = 20  # stories per topic in an Atom entry
FULL_ENTRIES = 30  # newest entries read with every headline (the Atom default)
INDEX_FILE = "archive-index.json"
INDEX_FORMAT = "monitor-archive-index/1"
_STORY_FIELDS = ("headline", "url", "outlet", "lede")  # what `_story` reads

RENDERERS = {
    "html": render_html,
    "txt": render_text,
    "md": render_markdown,
    "json": render_json,
}


def digest_folder(root: Path, digest: Digest) -> Path:
    """``root/YYYY/MM`` for the digest's (local) date."""
    slug = digest.period.slug
    return root / slug[:4] / slug[5:7]


def content_hash(digest: Digest) -> str:
    """A hash of the digest's content, leaving out the generated-at time."""
    data = digest_to_dict(digest)
    data.pop("generated_at")
    return stable_hash(json.dumps(data, ensure_ascii=False, sort_keys=True))


def write_archive_files(
    digest: Digest,
    root: Path,
    *,
    formats: tuple[str, ...],
    title: str,
    base_url: str = "",
    atom_entries: int = 30,
) -> list[Path]:
    """Write the digest in ``formats`` (+ JSON), then rebuild index and feed.

    Returns:
        Every path written, digest files first.
    """
    folder = digest_folder(root, digest)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    digest = replace(digest, nav=archive_nav(read_archive(root, full=0), digest))
    for fmt in _formats(formats):
        path = folder / f"{digest.period.slug}.{fmt}"
        atomic_write(path, RENDERERS[fmt](digest))
        written.append(path)
    entries = read_archive(root, full=atom_entries)
    atomic_write(
        root / "index.html", render_index(entries, title=title, atom="atom" in formats)
    )
    written.append(root / "index.html")
    if "atom" in formats:
        feed_id = (
            f"{base_url.rstrip('/')}/atom.xml" if base_url else "urn:monitor:digests"
        )
        atom = render_atom(
            entries[:atom_entries], title=title, base_url=base_url, feed_id=feed_id
        )
        atomic_write(root / "atom.xml", atom)
        written.append(root / "atom.xml")
    logger.info(
        "digest written key=%s files=%d dir=%s", digest.period.key, len(written), folder
    )
    return written


def archive_nav(entries: Sequence[ArchiveEntry], digest: Digest) -> DigestNav:
    """Links from this digest's page to the neighbouring days in the archive.

    Only daily digests are neighbours; links are relative to the page's folder
    (``YYYY/MM/``).  A page written before its next day existed has no "next"
    link; the archive index always lists every day.
    """
    days = sorted(
        {
            e.slug: e
            for e in entries
            if _is_day(e.slug) and e.html_path.endswith(".html")
        }.values(),
        key=lambda e: e.slug,
    )
    slug = digest.period.slug
    before = [e for e in days if e.slug < slug]
    after = [e for e in days if e.slug > slug]
    prev = before[-1] if before and digest.period.day is not None else None
    nxt = after[0] if after and digest.period.day is not None else None
    return DigestNav(
        archive="../../index.html",
        previous=f"../../{prev.html_path}" if prev else None,
        previous_label=prev.slug if prev else "",
        next=f"../../{nxt.html_path}" if nxt else None,
        next_label=nxt.slug if nxt else "",
    )


def _is_day(slug: str) -> bool:
    return len(slug) == 10 and slug[4] == "-" and slug[7] == "-"


def _formats(formats: tuple[str, ...]) -> list[str]:
    wanted = [f for f in RENDERERS if f in formats]
    return wanted if "json" in wanted else [*wanted, "json"]


def atomic_write(path: Path, text: str) -> None:
    """Write UTF-8 text to ``path`` via a temporary file and a rename.

    Characters XML 1.0 forbids are dropped here, for every format (issue #11.12).
    """
    text = strip_xml_forbidden(text)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_archive(
    root: Path, *, full: int = FULL_ENTRIES, rebuild: bool = False
) -> list[ArchiveEntry]:
    """Every digest in the archive, newest first (unreadable files are skipped).

    Args:
        root: the archive folder.
        full: the newest this many entries carry every topic's headlines (what
            Atom shows); older ones carry each topic's first headline only (what
            index.html shows), so a year of archive stays cheap to read.
        rebuild: parse every JSON file again, ignoring ``archive-index.json``
            (which is then rewritten).
    """
    cached = {} if rebuild else _load_index(root)
    items = []
    for path in sorted(root.glob("[0-9][0-9][0-9][0-9]/[0-9][0-9]/*.json")):
        item = _indexed_entry(root, path, cached)
        if item is not None:
            items.append(item)
    items.sort(key=lambda i: (i.entry.slug, i.entry.key), reverse=True)
    keep = max(full, FULL_ENTRIES)  # what the cache keeps in full
    fresh: dict[str, dict[str, Any]] = {}
    entries = []
    for rank, item in enumerate(items):
        if rank < keep and not item.full:
            item = _parse(item.rel, item.path, item.sig, item.page) or item
        light = _light(item.entry)
        keep_full = rank < keep and item.full
        record = item.record
        if record is None or record["full"] is not keep_full:  # new or changed kind
            summary = _checked_summary(item.entry if keep_full else light)
            record = {"sig": item.sig, "full": keep_full, "summary": summary}
        fresh[item.rel] = record
        entries.append(item.entry if rank < full and item.full else light)
    if fresh != cached:
        _save_index(root, fresh)
    return entries


@dataclass(frozen=True, slots=True)
class _Item:
    rel: str  # the JSON file, relative to the root
    path: Path
    sig: list[int]
    page: str
    entry: ArchiveEntry
    full: bool  # every headline (False: first per topic)
    record: dict[str, Any] | None = None  # the cache's record it came from


def _indexed_entry(root: Path, path: Path, cached: dict[str, Any]) -> _Item | None:
    """The entry for one JSON file: from the cache when its signature matches."""
    try:
        html = path.with_suffix(".html")
        sig = _signature(path, html)
    except OSError as e:  # removed between the listing and now
        logger.warning("archive entry skipped path=%s error=%s", path, e)
        return None
    rel = path.relative_to(root).as_posix()
    page = rel[: -len(".json")] + ".html" if sig[-1] else rel
    hit = cached.get(rel)
    if isinstance(hit, dict) and hit.get("sig") == sig:
        try:
            entry = _cached_entry(hit["summary"], page)
            return _Item(rel, path, sig, page, entry, hit["full"] is True, hit)
        except (ValueError, KeyError, TypeError, AttributeError):
            pass  # damaged: parse the file again
    return _parse(rel, path, sig, page)


def _parse(rel: str, path: Path, sig: list[int], page: str) -> _Item | None:
    """The entry with every headline, read (and checked) from its JSON file."""
    data = _read_digest_json(path)
    if data is None:
        return None
    try:
        entry = _entry_from(_summary(data), page)
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        logger.warning("archive entry skipped path=%s error=%s", path, e)
        return None
    return _Item(rel, path, sig, page, entry, full=True)


def _light(entry: ArchiveEntry) -> ArchiveEntry:
    """Only each topic's first headline: what index.html shows of older days."""
    return replace(
        entry,
        headlines=tuple(
            (label, tuple(ArchiveStory(headline=s.headline, url=None, outlet="",
                                       lede="") for s in stories[:1]))
            for label, stories in entry.headlines
        ),
    )  # fmt: skip


def _signature(path: Path, html: Path) -> list[int]:
    """What changes when a file is rewritten (a rename gives a new inode)."""
    st = path.stat()
    return [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, int(html.is_file())]


def _read_digest_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("format") != JSON_FORMAT:
            raise ValueError(f"not a {JSON_FORMAT} file")
        return data
    except (OSError, ValueError) as e:
        logger.warning("archive entry skipped path=%s error=%s", path, e)
        return None


def _summary(data: dict[str, Any]) -> dict[str, Any]:
    """The part of a digest's JSON that `_entry_from` reads: what the cache keeps."""
    try:
        sections = [
            *([data["top"]] if data.get("top") else []),
            *data["sections"],
            *([data["other"]] if data.get("other") else []),
        ]
        return {
            "period": data["period"],
            "title": data["title"],
            "generated_at": data["generated_at"],
            "stats": data["stats"],
            "sections": [
                {"label": s["label"], "stories": _story_summaries(s["stories"])}
                for s in sections
            ],
        }
    except (KeyError, TypeError):
        return data  # `_entry_from` names what is wrong with it


def _checked_summary(entry: ArchiveEntry) -> dict[str, Any]:
    """An entry's fields after `_entry_from` checked them: what the cache keeps."""
    return {
        "period": {"key": entry.key, "slug": entry.slug, "label": entry.label},
        "title": entry.title,
        "generated_at": entry.generated_at.isoformat(),
        "stats": {"stories": entry.stories, "articles": entry.articles},
        "sections": [
            {"label": label, "stories": [_story_fields(st) for st in stories]}
            for label, stories in entry.headlines
        ],
    }


def _story_fields(story: ArchiveStory) -> dict[str, Any]:
    return {
        "headline": story.headline,
        "url": story.url,
        "outlet": story.outlet,
        "lede": story.lede,
    }


def _cached_entry(data: dict[str, Any], html_path: str) -> ArchiveEntry:
    """An entry from the cache, whose text and links were checked when the JSON
    file was read: only their types are checked again (re-cleaning every
    headline of a year on each write is what the cache saves, issue #19).  The
    cache sits next to index.html and is written by the same process, so it is
    trusted as much as index.html itself."""
    period = data["period"]
    return ArchiveEntry(
        key=_str(period["key"]),
        slug=_str(period["slug"]),
        label=_str(period["label"]),
        title=_str(data["title"]),
        generated_at=datetime.fromisoformat(_str(data["generated_at"])),
        html_path=html_path,
        stories=int(data["stats"]["stories"]),
        articles=int(data["stats"]["articles"]),
        headlines=tuple(
            (_str(s["label"]), tuple(_cached_story(st) for st in s["stories"]))
            for s in data["sections"]
        ),
    )


def _cached_story(data: dict[str, Any]) -> ArchiveStory:
    url = data["url"]
    if url is not None and not isinstance(url, str):
        raise TypeError("url")
    return ArchiveStory(
        headline=_str(data["headline"]),
        url=url,
        outlet=_str(data["outlet"]),
        lede=_str(data["lede"]),
    )


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {type(value).__name__}")
    return value


def _story_summaries(stories: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {k: st[k] for k in _STORY_FIELDS if k in st} for st in stories[:ATOM_STORIES]
    ]


def _load_index(root: Path) -> dict[str, Any]:
    """The cached summaries, or {} when there is no usable cache."""
    try:
        data = json.loads((root / INDEX_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        logger.warning("archive index rebuilt path=%s error=%s", root / INDEX_FILE, e)
        return {}
    if not isinstance(data, dict) or data.get("format") != INDEX_FORMAT:
        return {}
    files = data.get("files")
    return files if isinstance(files, dict) else {}


def _save_index(root: Path, files: dict[str, dict[str, Any]]) -> None:
    text = json.dumps({"format": INDEX_FORMAT, "files": files}, ensure_ascii=False)
    try:
        atomic_write(root / INDEX_FILE, text)
    except OSError as e:  # a read-only archive still renders: next time re-reads
        logger.warning("archive index not saved path=%s error=%s", root, e)


def _entry_from(data: dict[str, Any], html_path: str) -> ArchiveEntry:
    """An entry from a `_summary` (sections already in display order)."""
    sections = data["sections"]
    return ArchiveEntry(
        key=str(data["period"]["key"]),
        slug=str(data["period"]["slug"]),
        label=str(data["period"]["label"]),
        title=str(data["title"]),
        generated_at=datetime.fromisoformat(
            str(data["generated_at"]).replace("Z", "+00:00")
        ),
        html_path=html_path,
        stories=int(data["stats"]["stories"]),
        articles=int(data["stats"]["articles"]),
        headlines=tuple(
            (str(s["label"]), tuple(_story(st) for st in s["stories"][:ATOM_STORIES]))
            for s in sections
        ),
    )


def _story(data: dict[str, Any]) -> ArchiveStory:
    # The JSON file is re-read from disk: check everything again.
    return ArchiveStory(
        headline=clean_text(str(data["headline"])),
        url=safe_url(data.get("url")),
        outlet=clean_text(str(data.get("outlet", ""))),
        lede=clean_text(str(data.get("lede", ""))),
    )
