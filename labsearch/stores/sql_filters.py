"""Compile the filter grammar (labsearch/filters.py) to an SQLite WHERE clause.

The compiled SQL must agree with `labsearch.filters.matches` on every asset, so each operator is
spelled out with JSON types: a string never equals a number, a boolean only equals a boolean, a
list matches when any element does, and a missing key or JSON null has no values at all.

The clause refers to the `assets` table under the alias `a` and to its side tables: list fields
in `asset_identifiers` and `asset_links`, and every metadata.*/provenance.* value in
`asset_values(key, type, value, asset)`, flattened at write time by `flatten_values` (so a filter
on any metadata key is an index lookup, not a JSON scan). See embedded.py for the schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from labsearch.filters import TOP_LEVEL_FIELDS, And, Condition, Node, Not, Or


@dataclass
class SQL:
    """A fragment of SQL and its positional parameters."""

    text: str
    params: list[Any] = field(default_factory=list)
    # For a condition that is `a.pk IN (subquery)`: the subquery, selecting the matching keys
    # from a side table's index alone (with the same params), ten times cheaper than the whole
    # expression when the keys themselves are what is wanted.
    keys: str | None = None


TRUE = SQL("1")
FALSE = SQL("0")
_SQL_OPS = {"eq": "=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def compile_filter(node: Node | None, classes: list[int] | None = None) -> SQL:
    """SQL boolean expression (0 or 1, never NULL) equal to `matches(node, asset)` for row `a`
    of a visibility class in `classes` (visibility.py; None: every class). Side-table lookups
    seek inside those classes only, so rows of other classes are never read."""
    if node is None:
        return TRUE
    if isinstance(node, And):
        return join(" AND ", [compile_filter(child, classes) for child in node.items], TRUE)
    if isinstance(node, Or):
        return join(" OR ", [compile_filter(child, classes) for child in node.items], FALSE)
    if isinstance(node, Not):
        inner = compile_filter(node.item, classes)
        return SQL(f"NOT ({inner.text})", inner.params)
    return _condition(node, classes)


def join(operator: str, parts: list[SQL], empty: SQL) -> SQL:
    """Join with AND (empty=TRUE) or OR (empty=FALSE); `empty` is the identity and is dropped."""
    parts = [part for part in parts if part is not empty]
    if not parts:
        return empty
    if len(parts) == 1:
        return parts[0]
    params = [p for part in parts for p in part.params]
    return SQL("(" + operator.join(f"({part.text})" for part in parts) + ")", params)


def _condition(cond: Condition, classes: list[int] | None) -> SQL:
    if cond.op == "exists":
        present = _exists(cond.field, classes)
        return present if cond.value else SQL(f"NOT ({present.text})", present.params)
    if cond.op == "ne":
        positive = _any_value(cond.field, "eq", cond.value, classes)
        return SQL(f"NOT ({positive.text})", positive.params)
    if cond.op == "in":
        side = value_table(cond.field)
        if side is None:
            options = [_any_value(cond.field, "eq", v, classes) for v in cond.value]
            return join(" OR ", options, FALSE)
        return _in_side_table(side, _one_of(side, cond.value), classes)
    return _any_value(cond.field, cond.op, cond.value, classes)


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


@dataclass(frozen=True)
class ValueTable:
    """Where the values of a multi-valued field live: one row per (asset, value)."""

    table: str
    value_column: str
    type_column: str | None = None  # None: every value is text
    selector: tuple[str, str] | None = None  # (column, value) picking this field's rows

    def value(self, alias: str = "") -> SQL:
        return SQL(f"{alias}{self.value_column}")

    def json_type(self, alias: str = "") -> SQL:
        return SQL(f"{alias}{self.type_column}") if self.type_column else SQL("'text'")

    def where(self, alias: str = "", classes: list[int] | None = None) -> SQL:
        """This field's rows, in `classes` only (None: every class)."""
        inside = in_classes(f"{alias}vis", classes)
        if self.selector is None:
            return inside
        column, value = self.selector
        return join(" AND ", [inside, SQL(f"{alias}{column} = ?", [value])], TRUE)


def value_table(field_name: str) -> ValueTable | None:
    """The side table holding a field's values; None for top-level columns."""
    if field_name in TOP_LEVEL_FIELDS:
        return None
    if field_name == "identifiers":
        return ValueTable("asset_identifiers", "value")
    if field_name == "links":
        return ValueTable("asset_links", "target")
    if field_name.startswith("links."):
        return ValueTable("asset_links", "target", selector=("rel", field_name.split(".", 1)[1]))
    # metadata.* and provenance.*, flattened by flatten_values() at write time.
    return ValueTable("asset_values", "value", "type", ("key", field_name))


def _any_value(field_name: str, op: str, operand: Any, classes: list[int] | None) -> SQL:
    """1 when any value of the field satisfies `op operand`, else 0 (never NULL, so that NOT of
    it is right for missing fields too)."""
    side = value_table(field_name)
    if side is None:
        # Top-level fields are strings or NULL; NULL has no values.
        column = f"a.{field_name}"
        kind = SQL(f"(CASE WHEN {column} IS NULL THEN NULL ELSE 'text' END)")
        inner = value_predicate(SQL(column), kind, op, operand)
        return SQL(f"coalesce({inner.text}, 0)", inner.params)
    predicate = value_predicate(side.value(), side.json_type(), op, operand)
    return _in_side_table(side, predicate, classes)


def _one_of(side: ValueTable, options: list[Any]) -> SQL:
    """Value equals one of `options`, as `type ... AND value IN (...)` per kind of option, so
    SQLite seeks the (key, value, type) index once per option instead of scanning the key."""
    kind, value = side.json_type(), side.value()
    parts = []
    booleans = sorted({"true" if o else "false" for o in options if isinstance(o, bool)})
    if booleans:
        parts.append(SQL(f"{kind.text} IN ({','.join('?' * len(booleans))})", booleans))
    numbers = [o for o in options if isinstance(o, int | float) and not isinstance(o, bool)]
    strings = [o for o in options if isinstance(o, str)]
    for values, kinds in ((numbers, "IN ('integer','real')"), (strings, "= 'text'")):
        if values:
            listed = in_list(value.text, values)
            parts.append(SQL(f"({kind.text} {kinds} AND {listed.text})", listed.params))
    return join(" OR ", parts, FALSE)


def _in_side_table(side: ValueTable, predicate: SQL, classes: list[int] | None) -> SQL:
    # `a.pk IN (subquery)` lets SQLite drive the query from the side table's index.
    where = join(" AND ", [side.where(classes=classes), predicate], TRUE)
    subquery = f"SELECT asset FROM {side.table} WHERE {where.text}"
    return SQL(f"a.pk IN ({subquery})", where.params, keys=subquery)


def _exists(field_name: str, classes: list[int] | None) -> SQL:
    """The field has at least one value (matches() treats None and [] as no value)."""
    side = value_table(field_name)
    if side is None:
        return SQL(f"a.{field_name} IS NOT NULL")
    where = side.where(classes=classes)
    return SQL(f"a.pk IN (SELECT asset FROM {side.table} WHERE {where.text})", where.params)


def json_type_of(value: Any) -> str:
    """The JSON type name SQLite's json_type() would give `value`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "real"
    if isinstance(value, str):
        return "text"
    return "array" if isinstance(value, list) else "object"


def _storable(value: Any) -> Any:
    """The value as stored: scalars as themselves, booleans 1/0, containers and null as ''."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        return float(value)  # SQLite integers are 64-bit
    if isinstance(value, int | float | str):
        return value
    return ""


def flatten_values(document: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(field, json type, value) rows for every metadata.* and provenance.* path of an asset
    dump, following matches(): dots go through objects only; a list contributes its elements;
    null and [] contribute nothing; an object is itself one (non-scalar) value."""
    rows: dict[tuple[str, str, Any], None] = {}

    def row(path: str, value: Any) -> tuple[str, str, Any]:
        # Plain strings and small integers are most values: skip the general conversions.
        kind = type(value)
        if kind is str:
            return (path, "text", value)
        if kind is int and -(2**63) <= value < 2**63:
            return (path, "integer", value)
        return (path, json_type_of(value), _storable(value))

    def visit(path: str, value: Any, top: bool = False) -> None:
        if value is None:
            return
        if isinstance(value, list):
            for item in value:
                rows[row(path, item)] = None
            return
        if isinstance(value, dict):
            if not top:
                rows[(path, "object", "")] = None
            for key, child in value.items():
                # A key containing a dot cannot be named by the grammar (dots are separators).
                if key and "." not in key:
                    visit(f"{path}.{key}", child)
            return
        rows[row(path, value)] = None

    visit("metadata", document.get("metadata") or {}, top=True)
    visit("provenance", document.get("provenance") or {}, top=True)
    return list(rows)


def in_classes(column: str, classes: list[int] | None) -> SQL:
    """`column IN (classes)` over visibility classes (visibility.py): TRUE for None (every
    class), false for none. The ids are integers the store read itself, so they are written
    into the text and need no parameters."""
    if classes is None:
        return TRUE
    if not classes:
        return FALSE
    return SQL(f"{column} IN ({','.join(str(int(vis)) for vis in classes)})")


def in_list(column: str, values: list[Any]) -> SQL:
    """`column IN (?, ?, ...)`; an empty list is false."""
    if not values:
        return FALSE
    return SQL(f"{column} IN ({','.join('?' * len(values))})", list(values))
