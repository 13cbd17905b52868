"""`labsearch eval export-feedback`: thumbs-down answers as regression questions for `eval lab`.

Feedback lives in the API's conversation store ($LABSEARCH_HOME/conversations.sqlite), read here
read-only with plain SQL: the export runs next to the API, the UI never reads it. Each thumbs-down
becomes one question line in the format of eval/data/lab_questions.jsonl (id, kind, template,
question, user) plus what was wrong: the answer given, its members and citations, and the
person's comment. What the right answer is only a person knows, so `expected` (entity questions)
or `relevant` (descriptive ones) is left for the reviewer to add; `eval lab` needs it to score.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from labsearch.errors import ConfigError

QUERY = """
SELECT f.id AS feedback_id, f.user, f.conversation_id, f.message_id, f.comment, f.created_at,
       a.answer,
       (SELECT q.content FROM messages q
         WHERE q.conversation_id = f.conversation_id AND q.role = 'user' AND q.id < f.message_id
         ORDER BY q.id DESC LIMIT 1) AS question
FROM feedback f JOIN messages a ON a.id = f.message_id
WHERE f.rating = 'down'
ORDER BY f.id
"""


def question_record(row: sqlite3.Row, number: int) -> dict[str, Any]:
    answer = json.loads(row["answer"]) if row["answer"] else {}
    result = answer.get("result")
    # A follow-up ("and on the HiSeq?") only makes sense alone in its rewritten form.
    question = answer.get("standalone_query") or row["question"] or answer.get("query", "")
    record: dict[str, Any] = {
        "id": f"feedback-{number:03d}",
        "kind": "entity" if result else "descriptive",
        "template": "feedback/thumbs-down",
        "question": question,
        "user": row["user"],
        "comment": row["comment"],
        "answer_text": answer.get("text", ""),
        "answer_citations": [c["asset_id"] for c in answer.get("citations", [])],
        "source": {
            "conversation_id": row["conversation_id"],
            "message_id": row["message_id"],
            "feedback_id": row["feedback_id"],
            "created_at": row["created_at"],
        },
    }
    if result:
        record["answer_members"] = [m["id"] for m in result.get("members", [])]
        record["answer_count"] = result.get("count")
    return record


def thumbs_down(database: Path) -> list[dict[str, Any]]:
    """Every thumbs-down answer in the conversation store, oldest first, as question records."""
    if not database.is_file():
        raise ConfigError(
            f"no conversation store at {database}: run the API (labsearch serve) with this "
            "LABSEARCH_HOME, or pass the home the API uses"
        )
    # mode=ro: exporting must never change, or lock for writing, the API's live database.
    with sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True) as db:
        db.row_factory = sqlite3.Row
        try:
            rows = db.execute(QUERY).fetchall()
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"{database} is not a labsearch conversation store: {exc}") from exc
    return [question_record(row, number) for number, row in enumerate(rows, start=1)]


def export_feedback(home: Path, out: Path) -> int:
    """Write the thumbs-down questions of the API home `home` to `out` (JSON lines) and return how
    many there were. The first line is a meta record, as in the committed question set."""
    records = thumbs_down(home / "conversations.sqlite")
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "kind": "meta",
        "source": "feedback",
        "questions": len(records),
        "note": "thumbs-down answers; add `expected` (entity) or `relevant` (descriptive) "
        "before scoring with `labsearch eval lab`",
    }
    with out.open("w", encoding="utf-8") as handle:
        for record in [meta, *records]:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return len(records)
