"""The digest archive on disk (issue #6 "Delivery").

Layout under ``digest.output_dir``::

    index.html                  every digest, newest first (relative links)
    atom.xml                    Atom feed of the latest digests
    2026/11/2026-11-25.html     one file per format and digest
    2026/11/2026-11-25.json     always written: the index and feed are built from it

Every file is written to a temporary name and renamed into place, so a crash
never leaves a half-written digest.  The index and the feed are rebuilt from the
JSON files on disk, so they are always consistent with the archive.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import replace
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
    digest = replace(digest, nav=archive_nav(read_archive(root), digest))
    for fmt in _formats(formats):
        path = folder / f"{digest.period.slug}.{fmt}"
        atomic_write(path, RENDERERS[fmt](digest))
        written.append(path)
    entries = read_archive(root)
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


def read_archive(root: Path) -> list[ArchiveEntry]:
    """Every digest in the archive, newest first (unreadable files are skipped)."""
    entries = []
    for path in sorted(root.glob("[0-9][0-9][0-9][0-9]/[0-9][0-9]/*.json")):
        entry = _entry(root, path)
        if entry is not None:
            entries.append(entry)
    return sorted(entries, key=lambda e: (e.slug, e.key), reverse=True)


def _entry(root: Path, path: Path) -> ArchiveEntry | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != JSON_FORMAT:
            raise ValueError(f"not a {JSON_FORMAT} file")
        html = path.with_suffix(".html")
        page = (
            html if html.is_file() else path
        )  # link the JSON when no HTML was written
        return _entry_from(data, page.relative_to(root).as_posix())
    except (OSError, ValueError, KeyError, TypeError) as e:
        logger.warning("archive entry skipped path=%s error=%s", path, e)
        return None


def _entry_from(data: dict[str, Any], html_path: str) -> ArchiveEntry:
    sections = [
        *([data["top"]] if data.get("top") else []),
        *data["sections"],
        *([data["other"]] if data.get("other") else []),
    ]
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
