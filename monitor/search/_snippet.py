"""Views of an article for the exact check, and snippets with highlights."""

from __future__ import annotations

from dataclasses import dataclass

from ..classify import BODY_OFFSET_GAP, CNode, Doc, Hit, build_doc, evaluate
from ..classify._morph import TOKEN_RE
from ._index import alias_keys

SNIPPET_BEFORE = 8  # words before the first hit
SNIPPET_WORDS = 32  # words in a snippet
MARK = "**"  # highlight marker in text, JSON and CSV output


@dataclass(frozen=True, slots=True)
class Snippet:
    """A piece of text cut into (text, highlighted) segments."""

    segments: tuple[tuple[str, bool], ...]

    def marked(self, mark: str = MARK) -> str:
        """The snippet with highlights wrapped in `mark`."""
        return "".join(f"{mark}{t}{mark}" if hit else t for t, hit in self.segments)

    @property
    def text(self) -> str:
        return "".join(t for t, _ in self.segments)


def build_view(title: str, text: str, lang: str, *, aliases: bool) -> Doc:
    """`classify.build_doc`, with Latin-spelling keys on Cyrillic names."""
    return build_doc(title, text, lang, extra_keys=alias_keys if aliases else None)


def view_hits(node: CNode, doc: Doc) -> tuple[set[int], set[int]] | None:
    """Token positions hit in the title and in the body (None: no match)."""
    hits = evaluate(node, doc)
    if hits is None:
        return None
    title: set[int] = set()
    body: set[int] = set()
    for h in hits:
        _add_span(h, doc, title, body)
    return title, body


def _add_span(h: Hit, doc: Doc, title: set[int], body: set[int]) -> None:
    for pos in range(h.start, h.end + 1):
        if pos < doc.title_end:
            title.add(pos)
        elif pos >= doc.title_end + BODY_OFFSET_GAP:
            body.add(pos - doc.title_end - BODY_OFFSET_GAP)


def make_snippet(text: str, hits: set[int]) -> Snippet:
    """About SNIPPET_WORDS words of `text` around its first hit, hits marked."""
    spans = [m.span() for m in TOKEN_RE.finditer(text)]
    if not spans:
        return Snippet(())
    first = min(hits) if hits else 0
    start = max(0, first - SNIPPET_BEFORE) if hits else 0
    end = min(len(spans), start + SNIPPET_WORDS)
    segments: list[tuple[str, bool]] = []
    if start > 0:
        segments.append(("…", False))
    cursor = spans[start][0]
    for i in range(start, end):
        s, e = spans[i]
        if i in hits:
            segments.append((_flat(text[cursor:s]), False))
            segments.append((_flat(text[s:e]), True))
            cursor = e
    segments.append((_flat(text[cursor : spans[end - 1][1]]), False))
    if end < len(spans):
        segments.append(("…", False))
    return Snippet(tuple((t, h) for t, h in segments if t))


def _flat(text: str) -> str:
    """Whitespace runs (newlines included) become one space; nothing else changes."""
    if not text:
        return ""
    inner = " ".join(text.split())
    if not inner:
        return " "
    lead = " " if text[0].isspace() else ""
    trail = " " if text[-1].isspace() else ""
    return f"{lead}{inner}{trail}"
