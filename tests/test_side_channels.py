"""What a query costs tells nothing about rows the caller cannot see (embedded store).

The work is counted deterministically: a SQLite progress handler called on every VM step
counts the steps each read takes. Bob (lab B) asks about a value only lab A's assets hold and
about a value nobody holds; the two must cost exactly the same number of steps, for filters
(exact answers), facets, value listings, full text and ranked search. And the work bob's own
questions take must not change when lab A adds data.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from labsearch.access import Access
from labsearch.schema import Asset, Provenance
from labsearch.stores import vectors
from labsearch.stores.embedded import EmbeddedStore
from labsearch.stores.protocol import IndexedAsset, SearchMode, SearchRequest

DIM = 8
BOB = Access.for_groups(["lab-b"], user="bob")
OPERATOR = Access.as_operator()
SOURCE = "s3://lab-bucket/runs"
FIXTURES = Path(__file__).parent / "fixtures"


def run(lab: str, i: int) -> IndexedAsset:
    """A sequencing run of `lab`; lab A's hold words, identifiers and values lab B's never do."""
    secret = lab == "a"
    words = "hepatocyte organoid" if secret else "kidney biopsy"
    asset = Asset(
        id=f"{lab}-run-{i}",
        source=f"{SOURCE}/{lab}",
        kind="assay",
        entity="run",
        title=f"Run {i} {words} RNA-seq",
        text=f"Sequencing run {i} of {words} sample {lab.upper()}-S{i % 7} on the NovaSeq",
        identifiers=[f"{'SRRA' if secret else 'SRRB'}{5000 + i}", f"{lab.upper()}-S{i % 7}"],
        metadata={
            "instrument": "NovaSeq 6000",
            "sample": f"{lab.upper()}-S{i % 7}",
            "read_count": 1000 + i,
            "run_accession": f"{'SRRA' if secret else 'ERRB'}{5000 + i}",
            **({"lab_a_only_key": f"v{i % 3}"} if secret else {}),
        },
        created_at=f"{2021 if secret else 2023}-03-{1 + i % 28:02d}T00:00:00Z",
        provenance=Provenance(source=f"{SOURCE}/{lab}"),
        groups=[f"lab-{lab}"],
    )
    vector = np.random.default_rng(i + (1000 if secret else 0)).normal(size=DIM)
    return IndexedAsset(asset, (vector / np.linalg.norm(vector)).tolist(), f"{lab}{i}")


@pytest.fixture
def store(tmp_path: Path):
    store = EmbeddedStore.open(tmp_path / "index", "test-model", DIM)
    store.upsert([run("b", i) for i in range(40)])
    store.upsert([run("a", i) for i in range(300)])
    yield store
    store.close()


def steps(store: EmbeddedStore, read: Callable[[], object]) -> int:
    """VM steps SQLite runs for `read` (after a first call, so in-memory indexes are warm)."""
    read()
    counted = [0]

    def count() -> int:
        counted[0] += 1
        return 0  # never interrupt

    def counting(conn) -> None:
        conn.set_progress_handler(count, 1)

    original = store._start_deadline
    store._start_deadline = counting
    try:
        read()
    finally:
        store._start_deadline = original
    assert counted[0] > 0, "no step was counted: the store no longer starts reads this way"
    return counted[0]


def _range(field: str, low: str, high: str) -> dict:
    return {field: {"gte": low, "lt": high}}


# (what is asked, a question about lab A's data, the same question about nothing)
HIDDEN_VERSUS_MISSING = [
    ("identifier", {"identifiers": "SRRA5007"}, {"identifiers": "SRRZ5007"}),
    (
        "identifier list",
        {"identifiers": {"in": ["SRRA5007", "A-S1"]}},
        {"identifiers": {"in": ["SRRZ5007", "Z-S1"]}},
    ),
    (
        "accession range (a prefix)",
        _range("metadata.run_accession", "SRRA", "SRRB"),
        _range("metadata.run_accession", "SRRC", "SRRD"),
    ),
    ("metadata value", {"metadata.sample": "A-S3"}, {"metadata.sample": "Z-S3"}),
    (
        "metadata key",
        {"metadata.lab_a_only_key": {"exists": True}},
        {"metadata.nobodys_key": {"exists": True}},
    ),
    ("top-level field", {"source": f"{SOURCE}/a"}, {"source": f"{SOURCE}/z"}),
    (
        "date range",
        _range("created_at", "2021-01-01", "2022-01-01"),
        _range("created_at", "2019-01-01", "2020-01-01"),
    ),
    ("negation", {"not": {"identifiers": "SRRA5007"}}, {"not": {"identifiers": "SRRZ5007"}}),
]

READS: dict[str, Callable[[EmbeddedStore, dict], object]] = {
    "match": lambda store, f: store.match(f, BOB),
    "facets": lambda store, f: store.facets(["metadata.instrument", "kind"], BOB, filters=f),
    "values": lambda store, f: store.values("metadata.sample", BOB, filters=f),
    "search": lambda store, f: store.search(
        SearchRequest(text="sequencing run", filters=f, vector=[1.0] * DIM, k=10), BOB
    ),
}


@pytest.mark.parametrize("read", READS)
@pytest.mark.parametrize(("case", "hidden", "missing"), HIDDEN_VERSUS_MISSING)
def test_a_filter_on_hidden_data_costs_what_one_on_nothing_costs(
    store, read, case, hidden, missing, monkeypatch
) -> None:
    # Every read computes its filter afresh (a repeated filter is otherwise served from the
    # in-memory mask cache, which would hide the reads this test is about).
    monkeypatch.setattr(vectors, "MAX_CACHED_CONDITIONS", 0)
    ask = READS[read]
    assert ask(store, hidden) == ask(store, missing)  # bob is told the same...
    assert steps(store, lambda: ask(store, hidden)) == steps(store, lambda: ask(store, missing))
    # ...and the hidden data is really there (the operator finds it): the test is not vacuous.
    assert store.match(hidden, OPERATOR).count != store.match(missing, OPERATOR).count


@pytest.mark.parametrize(
    "read",
    [
        lambda store, text: store.facets(["metadata.instrument"], BOB, text=text),
        lambda store, text: store.search(SearchRequest(text=text, mode=SearchMode.BM25), BOB),
        lambda store, text: store.search(
            SearchRequest(text=text, vector=[1.0] * DIM, highlight=True), BOB
        ),
    ],
    ids=["facets", "bm25", "hybrid with highlights"],
)
def test_full_text_for_words_only_hidden_data_holds_costs_what_nonsense_costs(store, read) -> None:
    hidden, missing = "hepatocyte organoid", "zyxwv qwertz"
    assert read(store, hidden) == read(store, missing)
    assert steps(store, lambda: read(store, hidden)) == steps(store, lambda: read(store, missing))
    assert store.search(SearchRequest(text=hidden, mode=SearchMode.BM25), OPERATOR)


def test_a_hidden_asset_id_costs_what_a_missing_one_costs(store) -> None:
    assert store.get("a-run-7", BOB) is None and store.get("z-run-7", BOB) is None
    assert steps(store, lambda: store.get("a-run-7", BOB)) == steps(
        store, lambda: store.get("z-run-7", BOB)
    )
    assert store.get("a-run-7", OPERATOR) is not None


def test_bobs_work_and_answers_do_not_change_when_lab_a_adds_data(tmp_path: Path) -> None:
    """Lab A's new runs share bob's words, instrument and sample names: bob's answers, scores
    and the steps his reads take stay exactly what they were. (Highlighting is left out of the
    step count: FTS5 splits its index into more segments as anyone writes, which changes how
    many lookups a snippet takes but not what bob is shown.)"""
    shared = Asset(
        id="a-shared",
        source=f"{SOURCE}/a",
        kind="assay",
        title="Run kidney biopsy RNA-seq",
        text="Sequencing run of kidney biopsy sample B-S1 on the NovaSeq",
        identifiers=["B-S1"],
        metadata={"instrument": "NovaSeq 6000", "sample": "B-S1"},
        provenance=Provenance(source=f"{SOURCE}/a"),
        groups=["lab-a"],
    )
    reads = [
        lambda s: s.match({"metadata.sample": "B-S1"}, BOB),
        lambda s: s.match({"identifiers": "B-S1"}, BOB),
        lambda s: s.facets(["metadata.instrument", "metadata.sample"], BOB),
        lambda s: s.facets(["metadata.sample"], BOB, text="kidney"),
        lambda s: s.values("metadata.sample", BOB),
        lambda s: [
            (hit.asset.id, hit.score)
            for hit in s.search(
                SearchRequest(text="kidney biopsy", vector=[1.0] * DIM, highlight=False), BOB
            )
        ],
    ]
    with EmbeddedStore.open(tmp_path / "index", "test-model", DIM) as store:
        store.upsert([run("b", i) for i in range(40)])
        store.upsert([run("a", 0)])  # lab A's class exists before, as it would in practice
        before = [(read(store), steps(store, lambda r=read: r(store))) for read in reads]
        store.upsert(
            [run("a", i) for i in range(1, 200)] + [IndexedAsset(shared, [1.0] * DIM, "shared")]
        )
        after = [(read(store), steps(store, lambda r=read: r(store))) for read in reads]
        assert store.match({"identifiers": "B-S1"}, OPERATOR).count > before[1][0].count
    assert before == after


def test_an_index_from_before_visibility_classes_is_brought_up_to_date_in_place(
    tmp_path: Path,
) -> None:
    """An index written by the previous schema (tests/fixtures/embedded-v5.sqlite3: 12 runs of
    each lab) opens without a rebuild: every row gets its class, answers are unchanged, and a
    hidden identifier then costs what a missing one costs."""
    directory = tmp_path / "index"
    directory.mkdir()
    shutil.copy(FIXTURES / "embedded-v5.sqlite3", directory / "labsearch.sqlite3")
    with EmbeddedStore.open(directory, "test-model", DIM) as store:
        assert {a.id for a in store.match(None, BOB).assets} == {f"b-run-{i}" for i in range(12)}
        assert store.match({"identifiers": "SRRA5007"}, OPERATOR).count == 1
        assert store.match({"identifiers": "SRRA5007"}, BOB).count == 0
        hidden, missing = {"identifiers": "SRRA5007"}, {"identifiers": "SRRZ5007"}
        assert steps(store, lambda: store.match(hidden, BOB)) == steps(
            store, lambda: store.match(missing, BOB)
        )
        store.upsert([run("b", 12)])  # writes go on in the migrated file
        assert store.match(None, BOB).count == 13
    with sqlite3.connect(directory / "labsearch.sqlite3") as conn:
        (version,) = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        unclassed = conn.execute("SELECT count(*) FROM asset_values WHERE vis = 0").fetchone()
    assert version == "6" and unclassed == (0,)
