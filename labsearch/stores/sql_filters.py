"""Compile the filter grammar (labsearch/filters.py) to an SQLite WHERE clause.

The compiled SQL must agree with `labsearch.filters.matches` on every asset, so each operator is
spelled out with JSON types: a string never equals a number, a boolean only equals a boolean, a
list matches when any element does, and a missing key or JSON null has no values at all.

The clause refers to the `assets` table under the alias `a` and to its side tables
(`asset_identifiers`, `asset_links`); see embedded.py for the schema. Conditions on side tables
are written as `a.rowid IN (SELECT ...)` so SQLite can drive the query from their indexes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from labsearch.errors import InvalidFilterError
from labsearch.filters import TOP_LEVEL_FIELDS, And, Condition, Node, Not, Or


@dataclass
class SQL:
    """A fragment of SQL and its positional parameters."""

    text: str
    params: list[Any] = field(default_factory=list)


TRUE = SQL("1")
FALSE = SQL("0")
_SQL_OPS = {"eq": "=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def compile_filter(node: Node | None) -> SQL:
    """SQL boolean expression (0 or 1, never NULL) equal to `matches(node, asset)` for row `a`."""
    if node is None:
        return TRUE
    if isinstance(node, And):
        return join(" AND ", [compile_filter(child) for child in node.items], TRUE)
    if isinstance(node, Or):
        return join(" OR ", [compile_filter(child) for child in node.items], FALSE)
    if isinstance(node, Not):
        inner = compile_filter(node.item)
        return SQL(f"NOT ({inner.text})", inner.params)
    return _condition(node)


def join(operator: str, parts: list[SQL], empty: SQL) -> SQL:
    if not parts:
        return empty
    params = [p for part in parts for p in part.params]
    return SQL("(" + operator.join(f"({part.text})" for part in parts) + ")", params)


def _condition(cond: Condition) -> SQL:
    if cond.op == "exists":
        present = _exists(cond.field)
        return present if cond.value else SQL(f"NOT ({present.text})", present.params)
    if cond.op == "ne":
        positive = _any_value(cond.field, "eq", cond.value)
        return SQL(f"NOT ({positive.text})", positive.params)
    if cond.op == "in":
        return join(" OR ", [_any_value(cond.field, "eq", v) for v in cond.value], FALSE)
    return _any_value(cond.field, cond.op, cond.value)


def value_predicate(value: SQL, json_type: SQL, op: str, operand: Any) -> SQL:
    """`value op operand` for one value whose JSON type is `json_type`, typed as in matches()."""
    if isinstance(operand, bool):
        # Only eq reaches here with a boolean (the grammar rejects boolean ranges).
        return SQL(f"{json_type.text} = ?", [*json_type.params, "true" if operand else "false"])
    kinds = "IN ('integer','real')" if isinstance(operand, int | float) else "= 'text'"
    return SQL(
        f"({json_type.text} {kinds} AND {value.text} {_SQL_OPS[op]} ?)",
        [*json_type.params, *value.params, operand],
    )


def json_path(dotted: str) -> str:
    """`a.b c` -> `$."a"."b c"`: quoted labels so keys with spaces or dashes work."""
    parts = dotted.split(".")
    for part in parts:
        if not part or '"' in part:
            raise InvalidFilterError(
                f"cannot use key {dotted!r}: each dotted part must be non-empty and contain no '\"'"
            )
    return "$" + "".join(f'."{part}"' for part in parts)


def json_source(field_name: str) -> tuple[str, str]:
    """Column holding the JSON and the path inside it, for metadata.* and provenance.* fields."""
    head, _, rest = field_name.partition(".")
    column = "a.meta" if head == "metadata" else "a.prov"
    return column, json_path(rest)


def side_table(field_name: str) -> tuple[str, str, SQL] | None:
    """(table, value column, extra condition) for list fields kept in side tables."""
    if field_name == "identifiers":
        return "asset_identifiers", "value", TRUE
    if field_name == "links":
        return "asset_links", "target", TRUE
    if field_name.startswith("links."):
        return "asset_links", "target", SQL("rel = ?", [field_name.split(".", 1)[1]])
    return None


_TEXT = SQL("'text'")


def _any_value(field_name: str, op: str, operand: Any) -> SQL:
    """1 when any value of the field satisfies `op operand`, else 0 (never NULL, so that NOT of
    it is right for missing fields too)."""
    if field_name in TOP_LEVEL_FIELDS:
        # Top-level fields are strings or NULL; NULL has no values.
        column = f"a.{field_name}"
        kind = SQL(f"(CASE WHEN {column} IS NULL THEN NULL ELSE 'text' END)")
        inner = value_predicate(SQL(column), kind, op, operand)
        return SQL(f"coalesce({inner.text}, 0)", inner.params)
    side = side_table(field_name)
    if side is not None:
        table, column, extra = side
        inner = value_predicate(SQL(column), _TEXT, op, operand)
        return SQL(
            f"a.rowid IN (SELECT asset FROM {table} WHERE {extra.text} AND {inner.text})",
            extra.params + inner.params,
        )
    column, path = json_source(field_name)
    # A list value matches if any element does; an object value is one value that never equals
    # a scalar (as in matches()), so only scalars and array elements are compared.
    element = value_predicate(SQL("e.value"), SQL("e.type"), op, operand)
    scalar = value_predicate(
        SQL(f"json_extract({column}, ?)", [path]),
        SQL(f"json_type({column}, ?)", [path]),
        op,
        operand,
    )
    return SQL(
        f"coalesce(CASE json_type({column}, ?) "
        f"WHEN 'array' THEN EXISTS (SELECT 1 FROM json_each({column}, ?) e WHERE {element.text}) "
        f"ELSE {scalar.text} END, 0)",
        [path, path, *element.params, *scalar.params],
    )


def _exists(field_name: str) -> SQL:
    """The field has at least one value (matches() treats None and [] as no value)."""
    if field_name in TOP_LEVEL_FIELDS:
        return SQL(f"a.{field_name} IS NOT NULL")
    side = side_table(field_name)
    if side is not None:
        table, _, extra = side
        return SQL(f"a.rowid IN (SELECT asset FROM {table} WHERE {extra.text})", extra.params)
    column, path = json_source(field_name)
    return SQL(
        f"(CASE json_type({column}, ?) WHEN 'null' THEN 0 "
        f"WHEN 'array' THEN json_array_length({column}, ?) > 0 "
        f"ELSE json_type({column}, ?) IS NOT NULL END)",
        [path, path, path],
    )


def in_list(column: str, values: list[Any]) -> SQL:
    """`column IN (?, ?, ...)`; an empty list is false."""
    if not values:
        return FALSE
    return SQL(f"{column} IN ({','.join('?' * len(values))})", list(values))
