"""The filter grammar every store understands.

A filter is JSON (so the API, CLI and UI share it):

    {"kind": "package"}                                  equality
    {"metadata.instrument": {"in": ["NovaSeq 6000", "HiSeq 2500"]}}
    {"metadata.read_count": {"gte": 1000000, "lt": 5000000}}   ranges: gt, gte, lt, lte
    {"metadata.sample": {"exists": true}}
    {"metadata.organism": {"ne": "Mus musculus"}}
    {"and": [F, F, ...]}, {"or": [F, F, ...]}, {"not": F}

Several keys in one object are and-ed. Fields:

- top-level asset fields: `id`, `kind`, `entity`, `data_level`, `source`, `title`, `created_at`,
  `updated_at`;
- list fields, where equality means "contains": `identifiers`, `links` (any link target),
  `links.<rel>` (targets of one link type, e.g. `links.uses_sample`);
- `metadata.<key>` (dots reach into nested objects; a list value matches if any element does);
- `provenance.<field>` (e.g. `provenance.package`);
- any other bare name is read as `metadata.<name>`, so `instrument=NovaSeq` just works.

Strings compare exactly (case-sensitive); ISO dates compare as strings, which orders them.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Union

from labsearch.errors import InvalidFilterError
from labsearch.schema import LinkType

TOP_LEVEL_FIELDS = {
    "id",
    "kind",
    "entity",
    "data_level",
    "source",
    "title",
    "created_at",
    "updated_at",
}
LIST_FIELDS = {"identifiers", "links"}
RANGE_OPS = {"gt", "gte", "lt", "lte"}
OPS = RANGE_OPS | {"eq", "ne", "in", "exists"}

# Bounds on what a filter may hold, checked here so every backend is protected alike.
# Nesting: SQLite's parser overflows its stack at about 30 levels of and/or/not once a search
# wraps the filter (each level is a pair of parentheses, and several keys in one object add
# another); a real question needs three or four.
MAX_DEPTH = 10
# Values (one per condition, one per `in` item): SQLite's expression tree is at most 1000
# levels deep and an `in` on a top-level field is a chain of ORs; OpenSearch refuses queries of
# more than 1024 clauses (max_clause_count), and an `in` on metadata costs two per value.
MAX_VALUES = 256
# Numbers: SQLite integers are signed 64-bit, and JSON has no NaN or infinity (Python's
# parser reads them anyway); a larger bound can be written as a float, e.g. 1e19.
MIN_INT, MAX_INT = -(2**63), 2**63 - 1


@dataclass(frozen=True)
class Condition:
    field: str  # normalized: a top-level field, "identifiers", "links[.rel]", "metadata.x", ...
    op: str
    value: Any

    @property
    def is_metadata(self) -> bool:
        return self.field.startswith("metadata.")

    @property
    def path(self) -> str:
        """The dotted path below `metadata.`/`provenance.`/`links.`."""
        return self.field.split(".", 1)[1] if "." in self.field else ""


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


Node = Union[Condition, And, Or, Not]  # noqa: UP007 - used at runtime in isinstance checks


def normalize_field(name: str) -> str:
    if not name or not isinstance(name, str):
        raise InvalidFilterError(f"filter field names must be non-empty strings, got {name!r}")
    _check_text(name, "filter field name")
    if name in TOP_LEVEL_FIELDS or name in LIST_FIELDS:
        return name
    head, _, rest = name.partition(".")
    if head == "links":
        valid = {rel.value for rel in LinkType}
        if rest not in valid:
            raise InvalidFilterError(
                f"unknown link type {rest!r} in filter field {name!r}; use one of {sorted(valid)}"
            )
        return name
    if head in ("metadata", "provenance"):
        if not rest:
            raise InvalidFilterError(f"filter field {name!r} needs a key, e.g. {head}.instrument")
        return name
    return f"metadata.{name}"


def parse(spec: dict[str, Any] | None) -> Node | None:
    """Validate a JSON filter and return its tree, or None for "no filter"."""
    if spec is None or spec == {}:
        return None
    budget = [MAX_VALUES]  # values still allowed, shared by the whole tree
    return _parse(spec, 0, budget)


def _parse(spec: Any, depth: int, budget: list[int]) -> Node:
    if not isinstance(spec, dict):
        raise InvalidFilterError(f"a filter must be a JSON object, got {type(spec).__name__}")
    if depth > MAX_DEPTH:
        raise InvalidFilterError(
            f"filter nests 'and'/'or'/'not' more than {MAX_DEPTH} levels deep; flatten it "
            "(several keys in one object are and-ed, 'in' lists alternatives)"
        )
    nodes: list[Node] = []
    for key, value in spec.items():
        if key in ("and", "or"):
            if not isinstance(value, list) or not value:
                raise InvalidFilterError(f"{key!r} takes a non-empty list of filters")
            for item in value:
                if not isinstance(item, dict) or not item:
                    raise InvalidFilterError(
                        f"each item of {key!r} must be a non-empty filter object, "
                        f"got {json.dumps(item)}"
                    )
            children = tuple(_parse(v, depth + 1, budget) for v in value)
            nodes.append(And(children) if key == "and" else Or(children))
        elif key == "not":
            if not isinstance(value, dict) or not value:
                raise InvalidFilterError("'not' takes a non-empty filter")
            nodes.append(Not(_parse(value, depth + 1, budget)))
        else:
            conditions = _conditions(normalize_field(key), value)
            for condition in conditions:
                budget[0] -= len(condition.value) if condition.op == "in" else 1
            if budget[0] < 0:
                raise InvalidFilterError(
                    f"filter holds more than {MAX_VALUES} values (conditions and 'in' items "
                    "together); narrow it with fewer alternatives, or split the search"
                )
            nodes.extend(conditions)
    return nodes[0] if len(nodes) == 1 else And(tuple(nodes))


def _conditions(field: str, value: Any) -> list[Condition]:
    if not isinstance(value, dict):
        _check_scalar(field, value)
        return [Condition(field, "eq", value)]
    if not value:
        raise InvalidFilterError(f"empty operator object for {field!r}")
    conditions = []
    for op, operand in value.items():
        if op not in OPS:
            raise InvalidFilterError(
                f"unknown operator {op!r} for {field!r}; use one of {sorted(OPS)}"
            )
        if op == "in":
            if not isinstance(operand, list) or not operand:
                raise InvalidFilterError(f"'in' for {field!r} takes a non-empty list")
            for item in operand:
                _check_scalar(field, item)
        elif op == "exists":
            if not isinstance(operand, bool):
                raise InvalidFilterError(f"'exists' for {field!r} takes true or false")
        else:
            _check_scalar(field, operand)
            if op in RANGE_OPS and isinstance(operand, bool):
                raise InvalidFilterError(f"range operator {op!r} on {field!r} needs a number/date")
        conditions.append(Condition(field, op, operand))
    return conditions


def _check_scalar(field: str, value: Any) -> None:
    if not isinstance(value, str | int | float | bool):
        raise InvalidFilterError(
            f"filter value for {field!r} must be a string, number or boolean, got {value!r}"
        )
    if isinstance(value, str):
        _check_text(value, f"filter value for {field!r}")
    elif isinstance(value, int) and not isinstance(value, bool):
        if not MIN_INT <= value <= MAX_INT:
            raise InvalidFilterError(
                f"filter number {value} for {field!r} is outside the 64-bit integer range "
                f"({MIN_INT}..{MAX_INT}); write it as a float (e.g. {float(value):.6g})"
            )
    elif isinstance(value, float) and not math.isfinite(value):
        raise InvalidFilterError(f"filter number for {field!r} must be finite, got {value}")


def _check_text(text: str, what: str) -> None:
    """Refuse text that cannot be stored or sent: a lone surrogate (e.g. "\\ud800")."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InvalidFilterError(
            f"{what} holds an unpaired surrogate at character {error.start}; send valid "
            "Unicode text (UTF-8)"
        ) from None


_CLI_PATTERN = re.compile(r"^\s*([\w.\-]+)\s*(>=|<=|!=|=|>|<|~)\s*(.*)$")
_CLI_OPS = {">=": "gte", "<=": "lte", ">": "gt", "<": "lt", "!=": "ne", "=": "eq"}


def from_cli(expressions: list[str]) -> dict[str, Any] | None:
    """Turn `--filter key=value`, `key>=value`, `key=a,b` (in), `key?` (exists) into a filter."""
    clauses: list[dict[str, Any]] = []
    for expression in expressions:
        if expression.endswith("?"):
            clauses.append({expression[:-1].strip(): {"exists": True}})
            continue
        match = _CLI_PATTERN.match(expression)
        if not match or match.group(2) == "~":
            raise InvalidFilterError(
                f"cannot read filter {expression!r}; write key=value, key>=value, key<value, "
                "key!=value, key=a,b (any of) or key? (exists)"
            )
        key, symbol, raw = match.groups()
        if symbol == "=" and "," in raw:
            clauses.append({key: {"in": [_coerce(v) for v in raw.split(",")]}})
        elif symbol == "=":
            clauses.append({key: _coerce(raw)})
        else:
            clauses.append({key: {_CLI_OPS[symbol]: _coerce(raw)}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"and": clauses}


def _coerce(raw: str) -> Any:
    """CLI values are text; numbers and booleans are read as JSON where they parse."""
    raw = raw.strip()
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    return value if isinstance(value, int | float | bool) else raw


def combine(*filters: dict[str, Any] | None) -> dict[str, Any] | None:
    """And together several optional filters."""
    present = [f for f in filters if f]
    if not present:
        return None
    return present[0] if len(present) == 1 else {"and": present}


def _lookup(document: dict[str, Any], field: str) -> list[Any]:
    """Values of a field in an asset dump, as a list (empty if missing)."""
    if field == "links":
        return [link["target"] for link in document.get("links", [])]
    if field.startswith("links."):
        rel = field.split(".", 1)[1]
        return [link["target"] for link in document.get("links", []) if link["rel"] == rel]
    value: Any = document
    for part in field.split("."):
        if not isinstance(value, dict) or part not in value:
            return []
        value = value[part]
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def matches(node: Node | None, document: dict[str, Any]) -> bool:
    """Reference semantics of the grammar, evaluated on `Asset.model_dump(mode="json")`.

    Stores compile filters to their own query language; the conformance tests compare them
    against this function.
    """
    if node is None:
        return True
    if isinstance(node, And):
        return all(matches(child, document) for child in node.items)
    if isinstance(node, Or):
        return any(matches(child, document) for child in node.items)
    if isinstance(node, Not):
        return not matches(node.item, document)
    values = _lookup(document, node.field)
    if node.op == "exists":
        return bool(values) == node.value
    if node.op == "eq":
        return any(_equal(v, node.value) for v in values)
    if node.op == "ne":
        return not any(_equal(v, node.value) for v in values)
    if node.op == "in":
        return any(_equal(v, option) for v in values for option in node.value)
    return any(_compare(v, node.op, node.value) for v in values)


def _equal(actual: Any, expected: Any) -> bool:
    if isinstance(actual, bool) or isinstance(expected, bool):
        return actual is expected
    if isinstance(actual, int | float) and isinstance(expected, int | float):
        return float(actual) == float(expected)
    return actual == expected


def _compare(actual: Any, op: str, bound: Any) -> bool:
    numeric = isinstance(bound, int | float) and not isinstance(bound, bool)
    if numeric != (isinstance(actual, int | float) and not isinstance(actual, bool)):
        return False
    if not numeric and not (isinstance(actual, str) and isinstance(bound, str)):
        return False
    return {
        "gt": actual > bound,
        "gte": actual >= bound,
        "lt": actual < bound,
        "lte": actual <= bound,
    }[op]
