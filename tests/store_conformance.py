"""The store conformance suite: every AssetStore backend must pass these tests.

Use it like Haystack's DocumentStoreBaseTests: subclass `StoreConformance` in a test module and
override the fixtures

    store               a fresh, empty store of dimension 8 for model "test-model"
    reopen_with_model   a callable (model, dimension) -> store that reopens the SAME index
                        with another model/dimension (used for the ModelMismatchError test)
    reopen              a callable (recreate) -> another store object on the SAME index, as
                        another process would open it; `recreate=True` starts a rebuild
                        (published by its `finish_rebuild()`)

Backends express harmless differences by overriding the comparison helpers
(`assert_same_assets`, `assert_same_ids`), not by skipping tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from labsearch import filters as grammar
from labsearch.access import Access
from labsearch.errors import InvalidFilterError, LabsearchError, ModelMismatchError
from labsearch.schema import Asset, Link, LinkType, Provenance
from labsearch.stores.protocol import (
    AssetStore,
    FusionSettings,
    GroupsUpdate,
    IndexedAsset,
    SearchMode,
    SearchRequest,
)

DIM = 8
MODEL = "test-model"
OPERATOR = Access.as_operator()
NOBODY = Access()
LAB_A = Access.for_groups(["lab-a"], user="alice")
LAB_B = Access.for_groups(["lab-b"], user="bob")
ALL_MODES = [SearchMode.BM25, SearchMode.DENSE, SearchMode.HYBRID]


def unit(direction: int, jitter: float = 0.0, seed: int = 0) -> list[float]:
    """A deterministic unit vector near basis vector `direction` (jitter adds seeded noise)."""
    vector = np.zeros(DIM, dtype=np.float64)
    vector[direction % DIM] = 1.0
    if jitter:
        vector += np.random.default_rng(seed).normal(0.0, jitter, DIM)
    return (vector / np.linalg.norm(vector)).tolist()


def make_asset(asset_id: str, **fields: Any) -> Asset:
    """An asset with sensible defaults: kind file, source "src://test", visible to lab-a."""
    values: dict[str, Any] = {
        "source": "src://test",
        "kind": "file",
        "title": f"asset {asset_id}",
        "provenance": Provenance(source=fields.get("source", "src://test")),
        "groups": ["lab-a"],
    }
    values.update(fields)
    return Asset(id=asset_id, **values)


def indexed(asset: Asset, vector: Sequence[float] | None = None, seed: int = 0) -> IndexedAsset:
    """An IndexedAsset; without a vector, a seeded random one (deterministic per seed)."""
    if vector is None:
        raw = np.random.default_rng(seed).normal(size=DIM)
        vector = (raw / np.linalg.norm(raw)).tolist()
    return IndexedAsset(asset=asset, vector=list(vector), content_hash=asset.content_hash(MODEL))


def ids(items: Iterable[Any]) -> list[str]:
    """Ids of assets, ScoredAssets or a MatchResult's assets, in order."""
    out = []
    for item in items:
        asset = getattr(item, "asset", item)
        out.append(asset.id)
    return out


def filter_corpus() -> list[Asset]:
    """Assets that exercise every corner of the filter grammar."""
    base = datetime(2024, 1, 1, tzinfo=UTC)
    specs: list[dict[str, Any]] = [
        {
            "kind": "package",
            "entity": "run",
            "data_level": "raw",
            "metadata": {
                "instrument": "NovaSeq 6000",
                "read_count": 2_000_000,
                "samples": ["LIV-0042", "LIV-0043"],
                "date": "2024-03-05",
                "qc": {"passed": True, "score": 0.93},
                "organism": "Mus musculus",
            },
            "identifiers": ["RUN-1", "LIV-0042", "LIV-0043"],
            "links": [Link(rel=LinkType.USES_SAMPLE, target="sample:LIV-0042")],
            "created_at": base,
        },
        {
            "kind": "package",
            "entity": "run",
            "data_level": "processed",
            "metadata": {
                "instrument": "HiSeq 2500",
                "read_count": 500_000,
                "samples": ["KID-0001"],
                "date": "2023-11-20",
                "qc": {"passed": False, "score": 0.41},
                "organism": "Homo sapiens",
            },
            "identifiers": ["RUN-2", "KID-0001"],
            "links": [
                Link(rel=LinkType.USES_SAMPLE, target="sample:KID-0001"),
                Link(rel=LinkType.DERIVED_FROM, target="pkg:raw-2"),
            ],
            "created_at": base.replace(month=6),
        },
        {
            "kind": "package_entry",
            "entity": "file",
            "metadata": {"instrument": "NovaSeq 6000", "read_count": 1_000_000.5, "size": 10},
            "identifiers": ["reads_1.fastq.gz"],
            "links": [Link(rel=LinkType.PART_OF, target="pkg:run-1")],
        },
        {
            "kind": "sample",
            "entity": "sample",
            "metadata": {"samples": "LIV-0042", "organism": "Mus musculus", "tags": []},
            "identifiers": ["LIV-0042"],
        },
        {
            "kind": "experiment",
            "entity": "experiment",
            "metadata": {
                "experiment_id": "ELN-123",
                "instrument": None,
                "read_count": "2000000",  # a string: never equal to the number 2000000
                "flags": [True, "yes", 3],
                "nested": {"deeper": {"key": "value"}},
            },
            "identifiers": ["ELN-123"],
            "links": [Link(rel=LinkType.DESCRIBES, target="pkg:run-1")],
            "created_at": base.replace(year=2025),
        },
        {
            "kind": "file",
            "data_level": "final",
            "metadata": {"size": 0, "qc": "pending", "project key": "alpha"},
            "provenance": Provenance(source="src://other", package="team/final"),
            "source": "src://other",
        },
        {"kind": "file", "metadata": {}},
    ]
    return [
        make_asset(f"f{i:02d}", title=f"filter asset {i}", **spec) for i, spec in enumerate(specs)
    ]


# Every operator, on every kind of field, including type mismatches and missing keys.
FILTERS: list[dict[str, Any]] = [
    {"kind": "package"},
    {"kind": {"in": ["sample", "experiment"]}},
    {"kind": {"ne": "file"}},
    {"entity": "run"},
    {"entity": {"exists": False}},
    {"entity": {"ne": "run"}},
    {"data_level": {"exists": True}},
    {"source": "src://other"},
    {"id": {"gte": "f03"}},
    {"title": "filter asset 2"},
    {"created_at": {"gte": "2024-06-01"}},
    {"created_at": {"exists": False}},
    {"created_at": {"gte": 5}},
    {"kind": 5},
    {"entity": {"in": ["run", "sample"]}},
    {"instrument": "NovaSeq 6000"},
    {"metadata.instrument": {"in": ["HiSeq 2500", "MiSeq"]}},
    {"instrument": {"ne": "NovaSeq 6000"}},
    {"instrument": {"exists": True}},
    {"instrument": {"exists": False}},
    {"read_count": {"gte": 1_000_000}},
    {"read_count": {"gt": 400_000, "lt": 1_500_000}},
    {"read_count": 2_000_000},
    {"read_count": "2000000"},
    {"read_count": {"lte": "3"}},
    {"samples": "LIV-0042"},
    {"samples": {"in": ["KID-0001", "nope"]}},
    {"samples": {"ne": "LIV-0042"}},
    {"samples": {"exists": True}},
    {"tags": {"exists": True}},
    {"date": {"gte": "2024-01-01"}},
    {"date": {"lt": "2024-01-01"}},
    {"qc.passed": True},
    {"qc.passed": False},
    {"qc.score": {"gt": 0.5}},
    {"qc": "pending"},
    {"qc": {"exists": True}},
    {"flags": True},
    {"flags": 3},
    {"flags": "yes"},
    {"flags": 1},
    {"nested.deeper.key": "value"},
    {"nested.deeper": {"exists": True}},
    {"nested.deeper": "value"},
    {"nested.deeper.missing": {"ne": "x"}},
    {"size": 0},
    {"size": {"lt": 5}},
    {"size": False},
    {"project key": "alpha"},
    {"provenance.package": "team/final"},
    {"provenance.package": {"exists": False}},
    {"identifiers": "LIV-0042"},
    {"identifiers": {"in": ["ELN-123", "RUN-2"]}},
    {"identifiers": {"ne": "LIV-0042"}},
    {"identifiers": {"exists": False}},
    {"identifiers": {"gte": "RUN"}},
    {"links": "pkg:run-1"},
    {"links.uses_sample": "sample:LIV-0042"},
    {"links.uses_sample": {"exists": True}},
    {"links.part_of": {"exists": False}},
    {"links.derived_from": {"ne": "pkg:raw-2"}},
    {"kind": "package", "instrument": "NovaSeq 6000"},
    {"and": [{"kind": "package"}, {"read_count": {"lt": 1_000_000}}]},
    {"or": [{"samples": "LIV-0042"}, {"identifiers": "ELN-123"}]},
    {"not": {"kind": "package"}},
    {"not": {"or": [{"instrument": {"exists": True}}, {"data_level": "final"}]}},
    {"or": [{"and": [{"entity": "run"}, {"not": {"qc.passed": True}}]}, {"size": {"gte": 10}}]},
]


class StoreConformance:
    """Mixin with the tests every store must pass. Override the fixtures below."""

    @pytest.fixture
    def store(self) -> AssetStore:
        raise NotImplementedError("the backend's test class must provide a `store` fixture")

    @pytest.fixture
    def reopen_with_model(self) -> Callable[[str, int], AssetStore]:
        raise NotImplementedError("the backend's test class must provide `reopen_with_model`")

    @pytest.fixture
    def reopen(self) -> Callable[[bool], AssetStore]:
        raise NotImplementedError("the backend's test class must provide `reopen`")

    # ---------------------------------------------------------------- comparison helpers

    def assert_same_assets(self, got: Asset | None, expected: Asset) -> None:
        """Backends that round timestamps or similar may override this."""
        assert got is not None, f"asset {expected.id} not returned"
        assert got.model_dump(mode="json") == expected.model_dump(mode="json")

    def assert_same_ids(
        self, got: Iterable[str], expected: Iterable[str], context: str = ""
    ) -> None:
        """Order-insensitive id comparison."""
        assert sorted(got) == sorted(expected), context

    # ---------------------------------------------------------------- writes

    def test_upsert_get_round_trip_keeps_every_field(self, store: AssetStore) -> None:
        asset = make_asset(
            "quilt:s3://lab#team/rnaseq",
            kind="package",
            entity="run",
            data_level="processed",
            title="RNA-seq of liver — dexamethasone (ünïcode)",
            text="Counts for samples LIV-0042 and LIV-0043.\nSecond line.",
            metadata={
                "run_id": "SRR5124371",
                "samples": ["LIV-0042", "LIV-0043"],
                "read_count": 12345678,
                "ratio": 0.25,
                "qc": {"passed": True, "notes": None},
                "date": "2024-03-05",
            },
            identifiers=["SRR5124371", "LIV-0042", "LIV-0043"],
            links=[
                Link(rel=LinkType.USES_SAMPLE, target="sample:LIV-0042"),
                Link(rel=LinkType.DERIVED_FROM, target="quilt:s3://lab#team/raw"),
            ],
            provenance=Provenance(
                source="quilt+s3://lab",
                registry="s3://lab",
                package="team/rnaseq",
                top_hash="abc123",
                s3_uri="s3://lab/.quilt/packages/abc123",
                version_id="v1",
            ),
            source="quilt+s3://lab",
            groups=["lab-a", "public"],
            created_at=datetime(2024, 3, 5, 12, 30, tzinfo=UTC),
            updated_at=datetime(2024, 3, 6, 8, 0, tzinfo=UTC),
            errors=["reads.bam: truncated"],
        )
        store.upsert([indexed(asset, unit(1))])
        self.assert_same_assets(store.get(asset.id, OPERATOR), asset)
        self.assert_same_assets(store.get(asset.id, LAB_A), asset)
        assert store.info().count == 1
        assert store.info().dimension == DIM
        assert store.info().model == MODEL

    def test_upsert_is_idempotent_and_replaces(self, store: AssetStore) -> None:
        first = make_asset("a1", title="Old title", text="zebrafish embryos")
        store.upsert([indexed(first)])
        store.upsert([indexed(first)])
        assert store.info().count == 1
        second = make_asset("a1", title="New title", text="axolotl regeneration")
        store.upsert([indexed(second)])
        assert store.info().count == 1
        self.assert_same_assets(store.get("a1", OPERATOR), second)
        old = store.search(SearchRequest(text="zebrafish", mode=SearchMode.BM25), OPERATOR)
        new = store.search(SearchRequest(text="axolotl", mode=SearchMode.BM25), OPERATOR)
        assert ids(old) == [], "the replaced text must no longer be searchable"
        assert ids(new) == ["a1"]

    def test_upsert_is_all_or_nothing(self, store: AssetStore) -> None:
        store.upsert([indexed(make_asset("kept", title="old title"))])
        good = indexed(make_asset("good"))
        replaced = indexed(make_asset("kept", title="new title"))
        bad = IndexedAsset(make_asset("bad"), [1.0, 0.0], "hash")  # wrong dimension
        with pytest.raises(LabsearchError):
            store.upsert([good, replaced, bad])
        assert store.get("good", OPERATOR) is None
        assert store.get("kept", OPERATOR).title == "old title"
        assert store.info().count == 1

    def test_delete_returns_how_many_existed(self, store: AssetStore) -> None:
        store.upsert([indexed(make_asset(f"d{i}", text="deletable marmot")) for i in range(3)])
        assert store.delete(["d0", "d1", "missing"]) == 2
        assert store.delete(["missing"]) == 0
        assert store.get("d0", OPERATOR) is None
        assert ids(store.match(None, OPERATOR).assets) == ["d2"]
        hits = store.search(SearchRequest(text="marmot", mode=SearchMode.BM25), OPERATOR)
        assert ids(hits) == ["d2"]

    def test_hashes_by_source(self, store: AssetStore) -> None:
        one = [make_asset(f"s{i}", source="src://one") for i in range(3)]
        two = [make_asset("t0", source="src://two")]
        store.upsert([indexed(a) for a in one + two])
        assert store.hashes_by_source("src://one") == {a.id: a.content_hash(MODEL) for a in one}
        assert store.hashes_by_source("src://two") == {"t0": two[0].content_hash(MODEL)}
        assert store.hashes_by_source("src://none") == {}

    def test_model_mismatch_names_both_models(
        self, store: AssetStore, reopen_with_model: Callable[[str, int], AssetStore]
    ) -> None:
        store.upsert([indexed(make_asset("m1"))])
        with pytest.raises(ModelMismatchError) as error:
            reopen_with_model("other-model", DIM)
        assert MODEL in str(error.value) and "other-model" in str(error.value)
        with pytest.raises(ModelMismatchError):
            reopen_with_model(MODEL, DIM + 1)

    # ---------------------------------------------------------------- permissions

    def _permission_corpus(self, store: AssetStore) -> None:
        store.upsert(
            [
                indexed(make_asset("p-a", groups=["lab-a"], text="secret liver data"), unit(0)),
                indexed(make_asset("p-b", groups=["lab-b"], text="secret kidney data"), unit(1)),
                indexed(make_asset("p-pub", groups=["public"], text="public liver data"), unit(2)),
                indexed(make_asset("p-none", groups=[], text="operator only liver"), unit(3)),
            ]
        )

    def test_get_respects_groups_missing_and_forbidden_look_the_same(
        self, store: AssetStore
    ) -> None:
        self._permission_corpus(store)
        assert store.get("p-a", LAB_A) is not None
        assert store.get("p-pub", LAB_A) is not None
        assert store.get("p-b", LAB_A) is None
        assert store.get("p-none", LAB_A) is None
        assert store.get("nonexistent", LAB_A) is None
        got = store.get_many(["p-pub", "p-b", "nonexistent", "p-a"], LAB_A)
        assert ids(got) == ["p-pub", "p-a"], "visible assets, in the order asked for"

    def test_operator_sees_everything(self, store: AssetStore) -> None:
        self._permission_corpus(store)
        self.assert_same_ids(
            ids(store.match(None, OPERATOR).assets), ["p-a", "p-b", "p-pub", "p-none"]
        )
        assert store.get("p-none", OPERATOR) is not None
        hits = store.search(SearchRequest(text="liver", mode=SearchMode.BM25), OPERATOR)
        self.assert_same_ids(ids(hits), ["p-a", "p-pub", "p-none"])

    def test_no_groups_sees_nothing_and_does_not_raise(self, store: AssetStore) -> None:
        self._permission_corpus(store)
        for mode in ALL_MODES:
            request = SearchRequest(text="liver data", vector=unit(0), mode=mode)
            assert store.search(request, NOBODY) == []
        result = store.match(None, NOBODY)
        assert result.assets == [] and result.count == 0
        assert all(not counts for counts in store.facets(["kind"], NOBODY).values())
        assert store.get("p-pub", NOBODY) is None
        assert store.get_many(["p-a", "p-pub"], NOBODY) == []

    def test_groups_apply_in_search_match_and_facets(self, store: AssetStore) -> None:
        self._permission_corpus(store)
        for mode in ALL_MODES:
            request = SearchRequest(text="secret liver kidney", vector=unit(1), mode=mode)
            seen = set(ids(store.search(request, LAB_A)))
            assert seen <= {"p-a", "p-pub"}, f"{mode}: lab-a saw {seen}"
        self.assert_same_ids(ids(store.match(None, LAB_B).assets), ["p-b", "p-pub"])
        assert store.facets(["kind"], LAB_B) == {"kind": {"file": 2}}

    # ---------------------------------------------------------------- filters

    def test_every_filter_agrees_with_the_reference_semantics(self, store: AssetStore) -> None:
        corpus = filter_corpus()
        store.upsert([indexed(a, seed=i) for i, a in enumerate(corpus)])
        failures = []
        for spec in FILTERS:
            node = grammar.parse(spec)
            expected = [a.id for a in corpus if grammar.matches(node, a.model_dump(mode="json"))]
            got = ids(store.match(spec, OPERATOR).assets)
            if sorted(got) != sorted(expected):
                failures.append(f"{spec}: expected {sorted(expected)}, got {sorted(got)}")
        assert not failures, "filters disagree with labsearch.filters.matches:\n" + "\n".join(
            failures
        )

    def test_invalid_filter_is_a_clear_error(self, store: AssetStore) -> None:
        with pytest.raises(InvalidFilterError, match="regex"):
            store.match({"kind": {"regex": "pack.*"}}, OPERATOR)
        with pytest.raises(InvalidFilterError, match="links.bogus"):
            store.search(SearchRequest(text="x", filters={"links.bogus": "y"}), OPERATOR)

    def _needles_among_haystack(self, store: AssetStore) -> None:
        """2,000 assets that score better than the 5 that pass the filter, on both sides."""
        hay = [
            indexed(
                make_asset(
                    f"hay-{i:04d}",
                    title="liver liver",
                    text="liver biopsy liver RNA-seq liver",
                    metadata={"project": "haystack"},
                ),
                unit(0, jitter=0.05, seed=i),
            )
            for i in range(2000)
        ]
        needles = [
            indexed(
                make_asset(
                    f"needle-{i}",
                    title=f"needle {i}",
                    text="a long description that mentions the liver only once among many words",
                    metadata={"project": "needle"},
                ),
                unit(4, jitter=0.05, seed=10_000 + i),
            )
            for i in range(5)
        ]
        for start in range(0, len(hay), 500):
            store.upsert(hay[start : start + 500])
        store.upsert(needles)

    @pytest.mark.parametrize("mode", ALL_MODES)
    def test_filtered_search_returns_every_match_beyond_k(
        self, store: AssetStore, mode: SearchMode
    ) -> None:
        self._needles_among_haystack(store)
        request = SearchRequest(
            text="liver", vector=unit(0), filters={"project": "needle"}, k=10, mode=mode
        )
        hits = store.search(request, LAB_A)
        self.assert_same_ids(ids(hits), [f"needle-{i}" for i in range(5)], f"mode {mode}")

    def test_match_count_is_exact_when_limit_cuts(self, store: AssetStore) -> None:
        items = [
            indexed(make_asset(f"m{i:02d}", metadata={"assay": "RNA-seq" if i % 2 else "ATAC"}))
            for i in range(50)
        ]
        store.upsert(items)
        result = store.match({"assay": "RNA-seq"}, LAB_A, limit=10)
        assert result.count == 25
        expected = sorted(a.asset.id for a in items if a.asset.metadata["assay"] == "RNA-seq")
        assert ids(result.assets) == expected[:10], "match is ordered by id"
        full = store.match({"assay": "RNA-seq"}, LAB_A)
        assert full.count == 25 and ids(full.assets) == expected

    def test_facets_count_only_visible_and_filtered_assets(self, store: AssetStore) -> None:
        specs = [
            ("x1", "lab-a", "package", "NovaSeq", ["S1", "S2"]),
            ("x2", "lab-a", "package", "NovaSeq", ["S2"]),
            ("x3", "lab-a", "file", "HiSeq", ["S3"]),
            ("x4", "lab-b", "package", "NovaSeq", ["S1"]),
            ("x5", "public", "file", "MiSeq", ["S2"]),
            ("x6", "lab-a", "sample", "NovaSeq", []),
        ]
        store.upsert(
            [
                indexed(
                    make_asset(
                        asset_id,
                        groups=[group],
                        kind=kind,
                        text=f"{instrument} sequencing of tumour" if kind != "sample" else "tissue",
                        metadata={"instrument": instrument, "samples": samples},
                        identifiers=samples,
                    )
                )
                for asset_id, group, kind, instrument, samples in specs
            ]
        )
        counts = store.facets(["kind", "instrument", "metadata.samples", "identifiers"], LAB_A)
        assert counts["kind"] == {"package": 2, "file": 2, "sample": 1}
        assert counts["instrument"] == {"NovaSeq": 3, "HiSeq": 1, "MiSeq": 1}
        assert counts["metadata.samples"] == {"S2": 3, "S1": 1, "S3": 1}
        assert counts["identifiers"] == {"S2": 3, "S1": 1, "S3": 1}
        filtered = store.facets(["kind", "samples"], LAB_A, filters={"instrument": "NovaSeq"})
        assert filtered == {"kind": {"package": 2, "sample": 1}, "samples": {"S2": 2, "S1": 1}}
        with_text = store.facets(["kind"], LAB_A, text="tumour")
        assert with_text == {"kind": {"package": 2, "file": 2}}
        assert list(store.facets(["instrument"], LAB_A, size=1)["instrument"]) == ["NovaSeq"]

    def test_values_list_every_visible_value_without_a_top_n_cut(self, store: AssetStore) -> None:
        # More distinct instruments than any facet size or result page: a value dictionary that
        # stopped at the 200th (or 1000th) would never recognise the 1,201st instrument.
        visible = [f"Sequencer {n:04d}" for n in range(1201)]
        assets = [
            make_asset(f"v{n}", metadata={"instrument": name, "samples": [f"S{n}", "shared"]})
            for n, name in enumerate(visible)
        ]
        assets.append(make_asset("hidden", groups=["lab-b"], metadata={"instrument": "Secret X"}))
        assets.append(make_asset("raw", kind="sample", metadata={"instrument": visible[0]}))
        store.upsert([indexed(a, seed=i) for i, a in enumerate(assets)])
        values = store.values("metadata.instrument", LAB_A)
        assert len(values) == 1201 and "Secret X" not in values
        assert values[visible[0]] == 2 and values[visible[-1]] == 1
        assert store.values("instrument", LAB_B) == {"Secret X": 1}
        assert store.values("metadata.instrument", LAB_A, filters={"kind": "sample"}) == {
            visible[0]: 1
        }
        samples = store.values("metadata.samples", LAB_A)
        assert samples["shared"] == 1201 and len(samples) == 1202
        assert store.values("kind", LAB_A) == {"file": 1201, "sample": 1}
        assert store.values("metadata.instrument", NOBODY) == {}

    # ---------------------------------------------------------------- ranking

    def test_bm25_ranks_the_document_with_the_query_terms_first(self, store: AssetStore) -> None:
        store.upsert(
            [
                indexed(make_asset("r1", text="mouse brain single-cell atlas")),
                indexed(make_asset("r2", title="Hepatocyte RNA-seq", text="hepatocyte culture")),
                indexed(make_asset("r3", text="kidney organoid imaging")),
            ]
        )
        hits = store.search(SearchRequest(text="hepatocyte", mode=SearchMode.BM25), LAB_A)
        assert ids(hits)[0] == "r2"
        assert hits[0].bm25_rank == 1
        assert all(h.dense_rank is None for h in hits)

    def test_query_syntax_characters_do_not_break_text_search(self, store: AssetStore) -> None:
        store.upsert([indexed(make_asset("q1", text="liver AND kidney (NEAR) study"))])
        for text in ["liver AND", '"unbalanced', "NEAR(liver", "liver*", "-kidney", "a:b OR", "()"]:
            for mode in (SearchMode.BM25, SearchMode.HYBRID):
                store.search(SearchRequest(text=text, vector=unit(0), mode=mode), LAB_A)
        hits = store.search(SearchRequest(text='liver "AND" (', mode=SearchMode.BM25), LAB_A)
        assert ids(hits) == ["q1"]

    def test_dense_ranks_the_nearest_vector_first(self, store: AssetStore) -> None:
        store.upsert([indexed(make_asset(f"v{i}"), unit(i)) for i in range(DIM)])
        hits = store.search(
            SearchRequest(vector=unit(3, 0.1, seed=1), mode=SearchMode.DENSE), LAB_A
        )
        assert ids(hits)[0] == "v3"
        assert hits[0].dense_rank == 1 and hits[0].bm25_rank is None
        assert hits[0].score >= hits[1].score

    def test_hybrid_prefers_a_document_strong_on_both_sides(self, store: AssetStore) -> None:
        items = [
            # strong on both: matches the text, second-nearest vector
            indexed(make_asset("both", text="hepatocyte culture"), unit(0, 0.2, seed=1)),
            # best BM25, but a distant vector
            indexed(
                make_asset("text-only", title="hepatocyte", text="hepatocyte hepatocyte"),
                unit(4),
            ),
            # the nearest vector, no text match
            indexed(make_asset("vector-only", text="unrelated words"), unit(0)),
        ]
        # Fillers push "text-only" down the dense ranking; none matches the text.
        items += [
            indexed(make_asset(f"filler-{i}", text="nothing here"), unit(0, 0.6, seed=100 + i))
            for i in range(6)
        ]
        store.upsert(items)
        request = SearchRequest(text="hepatocyte", vector=unit(0), mode=SearchMode.HYBRID, k=5)
        hits = store.search(request, LAB_A)
        assert ids(hits)[0] == "both"
        assert hits[0].bm25_rank is not None and hits[0].dense_rank is not None
        fusion = FusionSettings()
        expected = fusion.bm25_weight / (fusion.rrf_k + hits[0].bm25_rank) + (
            fusion.dense_weight / (fusion.rrf_k + hits[0].dense_rank)
        )
        assert hits[0].score == pytest.approx(expected)
        bm25_only = store.search(
            SearchRequest(
                text="hepatocyte",
                vector=unit(0),
                fusion=FusionSettings(dense_weight=0.0),
                mode=SearchMode.HYBRID,
            ),
            LAB_A,
        )
        assert ids(bm25_only)[0] == "text-only", "weights steer the fusion"

    def test_identifiers_are_found_by_text_search(self, store: AssetStore) -> None:
        store.upsert(
            [
                indexed(make_asset("s42", title="Liver sample", identifiers=["LIV-0042"])),
                indexed(make_asset("s43", title="Liver sample", identifiers=["LIV-0043"])),
                indexed(make_asset("run71", title="Sequencing run", identifiers=["SRR5124371"])),
                indexed(make_asset("run72", title="Sequencing run", identifiers=["SRR5124372"])),
                indexed(make_asset("txt", text="reads from run SRR5124371 were trimmed")),
            ]
        )
        for text, best in [
            ("LIV-0042", "s42"),
            ("which runs used sample LIV-0042?", "s42"),
            ("SRR5124371", "run71"),
        ]:
            for mode in (SearchMode.BM25, SearchMode.HYBRID):
                hits = store.search(SearchRequest(text=text, vector=unit(5), mode=mode), LAB_A)
                assert ids(hits)[0] == best, f"{text!r} ({mode}): {ids(hits)}"
        hits = store.search(SearchRequest(text="SRR5124371", mode=SearchMode.BM25), LAB_A)
        self.assert_same_ids(ids(hits), ["run71", "txt"])

    def test_highlights_contain_the_query_term(self, store: AssetStore) -> None:
        store.upsert(
            [
                indexed(
                    make_asset(
                        "h1",
                        text="Mice were treated with dexamethasone for 24 hours before the "
                        "livers were collected and RNA was extracted.",
                    ),
                    unit(0),
                ),
                indexed(make_asset("h2", text="untreated controls"), unit(1)),
            ]
        )
        for mode in (SearchMode.BM25, SearchMode.HYBRID):
            request = SearchRequest(text="dexamethasone", vector=unit(1), mode=mode)
            by_id = {h.asset.id: h for h in store.search(request, LAB_A)}
            assert by_id["h1"].highlights, f"{mode}: no highlight"
            assert any("dexamethasone" in h.lower() for h in by_id["h1"].highlights)
        no = store.search(SearchRequest(text="dexamethasone", highlight=False), LAB_A)
        assert no[0].highlights == []

    @pytest.mark.parametrize("mode", ALL_MODES)
    def test_offset_pages_through_the_ranking(self, store: AssetStore, mode: SearchMode) -> None:
        store.upsert(
            [
                indexed(
                    make_asset(f"pg{i:02d}", text="liver " * (1 + i % 7) + f"filler {i}"),
                    unit(0, 0.3, seed=i),
                )
                for i in range(20)
            ]
        )
        base = SearchRequest(text="liver", vector=unit(0), mode=mode)
        full = ids(store.search(SearchRequest(**{**base.__dict__, "k": 12}), LAB_A))
        pages = []
        for offset in (0, 4, 8):
            request = SearchRequest(**{**base.__dict__, "k": 4, "offset": offset})
            pages += ids(store.search(request, LAB_A))
        assert pages == full
        assert len(set(pages)) == 12

    def test_new_data_is_visible_to_the_next_search(self, store: AssetStore) -> None:
        store.upsert([indexed(make_asset("n1", text="okapi"), unit(0))])
        assert ids(store.search(SearchRequest(vector=unit(0), mode=SearchMode.DENSE), LAB_A)) == [
            "n1"
        ]
        store.upsert([indexed(make_asset("n2", text="okapi"), unit(2))])
        hits = store.search(SearchRequest(vector=unit(2), mode=SearchMode.DENSE), LAB_A)
        assert ids(hits) == ["n2", "n1"]
        store.delete(["n2"])
        hits = store.search(SearchRequest(vector=unit(2), mode=SearchMode.DENSE), LAB_A)
        assert ids(hits) == ["n1"]

    # ---------------------------------------------------------------- changing groups

    def _regroup_corpus(self, store: AssetStore) -> Asset:
        moving = make_asset(
            "r-move",
            text="liver biopsy sequencing",
            metadata={"instrument": "NovaSeq 6000"},
            rule_keys=["src://test", "/data/lab-a"],
        )
        staying = make_asset("r-stay", kind="sample", text="kidney cortex")
        store.upsert([indexed(moving, unit(0)), indexed(staying, unit(1))])
        return moving

    def _searches(self, store: AssetStore, access: Access) -> list[list[str]]:
        """Ids each search mode returns for the moving asset's text and vector."""
        return [
            ids(store.search(SearchRequest(text="liver", vector=unit(0), mode=mode), access))
            for mode in ALL_MODES
        ]

    def test_set_groups_changes_who_sees_an_asset_everywhere(self, store: AssetStore) -> None:
        moving = self._regroup_corpus(store)
        # Read first, so that anything a backend caches about groups is warm.
        assert all("r-move" in found for found in self._searches(store, LAB_A))
        assert all(found == [] for found in self._searches(store, LAB_B))
        moved = moving.model_copy(update={"groups": ["lab-b"]})
        new_hash = moved.content_hash(MODEL)
        changed = store.set_groups(
            [GroupsUpdate("r-move", ["lab-b"], new_hash), GroupsUpdate("unknown", ["x"], "h")]
        )
        assert changed == 1, "unknown ids are ignored"
        assert store.get("r-move", LAB_A) is None
        self.assert_same_assets(store.get("r-move", LAB_B), moved)
        assert ids(store.get_many(["r-move", "r-stay"], LAB_A)) == ["r-stay"]
        assert all("r-move" not in found for found in self._searches(store, LAB_A))
        assert all(found[:1] == ["r-move"] for found in self._searches(store, LAB_B))
        self.assert_same_ids(ids(store.match(None, LAB_A).assets), ["r-stay"])
        self.assert_same_ids(ids(store.match(None, LAB_B).assets), ["r-move"])
        assert store.facets(["kind"], LAB_A) == {"kind": {"sample": 1}}
        assert store.facets(["kind"], LAB_B) == {"kind": {"file": 1}}
        assert store.values("metadata.instrument", LAB_A) == {}
        assert store.values("metadata.instrument", LAB_B) == {"NovaSeq 6000": 1}
        assert store.hashes_by_source("src://test")["r-move"] == new_hash

    def test_set_groups_keeps_vector_and_text(self, store: AssetStore) -> None:
        self._regroup_corpus(store)
        store.set_groups([GroupsUpdate("r-move", ["lab-b", "lab-c"], "new-hash")])
        dense = store.search(SearchRequest(vector=unit(0), mode=SearchMode.DENSE), LAB_B)
        assert ids(dense) == ["r-move"] and dense[0].score == pytest.approx(1.0, abs=1e-4)
        bm25 = store.search(SearchRequest(text="biopsy", mode=SearchMode.BM25), LAB_B)
        assert ids(bm25) == ["r-move"]
        asset = store.get("r-move", Access.for_groups(["lab-c"]))
        assert asset is not None and asset.groups == ["lab-b", "lab-c"]
        assert asset.rule_keys == ["src://test", "/data/lab-a"]
        assert store.info().count == 2

    def test_set_groups_to_none_leaves_only_the_operator(self, store: AssetStore) -> None:
        self._regroup_corpus(store)
        assert store.set_groups([GroupsUpdate("r-move", [], "h")]) == 1
        assert store.get("r-move", LAB_A) is None
        assert store.get("r-move", OPERATOR) is not None
        assert store.set_groups([]) == 0

    def test_iter_assets_pages_through_everything_in_id_order(self, store: AssetStore) -> None:
        assets = [make_asset(f"it-{i:02d}", groups=[] if i % 2 else ["lab-a"]) for i in range(7)]
        store.upsert([indexed(a, seed=i) for i, a in enumerate(assets)])
        batches = list(store.iter_assets(batch_size=3))
        assert [len(batch) for batch in batches] == [3, 3, 1]
        stored = [item for batch in batches for item in batch]
        assert [item.asset.id for item in stored] == [a.id for a in assets]
        for item, asset in zip(stored, assets, strict=True):
            self.assert_same_assets(item.asset, asset)
            assert item.content_hash == asset.content_hash(MODEL)
        assert list(store.iter_assets(batch_size=7))[-1][-1].asset.id == "it-06"

    # ---------------------------------------------------------------- rebuilds

    def test_writes_during_a_rebuild_are_kept_after_it_is_published(
        self, store: AssetStore, reopen: Callable[[bool], AssetStore]
    ) -> None:
        """`labsearch watch` or an ingest (another store object, possibly another process)
        writes while `labsearch index --rebuild` loads the new index: once the rebuild is
        published, what they wrote and deleted still holds, even where the rebuild wrote an
        older version of the same asset before or after them."""
        old = [make_asset(name, title=f"{name} before the rebuild") for name in ("a", "b", "c")]
        store.upsert([indexed(asset, seed=i) for i, asset in enumerate(old)])
        rebuild = reopen(True)
        live = reopen(False)
        try:
            # The rebuild read its sources before the live writes below.
            stale = [make_asset(name, title=f"{name} as the rebuild read it") for name in "abc"]
            rebuild.upsert([indexed(stale[0]), indexed(stale[1])])
            written = make_asset("a", title="a written during the rebuild", text="ocelot")
            added = make_asset("new", title="added during the rebuild", text="pangolin")
            live.upsert([indexed(written, unit(1)), indexed(added, unit(2))])
            assert live.delete(["b", "c"]) == 2
            store.set_groups([GroupsUpdate("a", ["lab-b"], "regrouped")])  # a third writer
            # ...and wrote its older versions of the same assets after them.
            rebuild.upsert([indexed(stale[0]), indexed(stale[2])])
            rebuild.finish_rebuild()
            regrouped = written.model_copy(update={"groups": ["lab-b"]})
            for reader in (live, store, rebuild):
                self.assert_same_assets(reader.get("a", OPERATOR), regrouped)
                self.assert_same_assets(reader.get("new", OPERATOR), added)
                assert reader.get("b", OPERATOR) is None and reader.get("c", OPERATOR) is None
                assert reader.info().count == 2
                hits = reader.search(SearchRequest(text="pangolin", vector=unit(2)), OPERATOR)
                assert ids(hits)[:1] == ["new"]
                assert reader.hashes_by_source("src://test")["a"] == "regrouped"
        finally:
            live.close()
            rebuild.close()


__all__ = ["StoreConformance", "indexed", "make_asset", "unit", "ids", "DIM", "MODEL"]
