"""Hypothesis fuzzing of what users type into both stores: random filters (every field kind,
every operator, values from the corpus and random ones, nested and/or/not) must select exactly
what the reference `labsearch.filters.matches` selects, or be refused with InvalidFilterError by
the grammar and the store alike; random search text must never fail and never show another
group's assets.

Examples: LABSEARCH_FUZZ_EXAMPLES (default 100 per store and test; bench/fuzz.py runs more).
Counts go to artifacts/reliability/fuzz.json.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from fuzzing import FUZZ, write_counts
from hypothesis import given
from hypothesis import strategies as st
from opensearch_fixtures import delete_indices, opensearch_node, opensearch_settings  # noqa: F401
from store_conformance import MODEL, filter_corpus, ids, indexed, unit

from labsearch import filters as grammar
from labsearch.access import Access
from labsearch.errors import InvalidFilterError, LabsearchError
from labsearch.schema import LinkType
from labsearch.stores.protocol import SearchMode, SearchRequest

OPERATOR = Access.as_operator()
LAB_B = Access.for_groups(["lab-b"], user="bob")
COUNTS: dict[str, Counter[str]] = {}
CORPUS = filter_corpus()
# Every other asset moves to lab B, so text search has something to hide from bob.
for number, asset in enumerate(CORPUS):
    if number % 2:
        asset.groups = ["lab-b"]

FIELDS = sorted(
    {
        *grammar.TOP_LEVEL_FIELDS,
        *grammar.LIST_FIELDS,
        *(f"links.{rel.value}" for rel in LinkType),
        "provenance.package",
        "provenance.source",
        "provenance.registry",
        "metadata.missing",
        "missing.deeper",
        "project key",
        "groups",
        *(f"metadata.{key}" for asset in CORPUS for key in asset.metadata),
        *(key for asset in CORPUS for key in asset.metadata),
        "qc.passed",
        "qc.score",
        "nested.deeper.key",
        "nested.deeper",
    }
)


def corpus_values() -> list[Any]:
    values: set[Any] = set()
    for asset in CORPUS:
        document = asset.model_dump(mode="json")
        for field in FIELDS:
            for value in grammar._lookup(document, grammar.normalize_field(field)):
                if isinstance(value, str | int | float | bool):
                    values.add(value)
    return sorted(values, key=repr)


SCALAR = st.one_of(
    st.sampled_from(corpus_values()),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=12),
    st.sampled_from(["2024-01-01", "2024-06-01T00:00:00+00:00", "", "%", "_", "*", "'", '"']),
)
VALUE = st.one_of(SCALAR, st.none(), st.lists(SCALAR, max_size=2))  # the last two are refused
VALID_OPERANDS = [
    SCALAR,
    st.dictionaries(
        st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte"]), SCALAR, min_size=1, max_size=2
    ),
    st.builds(lambda v: {"in": v}, st.lists(SCALAR, min_size=1, max_size=4)),
    st.builds(lambda v: {"exists": v}, st.booleans()),
]
REFUSED_OPERANDS = [VALUE, st.builds(lambda v: {"regex": v}, st.text(max_size=4))]
# Refusals are checked too, but most examples should reach the stores' query compilers.
OPERAND = st.one_of(*VALID_OPERANDS, *VALID_OPERANDS, *REFUSED_OPERANDS)
LEAF = st.dictionaries(st.sampled_from(FIELDS), OPERAND, min_size=1, max_size=2)
FILTER = st.recursive(
    LEAF,
    lambda inner: st.one_of(
        st.builds(lambda items: {"and": items}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda items: {"or": items}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda item: {"not": item}, inner),
    ),
    max_leaves=6,
)
TEXT = st.one_of(
    st.text(max_size=60),
    st.lists(
        st.sampled_from(
            ['"', "'", "*", "(", ")", "AND", "OR", "NOT", "NEAR", ":", "^", "-", "+", "~", "\\",
             "/", "{", "}", "[", "]", "?", "\x00", "\ufeff", "LIV-0042", "title:", "_id:*",
             "ELN-123", "reads_1.fastq.gz", "é", "𝛼", "\u202e", " ", "\t", "\n"]
        ),
        max_size=12,
    ).map("".join),
)  # fmt: skip


@pytest.fixture(
    scope="module", params=["embedded", pytest.param("opensearch", marks=pytest.mark.integration)]
)
def store(request, tmp_path_factory) -> Iterator[Any]:
    if request.param == "embedded":
        from labsearch.stores.embedded import EmbeddedStore

        opened = EmbeddedStore.open(tmp_path_factory.mktemp("fuzz-index"), MODEL, 8)
    else:
        from labsearch.stores.opensearch import OpenSearchStore

        url = request.getfixturevalue("opensearch_node")
        alias = f"labsearch-fuzz-{uuid.uuid4().hex[:10]}"
        config = opensearch_settings(url, alias, tmp_path_factory.mktemp("fuzz-os"), model=MODEL)
        opened = OpenSearchStore.open(config, 8)
    opened.upsert([indexed(asset, unit(i)) for i, asset in enumerate(CORPUS)])
    opened.backend_name = request.param  # type: ignore[attr-defined]
    yield opened
    opened.close()
    if request.param == "opensearch":
        delete_indices(url, alias)


@pytest.fixture(scope="module", autouse=True)
def report() -> Iterator[None]:
    yield
    write_counts(COUNTS, {"crashes": 0, "disagreements": 0})


def test_random_filters_agree_with_the_reference(store):
    counts = COUNTS.setdefault(f"filters/{store.backend_name}", Counter())

    @FUZZ
    @given(spec=FILTER)
    def check(spec: dict[str, Any]) -> None:
        counts["examples"] += 1
        try:
            node = grammar.parse(spec)
        except InvalidFilterError:
            counts["refused"] += 1
            with pytest.raises(InvalidFilterError):
                store.match(spec, OPERATOR)
            return
        expected = sorted(a.id for a in CORPUS if grammar.matches(node, a.model_dump(mode="json")))
        try:
            got = sorted(ids(store.match(spec, OPERATOR).assets))
        except Exception:
            counts["crashes"] += 1
            raise
        if got != expected:
            counts["disagreements"] += 1
        assert got == expected, spec
        visible = sorted(
            a.id
            for a in CORPUS
            if LAB_B.can_see(a.groups) and grammar.matches(node, a.model_dump(mode="json"))
        )
        assert sorted(ids(store.match(spec, LAB_B).assets)) == visible, spec

    check()


def test_random_search_text_never_fails_and_shows_only_what_bob_may_see(store):
    counts = COUNTS.setdefault(f"search text/{store.backend_name}", Counter())
    lab_b_ids = {a.id for a in CORPUS if LAB_B.can_see(a.groups)}

    @FUZZ
    @given(text=TEXT, mode=st.sampled_from(list(SearchMode)))
    def check(text: str, mode: SearchMode) -> None:
        counts["examples"] += 1
        request = SearchRequest(text=text, vector=unit(len(text)), k=20, mode=mode)
        try:
            hits = store.search(request, LAB_B)
            facets = store.facets(["kind", "instrument"], LAB_B, text=text)
        except LabsearchError as error:
            # Only text that cannot be encoded (a lone surrogate) may be refused, clearly.
            counts["refused"] += 1
            assert "surrogate" in str(error) or "UTF-8" in str(error), error
            return
        except Exception:
            counts["crashes"] += 1
            raise
        assert set(ids(hits)) <= lab_b_ids
        assert sum(facets["kind"].values()) <= len(lab_b_ids)

    check()
