"""The Streamlit UI through AppTest, against a real API serving a small demo lab (20 runs).

Every state the UI promises is reached for real: the API down (a closed port), a wrong API key
(401), a service that cannot load its index (503), empty results, and the happy paths.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from streamlit.testing.v1 import AppTest
from ui_demo import Demo, api_server, build_demo, closed_port_url

from eval.feedback import export_feedback
from labsearch.client import ApiClient, ApiUnreachableError, Credential
from labsearch.errors import AuthError, ConfigError, InvalidRequestError, NotFoundError

APP = str(Path(__file__).resolve().parent.parent / "ui" / "app.py")
ALICE = Credential("api_key", "demo-alice")
JWT_SECRET = "ui-test-secret-long-enough-for-hs256-signatures"


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Demo:
    return build_demo(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def api(demo, tmp_path_factory) -> str:
    logs = tmp_path_factory.mktemp("ui-api-logs")
    with api_server(demo, logs, LABSEARCH_JWT_SECRET=JWT_SECRET) as url:
        yield url


def app(monkeypatch, api_url: str, demo_mode: bool = True) -> AppTest:
    monkeypatch.setenv("LABSEARCH_API_URL", api_url)
    monkeypatch.setenv("LABSEARCH_UI_DEMO", "1" if demo_mode else "0")
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> str:
    """Everything written on the page, for "is this message shown" checks."""
    parts = [e.value for e in [*at.markdown, *at.caption, *at.info, *at.warning, *at.error]]
    return "\n".join(str(p) for p in parts)


def ask(at: AppTest, question: str) -> AppTest:
    at.chat_input[0].set_value(question).run()
    assert not at.exception, at.exception
    return at


# --- states -------------------------------------------------------------------------------------


def test_api_down_is_said_plainly(monkeypatch):
    at = app(monkeypatch, closed_port_url())
    assert "The labsearch API is down" in at.error[0].value
    assert "LABSEARCH_API_URL" in at.error[0].value
    assert at.button(key="retry-api").label == "Retry"
    assert not at.chat_input  # nothing to use until the API answers


def test_sign_in_form_rejects_a_wrong_key_then_accepts_a_right_one(monkeypatch, api):
    at = app(monkeypatch, api, demo_mode=False)
    assert at.title[0].value == "Sign in to labsearch"
    assert at.radio(key="method").options == ["API key", "Token (JWT)"]
    at.text_input(key="secret").input("not-a-key")
    at.button[0].click().run()
    assert "Sign-in failed (401)" in at.error[0].value
    assert "invalid API key" in at.error[0].value
    at.text_input(key="secret").input("demo-bob")
    at.button[0].click().run()
    assert not at.error
    assert at.chat_input, "signed in: the chat is there"
    assert "Signed in with API key." in texts(at)


def test_sign_in_with_a_token(monkeypatch, api):
    token = jwt.encode(
        {"sub": "alice", "exp": datetime.now(UTC) + timedelta(minutes=5)}, JWT_SECRET, "HS256"
    )
    at = app(monkeypatch, api, demo_mode=False)
    at.radio(key="method").set_value("token")
    at.text_input(key="secret").input(token)
    at.button[0].click().run()
    assert not at.error
    assert "Signed in with Token (JWT)." in texts(at)
    at.button(key="sign-out").click().run()
    assert at.title[0].value == "Sign in to labsearch"


def test_an_unreachable_search_backend_is_a_503_state(monkeypatch, demo, tmp_path):
    # A real API whose OpenSearch node is down: every search answers 503 StoreUnavailableError.
    backend = {"LABSEARCH_BACKEND": "opensearch", "LABSEARCH_OPENSEARCH_URL": closed_port_url()}
    with api_server(demo, tmp_path, home=tmp_path / "home", ready=503, **backend) as url:
        at = ask(app(monkeypatch, url), "which runs used sample LIV-0001?")
    warnings = [w.value for w in at.warning]
    assert warnings and all("not ready (503)" in w for w in warnings)
    assert "cannot be reached" in warnings[0]


def test_empty_search_results_say_so(monkeypatch, api):
    at = app(monkeypatch, api)
    at.text_input(key="search-query").input("zzqxv-nothing-like-this-exists").run()
    # Dense search always finds neighbours, so narrow to a value no asset has as well.
    at.date_input(key="facet-date").set_value((date(1990, 1, 1), date(1990, 1, 2))).run()
    assert "No results" in texts(at)


# --- chat ---------------------------------------------------------------------------------------


def test_entity_question_shows_the_complete_table_and_citations(monkeypatch, api, demo):
    sample = demo.example_sample
    at = ask(app(monkeypatch, api), f"which runs used sample {sample}?")
    expected = demo.runs_of(sample)
    frame = at.dataframe[0].value
    assert sorted(frame["Run"]) == expected
    assert f"**{len(expected)} runs** for `{sample}`" in texts(at)
    assert "complete result" in texts(at)
    csv = at.get("download_button")[0]
    assert csv.label == "Download CSV"
    # One card per citation, each with its package@top hash.
    cards = [m.value for m in at.markdown if m.value.startswith(":material/package_2:")]
    assert len(cards) == len(expected)
    for run in expected:
        assert any(run in card and "@" in card for card in cards)
    assert {b.label for b in at.button} >= {"Helpful", "Wrong"}


def test_citation_card_shows_full_metadata_and_provenance(monkeypatch, api, demo):
    at = ask(app(monkeypatch, api), f"which runs used sample {demo.example_sample}?")
    at.toggle[0].set_value(True).run()
    assert not at.exception
    documents = [json.loads(j.value) for j in at.json]
    provenance = next(d for d in documents if "top_hash" in d and "registry" in d)
    assert provenance["package"].startswith("lab-a/raw-run-")
    metadata = next(d for d in documents if "run_id" in d)
    assert demo.example_sample in metadata["samples"]


def test_the_two_demo_labs_see_different_data(monkeypatch, api, demo):
    sample = demo.example_sample  # a lab-A sample
    at = app(monkeypatch, api)
    at.radio(key="demo-user").set_value("bob (lab B)").run()
    ask(at, f"which runs used sample {sample}?")
    shown = texts(at)
    assert "Signed in as **bob (lab B)**" in shown
    for run in demo.runs_of(sample):
        assert run not in shown, "bob must not see lab A's runs"


def test_feedback_is_stored_and_exported_as_a_regression_question(monkeypatch, api, demo):
    question = f"which runs used sample {demo.example_sample}?"
    at = ask(app(monkeypatch, api), question)
    comment = f"missing a run (test {id(at)})"
    next(t for t in at.text_input if t.key.startswith("comment-")).input(comment)
    next(b for b in at.button if b.label == "Wrong").click().run()
    assert "Feedback saved" in texts(at)
    out = demo.directory / "feedback.jsonl"
    assert export_feedback(demo.home, out) >= 1
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert records[0]["kind"] == "meta"
    mine = next(r for r in records[1:] if r["comment"] == comment)
    assert mine["kind"] == "entity"
    assert mine["question"] == question
    assert mine["user"] == "alice"
    assert len(mine["answer_members"]) == len(demo.runs_of(demo.example_sample))


def test_export_feedback_says_where_the_store_should_be(tmp_path):
    with pytest.raises(ConfigError, match="no conversation store at .*conversations.sqlite"):
        export_feedback(tmp_path / "not-an-api-home", tmp_path / "out.jsonl")
    (tmp_path / "conversations.sqlite").write_bytes(b"this is not SQLite at all" * 100)
    with pytest.raises(ConfigError, match="not a labsearch conversation store"):
        export_feedback(tmp_path, tmp_path / "out.jsonl")


def test_conversations_open_rename_and_delete(monkeypatch, api):
    at = ask(app(monkeypatch, api), "dexamethasone liver RNA-seq")
    client = ApiClient(api, ALICE)
    conversation = at.session_state["conversation_id"]
    assert conversation in {c.id for c in client.conversations()}

    at.button(key="new-conversation").click().run()
    assert at.session_state["conversation_id"] is None
    at.button(key=f"open-{conversation}").click().run()
    assert at.session_state["conversation_id"] == conversation
    assert any("dexamethasone" in m.value for m in at.markdown)

    at.text_input(key=f"title-{conversation}").input("Liver RNA-seq").run()
    at.button(key="rename-conversation").click().run()
    assert client.conversation(conversation).title == "Liver RNA-seq"
    assert at.button(key=f"open-{conversation}").label == "Liver RNA-seq"

    at.button(key="delete-conversation").click().run()
    assert conversation not in {c.id for c in client.conversations()}
    assert at.session_state["conversation_id"] is None


# --- search -------------------------------------------------------------------------------------


def test_search_tab_highlights_and_facet_filters(monkeypatch, api, demo):
    sample = demo.example_sample
    at = app(monkeypatch, api)
    at.text_input(key="search-query").input(sample).run()
    assert any(f"**{sample}**" in m.value for m in at.markdown if m.value.startswith(">"))
    kinds = at.multiselect(key="facet-kind")
    assert any(option.startswith("package (") for option in kinds.options)
    kinds.select("package").run()
    hits = [c.value for c in at.caption if "score" in c.value]
    assert hits and all(h.startswith("package ·") for h in hits)
    levels = at.multiselect(key="facet-data_level")
    assert all("(" in option for option in levels.options), "every value shows its count"


# --- the HTTP client's errors -------------------------------------------------------------------


def test_client_turns_http_errors_into_labsearch_errors(api):
    with pytest.raises(AuthError, match=r"invalid API key \(HTTP 401\)"):
        list(ApiClient(api, Credential("api_key", "wrong")).chat_stream("hello"))
    client = ApiClient(api, ALICE)
    with pytest.raises(InvalidRequestError, match="HTTP 400"):
        list(client.chat_stream("x" * 5000))
    with pytest.raises(NotFoundError, match="HTTP 404"):
        client.asset("quilt:s3://no-such-bucket#no/such-package")
    with pytest.raises(ApiUnreachableError, match="does not answer"):
        ApiClient(closed_port_url()).health()
