"""Sentence-level grounding: every sentence of a generated answer cites assets that say it.

A scripted model plants hallucinations next to true sentences (an invented method, a wrong
number, an invented sample, a true sentence citing the wrong asset, an uncited one); the checks
must remove the invented ones, re-cite the misattributed one, and never stream an unchecked
sentence as a `token`.
"""

from __future__ import annotations

import pytest
from api_fixtures import (
    B_NOTE,
    B_SAMPLE,
    BOB,
    PUBLIC_PROTOCOL,
    api_settings,
    build_service,
    sse_events,
)
from fastapi.testclient import TestClient

from chat_api import prompt
from chat_api.app import create_app
from chat_api.grounding import Grounder, SentenceBuffer, ground, split_sentences
from chat_api.llm import LLM
from chat_api.llm.scripted import ScriptedChatModel
from labsearch.schema import Asset, AssetKind, Provenance

PROTOCOL_QUESTION = "what is the RNA extraction protocol?"

TRUE = f"RNA is extracted with TRIzol and a DNase treatment [{PUBLIC_PROTOCOL}]."
TRUE_2 = f"Library prep needs a RIN above 8 [{PUBLIC_PROTOCOL}]."
PLANTED = [
    # the invented method
    f"It combines reverse transcription and polymerase synthesis [{PUBLIC_PROTOCOL}].",
    # a wrong number
    f"Library prep needs a RIN above 9 [{PUBLIC_PROTOCOL}].",
    # an invented sample
    f"The protocol was validated on sample KID-0999 [{PUBLIC_PROTOCOL}].",
    # uncited and unsupported by anything retrieved
    "Yields are typically 40 micrograms per sample.",
]


def asset(asset_id: str, title: str, text: str) -> Asset:
    return Asset(
        id=asset_id,
        source="file:///x",
        kind=AssetKind.FILE,
        title=title,
        text=text,
        provenance=Provenance(source="file:///x", path="/x"),
    )


SOP = asset("sop", "SOP-001 RNA extraction", "Homogenise 30 mg tissue in 600 µl RLT buffer.")
ATAC = asset("atac", "SOP-003 Omni-ATAC", "Tn5 transposition, 30 min at 37 °C.")


def grounder(question: str = "how do we extract RNA?") -> Grounder:
    found = {a.id: a for a in (SOP, ATAC)}
    return Grounder([SOP, ATAC], question, lambda i: i in found, found.get)


def test_sentences_split_at_their_ends_not_inside_names_or_citations():
    text = (
        "Reads are in R1.fastq.gz, e.g. for LIV-0042 [a]. Two files:\n- one [b]\n- two [c]. "
        "Steps: 1. Bind [d]. 2. Wash [e]. Done! Really? Yes. See the library PB.. [f]. End"
    )
    assert split_sentences(text) == [
        "Reads are in R1.fastq.gz, e.g. for LIV-0042 [a].",
        "Two files:\n- one [b]",
        "- two [c].",
        "Steps: 1. Bind [d].",
        "2. Wash [e].",
        "Done!",
        "Really?",
        "Yes.",
        "See the library PB.. [f].",
        "End",
    ]


def test_a_streamed_sentence_is_handed_out_only_once_complete():
    buffer = SentenceBuffer()
    assert buffer.feed("Homogenise 30 mg") == []
    assert buffer.feed(" tissue [sop].") == []  # the next sentence may still add citations
    assert buffer.feed(" Bind") == ["Homogenise 30 mg tissue [sop]."]
    assert buffer.pending == "Bind"
    assert buffer.flush() == "Bind"


@pytest.mark.parametrize(
    ("sentence", "kept", "cited"),
    [
        ("Tissue is homogenised in 600 µl RLT buffer [sop].", True, ["sop"]),
        ("Up to 30 mg of tissue go into RLT buffer [sop].", True, ["sop"]),
        # wrong numbers and invented ids are not in the cited text
        ("Tissue is homogenised in 900 µl RLT buffer [sop].", False, []),
        ("Tissue from LIV-0042 is homogenised in RLT buffer [sop].", False, []),
        # words the source never uses
        ("It uses reverse transcription and polymerase synthesis [sop].", False, []),
        # right fact, wrong citation: re-cited to the asset that says it
        ("Tissue is homogenised in 600 µl RLT buffer [atac].", True, ["sop"]),
        # uncited, and a context asset says it: cited by the check
        ("Transposition with Tn5 takes 30 min.", True, ["atac"]),
        # ...but not when it says too little to tell which asset it comes from
        ("Homogenise the tissue.", False, []),
        # an unknown id is never a citation
        ("Tissue is homogenised in RLT buffer [made-up].", True, ["sop"]),
        # restating the question is no statement
        ("How do we extract RNA? [sop]", False, []),
    ],
)
def test_a_sentence_is_kept_only_with_a_citation_that_supports_it(sentence, kept, cited):
    verdict = grounder().check(sentence)
    assert verdict.supported is kept, verdict.reason
    assert verdict.cited == cited
    if kept:
        assert all(f"[{i}" in verdict.text for i in cited)


def test_ground_keeps_the_supported_sentences_in_order():
    grounded = ground(
        "Tissue goes into 600 µl RLT buffer [sop]. It is then sequenced on a NovaSeq 6000 "
        "[sop]. Tn5 transposition takes 30 min [atac].",
        grounder(),
    )
    assert grounded.text == (
        "Tissue goes into 600 µl RLT buffer [sop]. Tn5 transposition takes 30 min [atac]."
    )
    assert grounded.cited == ["sop", "atac"]
    assert [v.reason for v in grounded.removed] == ["identifiers not in the cited assets: 6000"]


def test_a_small_model_that_writes_the_next_question_is_cut_there():
    stop = prompt.COMPACT_STOP
    assert prompt.before_stop("Run X [1].\nQuestion: what? [1]", stop) == "Run X [1]."
    assert prompt.before_stop("Run X [1].", stop) == "Run X [1]."
    assert prompt.before_stop("Run X [1].", None) == "Run X [1]."


def test_labels_of_the_compact_prompt_become_asset_ids():
    labels = {1: "sop", 2: "atac"}
    assert (
        prompt.expand_labels("A [1]. B [1, 2]. C [7].", labels) == "A [sop]. B [sop, atac]. C [7]."
    )


# --- through the API, streaming ------------------------------------------------------------


@pytest.fixture(scope="module")
def setup(tmp_path_factory, embedder):
    settings = api_settings(tmp_path_factory.mktemp("grounding-home"), llm="openai")
    return settings, build_service(settings, embedder)


def client_with(setup, reply: str) -> TestClient:
    settings, service = setup
    llm = LLM(ScriptedChatModel(script=lambda messages: reply), name="scripted")
    return TestClient(create_app(settings, service, llm=llm))


def stream(client: TestClient, question: str) -> list[tuple[str, dict]]:
    with client.stream(
        "POST", "/v1/chat", json={"message": question, "stream": True}, headers=BOB
    ) as response:
        assert response.status_code == 200
        return sse_events(response.read().decode())


def test_planted_hallucinations_are_removed_and_never_streamed_as_final(setup):
    reply = " ".join([TRUE, PLANTED[0], PLANTED[1], TRUE_2, PLANTED[2], PLANTED[3]])
    events = stream(client_with(setup, reply), PROTOCOL_QUESTION)
    names = [name for name, _ in events]
    assert names[-1] == "done"
    done = events[-1][1]
    answer = done["answer"]
    assert answer["text"] == f"{TRUE} {TRUE_2}"
    assert [c["asset_id"] for c in answer["citations"]] == [PUBLIC_PROTOCOL]
    # The tokens are exactly the final text: nothing unchecked was shown as final.
    assert "".join(data["text"] for name, data in events if name == "token") == answer["text"]
    retracted = [data["text"] for name, data in events if name == "retract"]
    assert retracted == [PLANTED[0], PLANTED[1], PLANTED[2], PLANTED[3]]
    assert all(data["reason"] for name, data in events if name == "retract")
    # Each sentence was provisional before it settled.
    first_token = names.index("token")
    assert "provisional" in names[:first_token]
    grounding = answer["grounding"]
    assert grounding["sentences"] == 6 and grounding["kept"] == 2
    assert [r["text"] for r in grounding["removed"]] == PLANTED
    assert done["replaced"] is False


def test_an_answer_with_no_supported_sentence_falls_back_saying_so(setup):
    events = stream(client_with(setup, " ".join(PLANTED)), PROTOCOL_QUESTION)
    done = events[-1][1]
    answer = done["answer"]
    assert done["replaced"] is True and answer["grounding"]["fallback"] is True
    assert answer["text"].startswith("The generated answer was withdrawn")
    assert "".join(data["text"] for name, data in events if name == "token") == answer["text"]
    for planted in PLANTED:
        assert planted not in answer["text"]
    assert PUBLIC_PROTOCOL in [c["asset_id"] for c in answer["citations"]]


def test_a_misattributed_sentence_is_recited_in_the_json_answer(setup):
    reply = f"Mouse kidney tissue sample KID-0007 was collected for ATAC-seq [{B_NOTE}]."
    response = client_with(setup, reply).post(
        "/v1/chat", json={"message": "what is sample KID-0007?"}, headers=BOB
    )
    answer = response.json()["answer"]
    assert [c["asset_id"] for c in answer["citations"]] == [B_SAMPLE]
    assert answer["grounding"]["attributed"] == 1
    assert B_NOTE not in answer["text"]
