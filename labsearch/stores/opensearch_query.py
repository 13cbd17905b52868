"""Compile the filter grammar (labsearch/filters.py) and permissions to OpenSearch query DSL.

The compiled query must agree with `labsearch.filters.matches` on every asset (the conformance
suite checks this). Typing follows the grammar: a string bound only matches string values, a
number only numbers (compared as doubles, as `matches` compares floats), a boolean only booleans.
Fields are laid out as in opensearch_mapping.py.
"""

from __future__ import annotations

from typing import Any

from labsearch.access import Access
from labsearch.filters import TOP_LEVEL_FIELDS, And, Condition, Node, Not, Or, parse

MATCH_ALL: dict[str, Any] = {"match_all": {}}
MATCH_NONE: dict[str, Any] = {"match_none": {}}

# Top-level grammar fields that live under another name in the document.
_KEYWORD_FIELD = {"title": "title.kw"}


def permission_filter(access: Access) -> dict[str, Any] | None:
    """None for the operator (sees all); otherwise a terms filter on groups (fail closed)."""
    if access.operator:
        return None
    if access.sees_nothing:
        return MATCH_NONE
    return {"terms": {"groups": sorted(access.groups)}}


def filter_clauses(filters: dict[str, Any] | None, access: Access) -> list[dict[str, Any]]:
    """Filter-context clauses that restrict a query to visible assets matching `filters`."""
    clauses = []
    permission = permission_filter(access)
    if permission is not None:
        clauses.append(permission)
    node = parse(filters)
    if node is not None:
        clauses.append(compile_filter(node))
    return clauses


def filtered(query: dict[str, Any], clauses: list[dict[str, Any]]) -> dict[str, Any]:
    if not clauses:
        return query
    return {"bool": {"must": [query], "filter": clauses}}


def as_filter(clauses: list[dict[str, Any]]) -> dict[str, Any]:
    """The clauses as one query (for k-NN's `filter`, counts and aggregations)."""
    if not clauses:
        return MATCH_ALL
    if len(clauses) == 1:
        return clauses[0]
    return {"bool": {"filter": clauses}}


def compile_filter(node: Node) -> dict[str, Any]:
    if isinstance(node, And):
        return (
            {"bool": {"filter": [compile_filter(c) for c in node.items]}}
            if node.items
            else MATCH_ALL
        )
    if isinstance(node, Or):
        if not node.items:
            return MATCH_NONE
        return {
            "bool": {"should": [compile_filter(c) for c in node.items], "minimum_should_match": 1}
        }
    if isinstance(node, Not):
        return _negate(compile_filter(node.item))
    return _condition(node)


def _negate(query: dict[str, Any]) -> dict[str, Any]:
    return {"bool": {"must_not": [query]}}


def _condition(cond: Condition) -> dict[str, Any]:
    if cond.op == "exists":
        present = _exists(cond.field)
        return present if cond.value else _negate(present)
    if cond.op == "ne":
        return _negate(_any_value(cond.field, "eq", cond.value))
    if cond.op == "in":
        options = [_any_value(cond.field, "eq", v) for v in cond.value]
        return {"bool": {"should": options, "minimum_should_match": 1}}
    return _any_value(cond.field, cond.op, cond.value)


def _value_query(field: str, op: str, operand: Any) -> dict[str, Any]:
    if op == "eq":
        return {"term": {field: {"value": operand}}}
    return {"range": {field: {op: operand}}}


def _any_value(field: str, op: str, operand: Any) -> dict[str, Any]:
    """Some value of `field` satisfies `op operand`."""
    if field.startswith("metadata."):
        key = field.split(".", 1)[1]
        typed = _typed_field(operand)
        inner = {
            "bool": {
                "filter": [{"term": {"meta.k": key}}, _value_query(f"meta.{typed}", op, operand)]
            }
        }
        return {"nested": {"path": "meta", "query": inner}}
    # Every other field holds strings only: a number or boolean operand matches nothing.
    if not isinstance(operand, str):
        return MATCH_NONE
    return _value_query(_string_field(field), op, operand)


def _typed_field(operand: Any) -> str:
    if isinstance(operand, bool):
        return "b"
    if isinstance(operand, int | float):
        return "n"
    return "s"


def _string_field(field: str) -> str:
    if field in TOP_LEVEL_FIELDS:
        return _KEYWORD_FIELD.get(field, field)
    if field.startswith("links."):
        return "link_rel." + field.split(".", 1)[1]
    return field  # identifiers, links, provenance.<name>


def _exists(field: str) -> dict[str, Any]:
    if field.startswith("metadata."):
        key = field.split(".", 1)[1]
        return {"nested": {"path": "meta", "query": {"term": {"meta.k": key}}}}
    return {"exists": {"field": _string_field(field)}}
