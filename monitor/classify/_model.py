"""Compiled rule objects: what `compile_topics` returns and `_match` evaluates."""

from __future__ import annotations

from dataclasses import dataclass

VIEWS = ("ru", "en", "any")  # which text a query runs on


@dataclass(frozen=True, slots=True)
class CTerm:
    """One word: matches any text word sharing a key (or starting with `prefix`)."""

    label: str
    keys: frozenset[str]
    prefix: str | None = None


@dataclass(frozen=True, slots=True)
class CPhrase:
    """Consecutive words."""

    label: str
    words: tuple[CTerm, ...]


@dataclass(frozen=True, slots=True)
class CAlt:
    """An entity or tag reference: any of its spellings (terms or phrases)."""

    label: str
    alts: tuple[CTerm | CPhrase, ...]
    # Keys of every alternative's first word (None if one is a prefix term): when
    # a text has none of them the whole reference is skipped (speed).
    anchor: frozenset[str] | None = None

    @staticmethod
    def build(label: str, alts: tuple[CTerm | CPhrase, ...]) -> CAlt:
        """A reference with its anchor computed."""
        firsts = [a.words[0] if isinstance(a, CPhrase) else a for a in alts]
        if any(t.prefix is not None for t in firsts):
            return CAlt(label, alts)
        return CAlt(label, alts, frozenset().union(*(t.keys for t in firsts)))


@dataclass(frozen=True, slots=True)
class CAnd:
    children: tuple[CNode, ...]


@dataclass(frozen=True, slots=True)
class COr:
    children: tuple[CNode, ...]


@dataclass(frozen=True, slots=True)
class CNot:
    child: CNode


@dataclass(frozen=True, slots=True)
class CNear:
    left: CNode
    right: CNode
    distance: int


CNode = CTerm | CPhrase | CAlt | CAnd | COr | CNot | CNear


@dataclass(frozen=True, slots=True, kw_only=True)
class Query:
    """A compiled query with the text it runs on and its source, for explanations."""

    view: str  # ru | en | any
    node: CNode
    source: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """A weighted rule: its score is weight x min(occurrences, max_count)."""

    name: str
    weight: float
    queries: tuple[Query, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Category:
    """A topic or a country, with its rules, exclusions and threshold."""

    facet: str  # topic | country
    id: str
    label: str
    threshold: float
    max_count: int
    title_weight: float
    rules: tuple[Rule, ...]
    excludes: tuple[Query, ...] = ()
    note: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Entity:
    """A person, place or organisation with all its spellings."""

    id: str
    kind: str
    names: tuple[str, ...]  # as written in the config
    spellings: tuple[str, ...]  # every spelling matched (generated ones included)
    country: str | None
    tags: tuple[str, ...]
    alt: CAlt


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleSet:
    """Compiled topics.toml.  `categories` keeps file order (the digest uses it)."""

    categories: tuple[Category, ...]
    entities: tuple[Entity, ...] = ()
    default_label: str | None = None  # filed when no topic matched (benchmarks)

    @property
    def topics(self) -> tuple[Category, ...]:
        return tuple(c for c in self.categories if c.facet == "topic")

    @property
    def countries(self) -> tuple[Category, ...]:
        return tuple(c for c in self.categories if c.facet == "country")

    @property
    def topic_order(self) -> tuple[str, ...]:
        """Topic ids in file order: pass to the digest as ``topic_order``."""
        return tuple(c.id for c in self.topics)

    def label_of(self, facet: str, id_: str) -> str:
        """The display label of a stored filing (its id if the rules changed)."""
        cat = self.category(facet, id_)
        return cat.label if cat is not None else id_

    def category(self, facet: str, id_: str) -> Category | None:
        """The category `id_` of `facet`, or None."""
        for c in self.categories:
            if c.facet == facet and c.id == id_:
                return c
        return None
