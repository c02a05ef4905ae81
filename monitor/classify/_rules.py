"""The query language: lexer, recursive-descent parser and syntax tree.

Grammar (operators are upper-case; see docs/topics.md)::

    query   := or
    or      := and ("OR" and)*
    and     := unary ("AND" unary)*
    unary   := "NOT" unary | near
    near    := primary ("NEAR" | "NEAR/n" primary)*
    primary := WORD | WORD* | "quoted phrase" | @entity | #tag | "(" query ")"

Two terms side by side without an operator are an error (an analyst who meant
a phrase writes it in quotes).  Every error names its 1-based column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_NEAR = 10
MAX_NEAR = 200
OPERATORS = ("AND", "OR", "NOT")

_LEX_RE = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<phrase>"[^"]*"?)
  | (?P<near>NEAR(?:/(?P<n>\S*?))?(?=[\s()"]|$))
  | (?P<ref>[@\#][\w.-]*)
  | (?P<word>[^\s()"]+)
    """,
    re.VERBOSE,
)
_WORD_RE = re.compile(r"^[^\W_]+(?:[-'’][^\W_]+)*\*?$")


class QuerySyntaxError(ValueError):
    """A query does not parse; `column` is 1-based."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(f"column {column}: {message}")
        self.column = column
        self.reason = message

    def located(self, source: str) -> str:
        """The message with line and column inside `source`, quoting that line."""
        before = source[: self.column - 1]
        line_no = before.count("\n") + 1
        column = self.column - (before.rfind("\n") + 1)
        line = source.splitlines()[line_no - 1] if source.strip() else source
        where = (
            f"line {line_no}, column {column}" if "\n" in source else f"column {column}"
        )
        return f"{where}: {self.reason} in {line.strip()!r}"


@dataclass(frozen=True, slots=True)
class Word:
    """A single term; `prefix` is True for ``term*``."""

    text: str
    column: int
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class Phrase:
    """Consecutive words, each matched by its lemma."""

    text: str
    words: tuple[Word, ...]
    column: int


@dataclass(frozen=True, slots=True)
class Ref:
    """``@entity`` or ``#tag``."""

    kind: str  # "@" or "#"
    name: str
    column: int


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


@dataclass(frozen=True, slots=True)
class Near:
    left: Node
    right: Node
    distance: int


Node = Word | Phrase | Ref | And | Or | Not | Near


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str
    text: str
    column: int
    n: str | None = None


def _lex(source: str) -> list[_Tok]:
    toks: list[_Tok] = []
    for m in _LEX_RE.finditer(source):
        kind = m.lastgroup or ""
        if kind == "n":  # inner group of "near"
            kind = "near"
        if kind == "space":
            continue
        text = m.group(0)
        if kind == "word" and text in OPERATORS:
            kind = text
        toks.append(_Tok(kind, text, m.start() + 1, m.group("n")))
    return toks


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.toks = _lex(source)
        self.i = 0

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def end_column(self) -> int:
        return len(self.source) + 1

    def fail(self, message: str, tok: _Tok | None) -> QuerySyntaxError:
        return QuerySyntaxError(message, tok.column if tok else self.end_column())

    def parse(self) -> Node:
        if not self.toks:
            raise QuerySyntaxError("empty query", 1)
        node = self.parse_or()
        tok = self.peek()
        if tok is not None:
            raise self._trailing(tok)
        return node

    def _trailing(self, tok: _Tok) -> QuerySyntaxError:
        if tok.kind == "rparen":
            return self.fail("unbalanced ')'", tok)
        hint = ""
        if tok.text.lower() in ("and", "or", "not", "near"):
            hint = f" (operators are upper-case: {tok.text.upper()})"
        return self.fail(
            f"missing operator before {tok.text!r}: use AND, OR, NEAR/n, "
            f'or write a "quoted phrase"{hint}',
            tok,
        )

    def parse_or(self) -> Node:
        children = [self.parse_and()]
        while (tok := self.peek()) is not None and tok.kind == "OR":
            self.i += 1
            children.append(self.parse_and())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def parse_and(self) -> Node:
        children = [self.parse_unary()]
        while (tok := self.peek()) is not None and tok.kind == "AND":
            self.i += 1
            children.append(self.parse_unary())
        return children[0] if len(children) == 1 else And(tuple(children))

    def parse_unary(self) -> Node:
        tok = self.peek()
        if tok is not None and tok.kind == "NOT":
            self.i += 1
            return Not(self.parse_unary())
        return self.parse_near()

    def parse_near(self) -> Node:
        left = self.parse_primary()
        while (tok := self.peek()) is not None and tok.kind == "near":
            self.i += 1
            distance = self._near_distance(tok)
            right = self.parse_primary()
            for side in (left, right):
                _check_near_operand(side, tok)
            left = Near(left, right, distance)
        return left

    def _near_distance(self, tok: _Tok) -> int:
        if tok.n is None:
            return DEFAULT_NEAR
        if not tok.n.isdigit() or not 1 <= int(tok.n) <= MAX_NEAR:
            raise self.fail(
                f"NEAR/n needs a whole number 1..{MAX_NEAR}, got {tok.n!r}", tok
            )
        return int(tok.n)

    def parse_primary(self) -> Node:
        tok = self.peek()
        if tok is None:
            raise self.fail("query ends where a term was expected", None)
        self.i += 1
        if tok.kind == "lparen":
            node = self.parse_or()
            close = self.peek()
            if close is None or close.kind != "rparen":
                raise self.fail(f"'(' at column {tok.column} is never closed", close)
            self.i += 1
            return node
        if tok.kind == "phrase":
            return self._phrase(tok)
        if tok.kind == "ref":
            return self._ref(tok)
        if tok.kind == "word":
            return self._word(tok.text, tok.column, tok)
        raise self.fail(f"expected a term, found {tok.text!r}", tok)

    def _word(self, text: str, column: int, tok: _Tok) -> Word:
        if not _WORD_RE.match(text):
            raise self.fail(
                f"{text!r} is not a word (letters, digits, inner - or ')", tok
            )
        if text.endswith("*"):
            if len(text) < 4:
                raise self.fail(
                    f"prefix {text!r} is too short (3 letters at least)", tok
                )
            return Word(text[:-1], column, prefix=True)
        return Word(text, column)

    def _phrase(self, tok: _Tok) -> Phrase:
        if len(tok.text) < 2 or not tok.text.endswith('"'):
            raise self.fail("unterminated quoted phrase", tok)
        inner = tok.text[1:-1]
        words: list[Word] = []
        for m in re.finditer(r"\S+", inner):
            words.append(self._word(m.group(0), tok.column + 1 + m.start(), tok))
        if not words:
            raise self.fail("empty quoted phrase", tok)
        return Phrase(inner, tuple(words), tok.column)

    def _ref(self, tok: _Tok) -> Ref:
        name = tok.text[1:]
        if not name:
            raise self.fail(f"{tok.text!r} needs a name after {tok.text[0]}", tok)
        return Ref(tok.text[0], name, tok.column)


def _check_near_operand(node: Node, tok: _Tok) -> None:
    if isinstance(node, Word | Phrase | Ref):
        return
    if isinstance(node, Or) and all(
        isinstance(c, Word | Phrase | Ref) for c in node.children
    ):
        return
    raise QuerySyntaxError(
        "NEAR joins terms, phrases, @entities or (a OR b) groups, not AND/NOT/NEAR",
        tok.column,
    )


def is_positive(node: Node) -> bool:
    """False for queries that could match a text by absence alone (``NOT x``)."""
    if isinstance(node, Not):
        return False
    if isinstance(node, And):
        return any(is_positive(c) for c in node.children)
    if isinstance(node, Or):
        return all(is_positive(c) for c in node.children)
    return True


def parse_query(source: str) -> Node:
    """Parse one query string.

    Args:
        source: the query, e.g. ``протест OR "массовые беспорядки" NEAR/5 @almaty``.

    Returns:
        The syntax tree.

    Raises:
        QuerySyntaxError: with the 1-based column of the problem.
    """
    node = _Parser(source).parse()
    if not is_positive(node):
        raise QuerySyntaxError("a query cannot consist only of NOT terms", 1)
    return node
