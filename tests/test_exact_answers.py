"""Exact answers over run tables and SDRF files, indexed by the real sources and asked through the
real SearchService: free word order, intersections, negation, genus and model families, and the
`complete` flag only when every part of the question bound through structure.

The tables are written here with the columns NCBI SRA RunInfo and SDRF-Proteomics files have (the
accessions are made up); `eval lab --set real` runs the same engine on public tables.
"""

from __future__ import annotations

import csv
import json

import pytest

from indexer.pipeline import Indexer
from labsearch.access import Access
from labsearch.settings import AccessRule, Settings, UserConfig
from labsearch.stores import open_store
from retriever.service import SearchService

RUNINFO = [
    # Run, Experiment, LibraryStrategy, LibraryLayout, Model, BioProject, Sample, BioSample,
    # ScientificName, SampleName
    (
        "SRR9000001",
        "SRX900001",
        "RNA-Seq",
        "PAIRED",
        "Illumina HiSeq 2500",
        "PRJNA900001",
        "SRS900001",
        "SAMN90000001",
        "Zea mays",
        "B73 root",
    ),
    (
        "SRR9000002",
        "SRX900001",
        "RNA-Seq",
        "SINGLE",
        "Illumina HiSeq 2500",
        "PRJNA900001",
        "SRS900001",
        "SAMN90000001",
        "Zea mays",
        "B73 root",
    ),
    (
        "SRR9000003",
        "SRX900002",
        "RNA-Seq",
        "PAIRED",
        "Illumina NovaSeq 6000",
        "PRJNA900001",
        "SRS900001",
        "SAMN90000001",
        "Zea mays",
        "B73 root",
    ),
    (
        "SRR9000004",
        "SRX900003",
        "WGS",
        "PAIRED",
        "PacBio RS II",
        "PRJNA900001",
        "SRS900002",
        "SAMN90000002",
        "Zea mays",
        "Mo17",
    ),
    (
        "SRR9000005",
        "SRX900004",
        "RNA-Seq",
        "PAIRED",
        "Illumina NovaSeq 6000",
        "PRJNA900001",
        "SRS900003",
        "SAMN90000003",
        "Zea luxurians",
        "Zlux-1",
    ),
]
COLUMNS = ["Run", "Experiment", "LibraryStrategy", "LibraryLayout", "Model", "BioProject",
           "Sample", "BioSample", "ScientificName", "SampleName", "spots"]  # fmt: skip
SPOTS = {"SRR9000001": 900, "SRR9000002": 12000, "SRR9000003": 30000, "SRR9000004": 500,
         "SRR9000005": 7000, "SRR9100001": 100}  # fmt: skip
OTHER_LAB = [
    ("SRR9100001", "SRX910001", "RNA-Seq", "PAIRED", "Illumina MiSeq", "PRJNA910001",
     "SRS910001", "SAMN91000001", "Homo sapiens", "donor 7"),
]  # fmt: skip
SDRF = (
    "source name\tcharacteristics[organism]\tcharacteristics[organism part]\tassay name\t"
    "comment[data file]\tcomment[instrument]\n"
    "Sample 1\tMus musculus\tliver\trun 1\tLIV_A_1.raw\tNT=Q Exactive;AC=MS:1001911\n"
    "Sample 1\tMus musculus\tliver\trun 2\tLIV_A_2.raw\tNT=Q Exactive;AC=MS:1001911\n"
    "Sample 2\tMus musculus\tkidney\trun 3\tKID_B_1.raw\tNT=Q Exactive;AC=MS:1001911\n"
)
ALICE = Access.for_groups(["lab-a"], user="alice")
BOB = Access.for_groups(["lab-b"], user="bob")


def _write_table(path, rows):
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows([*row, SPOTS[row[0]]] for row in rows)


@pytest.fixture(scope="module")
def service(tmp_path_factory, embedder):
    root = tmp_path_factory.mktemp("tables")
    _write_table(root / "PRJNA900001_SraRunInfo.csv", RUNINFO)
    _write_table(root / "PRJNA910001_SraRunInfo.csv", OTHER_LAB)
    (root / "PXD900001.sdrf.tsv").write_text(SDRF)
    sources = {
        f"table+file://{root}/PRJNA900001_SraRunInfo.csv": "lab-a",
        f"sdrf+file://{root}/PXD900001.sdrf.tsv": "lab-a",
        f"table+file://{root}/PRJNA910001_SraRunInfo.csv": "lab-b",
    }
    home = root / "home"
    settings = Settings(
        home=home,
        cache_dir=home / "cache",
        backend="embedded",
        users={"alice": UserConfig(groups=["lab-a"]), "bob": UserConfig(groups=["lab-b"])},
        access_rules=[AccessRule(prefix=uri, groups=[g]) for uri, g in sources.items()],
    )
    store = open_store(settings, embedder.dimension)
    indexer = Indexer(settings, store, embedder)
    for uri in sources:
        assert indexer.index(uri).ok
    indexer.close()
    yield SearchService(settings, store, embedder)
    store.close()


def ask(service, question, access=ALICE):
    answer = service.answer(question, access)
    assert answer.result is not None, f"{question!r} was not read as a list question"
    names = {m.metadata.get("run_id") or m.title for m in answer.result.members}
    return answer.result, names


@pytest.mark.parametrize(
    "question",
    [
        "which runs used sample B73 root?",
        'Could you please list every sequencing run made from "B73 root"?',
        "B73 root: runs",
        "Runs of BioSample SAMN90000001",
        "SAMN90000001 was sequenced in which runs?",
    ],
)
def test_runs_of_a_sample_by_any_of_its_names(service, question):
    result, runs = ask(service, question)
    assert runs == {"SRR9000001", "SRR9000002", "SRR9000003"}
    assert result.complete and result.count == 3


def test_two_constraints_intersect_and_negation_excludes(service):
    result, runs = ask(service, "paired-end runs of sample B73 root not on the NovaSeq 6000")
    assert runs == {"SRR9000001"} and result.complete
    understood = {(c.text, c.negated) for c in result.question.constraints}
    assert {("paired-end", False), ("NovaSeq 6000", True), ("B73 root", False)} <= understood
    result, runs = ask(service, "In project PRJNA900001, which runs of Mo17 used the HiSeq 2500?")
    assert runs == set() and result.complete  # both bound, nothing in common: truly none


def test_genus_and_model_family_name_every_member(service):
    result, runs = ask(service, "how many Zea runs were sequenced on a NovaSeq?")
    assert runs == {"SRR9000003", "SRR9000005"} and result.count == 2 and result.complete
    family = [c for c in result.question.constraints if c.text == "Zea"]
    assert family and family[0].family and set(family[0].values) == {"Zea mays", "Zea luxurians"}


def test_samples_of_a_run_from_a_run_table(service):
    result, names = ask(service, "Run SRR9000004: which sample was it made from?")
    assert result.complete and result.count == 1
    assert names == {"Sample Mo17: Zea mays (SRS900002, SAMN90000002)"}


def test_files_of_a_sample_within_a_study_and_samples_of_a_file(service):
    result, names = ask(service, 'files of "Sample 1" in PXD900001')
    assert {n.split(":")[0] for n in names} == {"LIV_A_1.raw", "LIV_A_2.raw"}
    assert result.count == 2 and result.complete
    result, names = ask(service, "which samples were measured in KID_B_1.raw?")
    assert [n.split(":")[0] for n in names] == ["Sample 2"] and result.complete


def test_numeric_comparisons_on_typed_values(service):
    result, runs = ask(service, "runs of sample B73 root with spots above 10000")
    assert runs == {"SRR9000002", "SRR9000003"} and result.complete
    [spots] = [c for c in result.question.constraints if c.operator == "gt"]
    assert spots.values == ["10000"] and "metadata.spots" in spots.field
    result, runs = ask(service, "how many Zea mays runs have spots of at most 900?")
    assert runs == {"SRR9000001", "SRR9000004"} and result.count == 2 and result.complete
    # A key no run carries is not a comparison that found nothing: the answer is not sure.
    result, _ = ask(service, "runs of sample B73 root with RIN above 8")
    assert not result.complete


def test_words_not_understood_make_the_answer_incomplete(service):
    answer = service.answer("runs of sample B73 root from the greenhouse trial", ALICE)
    assert not answer.result.complete and answer.result.count == 3
    assert answer.result.question.unknown_words == ["greenhouse", "trial"]
    assert "Not sure this is complete: 'greenhouse', 'trial'" in answer.text


def test_a_visible_id_that_reaches_no_target_is_never_zero_complete(service):
    # PXD900001 is a proteomics dataset: it has no sequencing runs, and saying "0 runs
    # (complete)" would read as "none exist"; the answer says it is not sure instead.
    result, _ = ask(service, "which runs belong to PXD900001?")
    assert result.count == 0 and not result.complete
    unbound = [c for c in result.question.constraints if not c.bound]
    assert [c.values for c in unbound] == [["PXD900001"]]
    # The answer says what the identifier is, and what plain search finds, as such.
    answer = service.answer("which runs belong to PXD900001?", ALICE)
    assert "'PXD900001' is the identifier of" in answer.text
    assert "What search found instead" in answer.text and answer.citations


def test_another_labs_id_reads_like_a_missing_one(service):
    hidden, _ = ask(service, "which runs used sample SAMN91000001?")
    missing, _ = ask(service, "which runs used sample SAMN99999999?")
    assert hidden.count == missing.count == 0
    assert hidden.complete == missing.complete
    assert [c.bound for c in hidden.question.constraints] == [
        c.bound for c in missing.question.constraints
    ]
    result, runs = ask(service, "which runs used sample SAMN91000001?", BOB)
    assert runs == {"SRR9100001"} and result.complete


# --- the LLM-assisted reader: the model fills the structure, the index validates it -----------


def json_reader(reply: dict, seen: list | None = None):
    def read(system: str, user: str) -> str:
        if seen is not None:
            seen.append(user)
        return "Here is the structure:\n" + json.dumps(reply)

    return read


def test_a_model_reading_that_fits_the_index_is_answered(service):
    question = "B73 root - what do we have on NovaSeq?"
    assert service.answer(question, ALICE).result is None  # no entity word: the rules pass
    reply = {
        "target": "run",
        "question_type": "list",
        "constraints": [
            {"kind": "identifier", "value": "B73 root"},
            {"kind": "attribute", "key": "instrument", "values": ["illumina novaseq 6000"]},
        ],
    }
    prompts: list[str] = []
    answer = service.answer(question, ALICE, reader=json_reader(reply, prompts))
    assert {m.metadata["run_id"] for m in answer.result.members} == {"SRR9000003"}
    assert answer.result.complete
    # The model saw the visible identifiers and the value dictionary, not other labs' values.
    assert "- B73 root" in prompts[0] and "Illumina NovaSeq 6000" in prompts[0]
    assert "Illumina MiSeq" not in prompts[0]


@pytest.mark.parametrize(
    "reply",
    [
        {"target": "run", "constraints": [{"kind": "identifier", "value": "SAMN91000001"}]},
        {"target": "run", "constraints": [{"kind": "attribute", "key": "instrument",
                                           "values": ["NovaSeq X Plus"]}]},
        {"target": "run", "constraints": [{"kind": "attribute", "key": "no_such_key",
                                           "values": ["x"]}]},
        {"target": "virus", "constraints": []},
        {"target": "run", "constraints": []},
    ],
)  # fmt: skip
def test_a_model_reading_that_does_not_fit_falls_back_to_the_rules(service, reply):
    question = "which runs used sample B73 root?"
    by_rules = service.answer(question, ALICE)
    answer = service.answer(question, ALICE, reader=json_reader(reply))
    assert answer.result == by_rules.result
    assert answer.result.count == 3 and answer.result.complete


def test_words_the_model_did_not_account_for_keep_the_answer_incomplete(service):
    reply = {"target": "run", "constraints": [{"kind": "identifier", "value": "B73 root"}]}
    for question, dropped in (
        ("B73 root runs from the greenhouse trial", "greenhouse"),
        ("B73 root runs with spots above 10000", "spots above 10000"),  # the rules saw it
    ):
        answer = service.answer(question, ALICE, reader=json_reader(reply))
        assert answer.result.count == 3 and not answer.result.complete
        assert dropped in answer.result.question.unknown_words


def test_bedrock_reads_the_question_through_converse(service):
    import boto3
    from botocore.stub import ANY, Stubber

    from chat_api.answering import question_reader
    from chat_api.llm import LLM
    from chat_api.llm.bedrock import bedrock_model

    client = boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    reply = {
        "target": "run",
        "question_type": "count",
        "constraints": [
            {"kind": "attribute", "key": "organism", "values": ["Zea mays"]},
            {"kind": "attribute", "key": "instrument", "values": ["PacBio RS II"],
             "negated": True},
        ],
    }  # fmt: skip
    settings = Settings(llm="bedrock")
    with Stubber(client) as stubber:
        stubber.add_response(
            "converse",
            {
                "output": {
                    "message": {"role": "assistant", "content": [{"text": json.dumps(reply)}]}
                },
                "stopReason": "end_turn",
                "usage": {"inputTokens": 300, "outputTokens": 60, "totalTokens": 360},
                "metrics": {"latencyMs": 400},
            },
            {"modelId": settings.bedrock_model_id, "messages": ANY, "system": ANY,
             "inferenceConfig": ANY},
        )  # fmt: skip
        reader = question_reader(LLM(bedrock_model(settings, client), name="bedrock"))
        answer = service.answer("how many maize runs were not made on the PacBio?", ALICE,
                                reader=reader)  # fmt: skip
        stubber.assert_no_pending_responses()
    assert answer.result.question_type == "count_runs" and answer.result.count == 3
    assert answer.result.complete
