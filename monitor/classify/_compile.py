"""Compile the raw topics TOML into a `RuleSet`, collecting every error.

Every message names where the problem is: ``topic[2] 'unrest' rule[1]
'crowds' ru: column 14: ...``.  Nothing stops at the first error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..exceptions import RuleError
from ._aliases import is_latin, latin_variants
from ._model import (
    VIEWS,
    CAlt,
    CAnd,
    Category,
    CNear,
    CNode,
    CNot,
    COr,
    CPhrase,
    CTerm,
    Entity,
    Query,
    Rule,
    RuleSet,
)
from ._morph import CYRILLIC_RE, fold, name_keys, term_keys
from ._rules import (
    And,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    QuerySyntaxError,
    Ref,
    Word,
    parse_query,
)

TOP_KEYS = ("settings", "entity", "topic", "country")
SETTINGS_KEYS = ("title_weight", "max_count", "default_label")
ENTITY_KEYS = ("id", "kind", "names", "spellings", "country", "tags", "note")
CATEGORY_KEYS = (
    "id",
    "label",
    "threshold",
    "max_count",
    "title_weight",
    "rule",
    "exclude",
    "note",
)
COUNTRY_KEYS = (*CATEGORY_KEYS, "entity_weight")
RULE_KEYS = ("name", "weight", *VIEWS)
ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
DEFAULT_TITLE_WEIGHT = 2.0
DEFAULT_MAX_COUNT = 3


class _Ctx:
    """Error collector plus the entity table used to resolve references."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.entities: dict[str, Entity] = {}
        self.tags: dict[str, list[Entity]] = {}

    def error(self, where: str, message: str) -> None:
        self.errors.append(f"{where}: {message}")

    def add_entity(self, entity: Entity) -> None:
        """Make `entity` resolvable as ``@id`` and as a member of its ``#tag``s."""
        self.entities[entity.id] = entity
        for tag in {*entity.tags, *([entity.country] if entity.country else [])}:
            self.tags.setdefault(tag, []).append(entity)


class QueryError(RuleError):
    """One query in the rule language does not compile; `errors` says why."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = tuple(errors)
        super().__init__("; ".join(self.errors))


def compile_query(
    source: str, entities: Sequence[Entity] = (), *, where: str = "query"
) -> CNode:
    """Compile one query of the rule language on its own (``monitor search``).

    Args:
        source: e.g. ``Кулибаев AND (банк OR "Халык банк") NOT спорт``.
        entities: the `RuleSet.entities` that ``@entity`` and ``#tag`` name.
        where: how error messages name the query.

    Raises:
        QueryError: with the column of a syntax error, or the unknown names.
    """
    try:
        tree = parse_query(source)
    except QuerySyntaxError as e:
        raise QueryError([e.located(source)]) from e
    ctx = _Ctx()
    for entity in entities:
        ctx.add_entity(entity)
    node = _lower(ctx, tree, where)
    if ctx.errors:
        raise QueryError(ctx.errors)
    return node


def compile_ruleset(raw: Mapping[str, Any]) -> tuple[RuleSet, list[str]]:
    """Compile `raw`; return the rule set and every error found (empty when valid)."""
    ctx = _Ctx()
    _check_keys(ctx, raw, TOP_KEYS, "(top level)")
    settings = _table(ctx, raw.get("settings", {}), "settings")
    _check_keys(ctx, settings, SETTINGS_KEYS, "settings")
    defaults = {
        "title_weight": _number(
            ctx, settings, "title_weight", "settings", DEFAULT_TITLE_WEIGHT
        ),
        "max_count": int(
            _number(ctx, settings, "max_count", "settings", DEFAULT_MAX_COUNT)
        ),
    }
    default_label = settings.get("default_label")
    if default_label is not None and not isinstance(default_label, str):
        ctx.error("settings.default_label", "must be a string")
        default_label = None
    entities = _compile_entities(ctx, _array(ctx, raw, "entity"))
    categories: list[Category] = []
    for facet in ("topic", "country"):
        categories.extend(
            _compile_categories(ctx, facet, _array(ctx, raw, facet), defaults)
        )
    _check_entity_countries(ctx, entities, categories)
    if not any(c.facet == "topic" for c in categories) and not ctx.errors:
        ctx.error("(top level)", "no [[topic]] tables: nothing to file articles under")
    return (
        RuleSet(
            categories=tuple(categories), entities=entities, default_label=default_label
        ),
        ctx.errors,
    )


# ---------------------------------------------------------------- raw-value helpers


def _check_keys(
    ctx: _Ctx, table: Mapping[str, Any], allowed: Sequence[str], where: str
) -> None:
    for key in table:
        if key not in allowed:
            ctx.error(where, f"unknown key {key!r} (allowed: {', '.join(allowed)})")


def _table(ctx: _Ctx, value: Any, where: str) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        return value
    ctx.error(where, f"must be a table, got {type(value).__name__}")
    return {}


def _array(ctx: _Ctx, raw: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = raw.get(key, [])
    if not isinstance(value, list):
        ctx.error(key, f"must be an array of tables ([[{key}]])")
        return []
    return [_table(ctx, v, f"{key}[{i}]") for i, v in enumerate(value)]


def _number(
    ctx: _Ctx, table: Mapping[str, Any], key: str, where: str, default: float
) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        ctx.error(f"{where}.{key}", f"must be a number, got {value!r}")
        return default
    return float(value)


def _strings(
    ctx: _Ctx, table: Mapping[str, Any], key: str, where: str
) -> tuple[str, ...]:
    value = table.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(
        isinstance(v, str) and v.strip() for v in value
    ):
        ctx.error(f"{where}.{key}", "must be a list of non-empty strings")
        return ()
    return tuple(v.strip() for v in value)


def _ident(
    ctx: _Ctx, table: Mapping[str, Any], where: str, seen: set[str]
) -> str | None:
    value = table.get("id")
    if not isinstance(value, str) or not ID_RE.match(value):
        ctx.error(
            f"{where}.id",
            f"needs an id of lower-case letters, digits, _ . - (got {value!r})",
        )
        return None
    if value in seen:
        ctx.error(f"{where}.id", f"duplicate id {value!r}")
        return None
    seen.add(value)
    return value


# ---------------------------------------------------------------- entities


def _compile_entities(ctx: _Ctx, tables: list[Mapping[str, Any]]) -> tuple[Entity, ...]:
    seen: set[str] = set()
    out: list[Entity] = []
    for i, table in enumerate(tables):
        where = f"entity[{i}]"
        _check_keys(ctx, table, ENTITY_KEYS, where)
        ident = _ident(ctx, table, where, seen)
        names = _strings(ctx, table, "names", where)
        if ident is None:
            continue
        where = f"entity[{i}] {ident!r}"
        if not names:
            ctx.error(f"{where}.names", "needs at least one name")
            continue
        spellings = _spellings(names, _strings(ctx, table, "spellings", where))
        country = table.get("country")
        if country is not None and not isinstance(country, str):
            ctx.error(f"{where}.country", "must be a country id string")
            country = None
        kind = table.get("kind", "")
        entity = Entity(
            id=ident,
            kind=kind if isinstance(kind, str) else "",
            names=names,
            spellings=spellings,
            country=country,
            tags=_strings(ctx, table, "tags", where),
            alt=CAlt.build(f"@{ident}", tuple(_spelling_node(s) for s in spellings)),
        )
        out.append(entity)
        ctx.add_entity(entity)
    return tuple(out)


def _spellings(names: tuple[str, ...], extra: tuple[str, ...]) -> tuple[str, ...]:
    out: list[str] = []
    for name in (*names, *extra):
        out.append(name)
        if CYRILLIC_RE.search(name.lower()) and name not in extra:
            out.extend(latin_variants(name))
    return tuple(dict.fromkeys(out))


def _spelling_node(spelling: str) -> CTerm | CPhrase:
    words = [w for w in re.split(r"\s+", spelling) if w]
    terms = tuple(CTerm(w, name_keys(w)) for w in words)
    return terms[0] if len(terms) == 1 else CPhrase(spelling, terms)


def _check_entity_countries(
    ctx: _Ctx, entities: tuple[Entity, ...], categories: list[Category]
) -> None:
    known = {c.id for c in categories if c.facet == "country"}
    for e in entities:
        if e.country is not None and e.country not in known:
            ctx.error(f"entity {e.id!r}.country", f"unknown country {e.country!r}")


# ---------------------------------------------------------------- topics / countries


def _compile_categories(
    ctx: _Ctx,
    facet: str,
    tables: list[Mapping[str, Any]],
    defaults: Mapping[str, float],
) -> list[Category]:
    seen: set[str] = set()
    out: list[Category] = []
    for i, table in enumerate(tables):
        where = f"{facet}[{i}]"
        _check_keys(
            ctx, table, COUNTRY_KEYS if facet == "country" else CATEGORY_KEYS, where
        )
        ident = _ident(ctx, table, where, seen)
        # A bad id still gets its rules checked, so every error is reported at once.
        name = f"{where} {ident!r}" if ident else where
        category = _compile_category(ctx, facet, ident or "?", table, name, defaults)
        if category is not None and ident is not None:
            out.append(category)
    return out


def _compile_category(
    ctx: _Ctx,
    facet: str,
    ident: str,
    table: Mapping[str, Any],
    where: str,
    defaults: Mapping[str, float],
) -> Category | None:
    label = table.get("label", ident)
    if not isinstance(label, str):
        ctx.error(f"{where}.label", "must be a string")
        label = ident
    threshold = _number(ctx, table, "threshold", where, 1.0)
    if threshold <= 0:
        ctx.error(f"{where}.threshold", f"must be > 0, got {threshold}")
    max_count = int(_number(ctx, table, "max_count", where, defaults["max_count"]))
    if max_count < 1:
        ctx.error(f"{where}.max_count", f"must be >= 1, got {max_count}")
    rules = _compile_rules(ctx, table, where)
    excludes = _compile_excludes(ctx, table.get("exclude"), f"{where}.exclude")
    if facet == "country":
        rules += _entity_rule(
            ctx, ident, _number(ctx, table, "entity_weight", where, 1.0)
        )
    if not rules:
        if not table.get("rule"):  # rules that failed to compile were reported already
            ctx.error(where, "has no rules ([[...rule]] with ru/en/any queries)")
        return None
    return Category(
        facet=facet,
        id=ident,
        label=label,
        threshold=threshold,
        max_count=max_count,
        title_weight=_number(
            ctx, table, "title_weight", where, defaults["title_weight"]
        ),
        rules=tuple(rules),
        excludes=excludes,
        note=str(table.get("note", "")),
    )


def _compile_rules(ctx: _Ctx, table: Mapping[str, Any], where: str) -> list[Rule]:
    raw_rules = table.get("rule", [])
    if not isinstance(raw_rules, list):
        ctx.error(f"{where}.rule", "must be an array of tables ([[topic.rule]])")
        return []
    rules: list[Rule] = []
    for j, raw in enumerate(raw_rules):
        raw = _table(ctx, raw, f"{where} rule[{j}]")
        name = raw.get("name", f"rule{j + 1}")
        rwhere = f"{where} rule[{j}] {name!r}"
        _check_keys(ctx, raw, RULE_KEYS, rwhere)
        weight = _number(ctx, raw, "weight", rwhere, 1.0)
        queries = _compile_views(ctx, raw, rwhere)
        if not queries and not any(v in raw for v in VIEWS):
            ctx.error(rwhere, "needs at least one of ru, en, any")
        if queries:
            rules.append(Rule(name=str(name), weight=weight, queries=queries))
    return rules


def _compile_excludes(ctx: _Ctx, raw: Any, where: str) -> tuple[Query, ...]:
    if raw is None:
        return ()
    table = _table(ctx, raw, where)
    _check_keys(ctx, table, VIEWS, where)
    return _compile_views(ctx, table, where)


def _compile_views(
    ctx: _Ctx, table: Mapping[str, Any], where: str
) -> tuple[Query, ...]:
    out: list[Query] = []
    for view in VIEWS:
        source = table.get(view)
        if source is None:
            continue
        if isinstance(source, list) and all(isinstance(s, str) for s in source):
            source = " OR ".join(
                f"({s})" for s in source
            )  # a list is a list of alternatives
        if not isinstance(source, str):
            ctx.error(f"{where} {view}", "must be a query string (or a list of them)")
            continue
        node = _compile_query(ctx, source, f"{where} {view}")
        if node is not None:
            out.append(Query(view=view, node=node, source=source))
    return tuple(out)


def _compile_query(ctx: _Ctx, source: str, where: str) -> CNode | None:
    try:
        tree = parse_query(source)
    except QuerySyntaxError as e:
        ctx.error(where, e.located(source))
        return None
    before = len(ctx.errors)
    node = _lower(ctx, tree, where)
    return node if len(ctx.errors) == before else None


def _lower(ctx: _Ctx, node: Node, where: str) -> CNode:
    """Turn a syntax tree into a compiled tree (lemmatised terms, resolved refs)."""
    if isinstance(node, Word):
        return _term(node)
    if isinstance(node, Phrase):
        return CPhrase(f'"{node.text}"', tuple(_term(w) for w in node.words))
    if isinstance(node, Ref):
        return _ref(ctx, node, where)
    if isinstance(node, And):
        return CAnd(tuple(_lower(ctx, c, where) for c in node.children))
    if isinstance(node, Or):
        return COr(tuple(_lower(ctx, c, where) for c in node.children))
    if isinstance(node, Not):
        return CNot(_lower(ctx, node.child, where))
    assert isinstance(node, Near)
    return CNear(
        _lower(ctx, node.left, where), _lower(ctx, node.right, where), node.distance
    )


def _term(word: Word) -> CTerm:
    if word.prefix:
        return CTerm(word.text + "*", frozenset(), prefix=fold(word.text))
    return CTerm(word.text, term_keys(word.text))


def _ref(ctx: _Ctx, ref: Ref, where: str) -> CNode:
    if ref.kind == "@":
        entity = ctx.entities.get(ref.name)
        if entity is None:
            ctx.error(where, f"column {ref.column}: unknown entity @{ref.name}")
            return CAlt.build(f"@{ref.name}", ())
        return entity.alt
    members = ctx.tags.get(ref.name, [])
    if not members:
        ctx.error(
            where, f"column {ref.column}: no entity has tag or country #{ref.name}"
        )
    return CAlt.build(f"#{ref.name}", tuple(a for e in members for a in e.alt.alts))


def _entity_rule(ctx: _Ctx, country: str, weight: float) -> list[Rule]:
    members = ctx.tags.get(country, [])
    if not members:
        return []
    node = COr(tuple(e.alt for e in members if e.country == country))
    return [
        Rule(
            name="places-and-people",
            weight=weight,
            queries=(Query(view="any", node=node, source=f"#{country}"),),
        )
    ]


__all__ = ["QueryError", "compile_query", "compile_ruleset", "is_latin"]
