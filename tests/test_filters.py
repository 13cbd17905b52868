"""The filter grammar: validation messages, the CLI shorthand and the reference semantics."""

from __future__ import annotations

from typing import Any

import pytest

from labsearch import filters
from labsearch.errors import InvalidFilterError, InvalidRequestError
from labsearch.filters import And, Condition, Not, Or


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"kind": {"regex": "p.*"}}, "unknown operator 'regex' for 'kind'"),
        ({"links.bogus": "x"}, "unknown link type 'bogus'"),
        ({"metadata.": "x"}, "needs a key"),
        ({"and": []}, "'and' takes a non-empty list"),
        ({"or": {"kind": "file"}}, "'or' takes a non-empty list"),
        ({"not": {}}, "'not' takes a non-empty filter"),
        ({"samples": {"in": []}}, "'in' for 'metadata.samples' takes a non-empty list"),
        ({"samples": {"in": "LIV-1"}}, "'in' for 'metadata.samples' takes a non-empty list"),
        ({"samples": {"exists": "yes"}}, "'exists' for 'metadata.samples' takes true or false"),
        ({"qc": {"gt": True}}, "range operator 'gt' on 'metadata.qc' needs a number/date"),
        ({"qc": {}}, "empty operator object for 'metadata.qc'"),
        ({"qc": ["a", "b"]}, "must be a string, number or boolean"),
        ({"qc": None}, "must be a string, number or boolean"),
        ({"qc": {"in": [{"a": 1}]}}, "must be a string, number or boolean"),
        ({"": "x"}, "non-empty strings"),
    ],
)
def test_invalid_filters_say_what_is_wrong(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidFilterError) as error:
        filters.parse(spec)
    assert message in str(error.value)
    assert isinstance(error.value, InvalidRequestError) and error.value.status == 400


def test_a_filter_must_be_an_object() -> None:
    with pytest.raises(InvalidFilterError, match="must be a JSON object, got list"):
        filters.parse([{"kind": "file"}])  # type: ignore[arg-type]


def test_parse_builds_the_tree_and_normalizes_fields() -> None:
    assert filters.parse(None) is None
    assert filters.parse({}) is None
    assert filters.parse({"kind": "file"}) == Condition("kind", "eq", "file")
    assert filters.parse({"instrument": "NovaSeq"}) == Condition(
        "metadata.instrument", "eq", "NovaSeq"
    )
    tree = filters.parse(
        {"kind": "file", "read_count": {"gte": 1, "lt": 5}, "not": {"links.part_of": "x"}}
    )
    assert tree == And(
        (
            Condition("kind", "eq", "file"),
            Condition("metadata.read_count", "gte", 1),
            Condition("metadata.read_count", "lt", 5),
            Not(Condition("links.part_of", "eq", "x")),
        )
    )
    assert filters.parse({"or": [{"identifiers": "A"}, {"provenance.package": "p"}]}) == Or(
        (Condition("identifiers", "eq", "A"), Condition("provenance.package", "eq", "p"))
    )


@pytest.mark.parametrize(
    ("expressions", "expected"),
    [
        ([], None),
        (["instrument=NovaSeq 6000"], {"instrument": "NovaSeq 6000"}),
        (["read_count>=1000"], {"read_count": {"gte": 1000}}),
        (["read_count<2.5"], {"read_count": {"lt": 2.5}}),
        (["date>2024-01-01"], {"date": {"gt": "2024-01-01"}}),
        (["date<=2024-12-31"], {"date": {"lte": "2024-12-31"}}),
        (["organism!=Mus musculus"], {"organism": {"ne": "Mus musculus"}}),
        (["samples=LIV-0042,LIV-0043"], {"samples": {"in": ["LIV-0042", "LIV-0043"]}}),
        (["qc.passed=true"], {"qc.passed": True}),
        (["run_id=0042"], {"run_id": "0042"}),  # leading zeros: an id, kept as text
        (["lane=42"], {"lane": 42}),
        (["links.uses_sample?"], {"links.uses_sample": {"exists": True}}),
        (
            ["kind=file", "entity=run"],
            {"and": [{"kind": "file"}, {"entity": "run"}]},
        ),
    ],
)
def test_from_cli(expressions: list[str], expected: dict[str, Any] | None) -> None:
    assert filters.from_cli(expressions) == expected
    if expected is not None:
        filters.parse(expected)  # what the CLI builds is always valid grammar


@pytest.mark.parametrize("expression", ["instrument", "a~b", "=value", "  "])
def test_from_cli_rejects_what_it_cannot_read(expression: str) -> None:
    with pytest.raises(InvalidFilterError, match="write key=value"):
        filters.from_cli([expression])


def test_combine() -> None:
    assert filters.combine(None, {}) is None
    assert filters.combine({"kind": "file"}, None) == {"kind": "file"}
    assert filters.combine({"a": 1}, {"b": 2}) == {"and": [{"a": 1}, {"b": 2}]}


DOC: dict[str, Any] = {
    "id": "x",
    "kind": "package",
    "entity": None,
    "created_at": "2024-05-01T00:00:00Z",
    "identifiers": ["LIV-0042", "SRR1"],
    "links": [
        {"rel": "uses_sample", "target": "s1"},
        {"rel": "part_of", "target": "p1"},
    ],
    "metadata": {
        "samples": ["LIV-0042", "LIV-0043"],
        "read_count": 1000,
        "ratio": 0.5,
        "flag": True,
        "text_number": "1000",
        "qc": {"passed": False, "inner": {"k": "v"}},
        "empty": [],
        "nothing": None,
        "objects": [{"a": 1}],
    },
    "provenance": {"package": "team/x", "top_hash": None},
}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"kind": "package"}, True),
        ({"kind": {"ne": "package"}}, False),
        ({"entity": {"exists": False}}, True),  # None is no value
        ({"entity": {"ne": "run"}}, True),
        ({"created_at": {"gte": "2024-01-01"}}, True),  # ISO dates order as strings
        ({"created_at": {"gte": 5}}, False),  # a number never compares with a string
        ({"identifiers": "SRR1"}, True),  # list field: equality means contains
        ({"identifiers": {"ne": "SRR1"}}, False),
        ({"links": "p1"}, True),
        ({"links.uses_sample": "p1"}, False),  # wrong relation
        ({"links.part_of": "p1"}, True),
        ({"samples": "LIV-0043"}, True),  # any list element
        ({"samples": {"in": ["nope", "LIV-0042"]}}, True),
        ({"read_count": 1000.0}, True),  # int and float compare numerically
        ({"read_count": "1000"}, False),  # but never equal to a string
        ({"text_number": 1000}, False),
        ({"read_count": {"gt": 999, "lte": 1000}}, True),
        ({"read_count": {"gt": "999"}}, False),
        ({"flag": True}, True),
        ({"flag": 1}, False),  # a boolean only equals a boolean
        ({"ratio": {"lt": 1}}, True),
        ({"qc.passed": False}, True),
        ({"qc.inner.k": "v"}, True),  # dots reach into nested objects
        ({"qc.inner": {"exists": True}}, True),
        ({"qc.inner": "v"}, False),  # an object never equals a scalar
        ({"empty": {"exists": True}}, False),  # [] is no value
        ({"nothing": {"exists": False}}, True),  # null is no value
        ({"missing": {"exists": False}}, True),
        ({"missing": {"ne": "x"}}, True),  # ne holds for a missing field
        ({"missing": "x"}, False),
        ({"objects.a": 1}, False),  # dots do not reach through lists
        ({"provenance.package": "team/x"}, True),
        ({"provenance.top_hash": {"exists": True}}, False),
        ({"and": [{"kind": "package"}, {"flag": True}]}, True),
        ({"or": [{"kind": "file"}, {"flag": False}]}, False),
        ({"not": {"samples": "LIV-0042"}}, False),
    ],
)
def test_matches_semantics(spec: dict[str, Any], expected: bool) -> None:
    assert filters.matches(filters.parse(spec), DOC) is expected


def test_no_filter_matches_everything() -> None:
    assert filters.matches(None, DOC) is True
