"""Conversations, their messages and feedback, kept in SQLite under LABSEARCH_HOME.

Every read and write is scoped by the owning user: another user's conversation is reported as
missing (NotFoundError), exactly like one that never existed.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from labsearch.errors import InvalidRequestError, NotFoundError
from labsearch.models import Answer, Conversation, ConversationSummary, FeedbackResponse, Message

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    user TEXT NOT NULL,
    title TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS conversations_user ON conversations(user, updated_at);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    content TEXT NOT NULL,
    answer TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_conversation ON messages(conversation_id, id);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user TEXT NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    rating TEXT NOT NULL,
    comment TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""

TITLE_CHARS = 80


def _now() -> str:
    return datetime.now(UTC).isoformat()


class ConversationStore:
    def __init__(self, path: Path, max_messages: int) -> None:
        self.path = path
        self.max_messages = max_messages
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # A connection per operation: requests run on worker threads, and SQLite connections
        # must not be shared across threads. WAL lets readers proceed while one request writes.
        db = sqlite3.connect(self.path, timeout=30)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("PRAGMA journal_mode = WAL")
        try:
            with db:
                yield db
        finally:
            db.close()

    def create(self, user: str, first_message: str) -> str:
        conversation_id = uuid.uuid4().hex
        title = " ".join(first_message.split())[:TITLE_CHARS] or "Conversation"
        now = _now()
        with self._connect() as db:
            db.execute(
                "INSERT INTO conversations VALUES (?, ?, ?, ?, ?)",
                (conversation_id, user, title, now, now),
            )
        return conversation_id

    def _owned(self, db: sqlite3.Connection, user: str, conversation_id: str) -> sqlite3.Row:
        row = db.execute(
            "SELECT c.*, (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id) AS n "
            "FROM conversations c WHERE c.id = ? AND c.user = ?",
            (conversation_id, user),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"conversation {conversation_id!r} not found")
        return row

    def summaries(self, user: str, limit: int = 100) -> list[ConversationSummary]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT c.*, (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id) "
                "AS n FROM conversations c WHERE c.user = ? ORDER BY c.updated_at DESC LIMIT ?",
                (user, limit),
            ).fetchall()
        return [_summary(row) for row in rows]

    def get(self, user: str, conversation_id: str) -> Conversation:
        with self._connect() as db:
            row = self._owned(db, user, conversation_id)
            messages = db.execute(
                "SELECT * FROM messages WHERE conversation_id = ? ORDER BY id", (conversation_id,)
            ).fetchall()
        history = [
            Message(
                id=m["id"],
                role=m["role"],
                content=m["content"],
                answer=Answer.model_validate_json(m["answer"]) if m["answer"] else None,
                created_at=m["created_at"],
            )
            for m in messages
        ]
        return Conversation(**_summary(row).model_dump(), history=history)

    def check_room(self, user: str, conversation_id: str) -> None:
        """Raise if one more question and answer would exceed the conversation length limit."""
        with self._connect() as db:
            count = self._owned(db, user, conversation_id)["n"]
        if count + 2 > self.max_messages:
            raise InvalidRequestError(
                f"conversation {conversation_id!r} has {count} messages, the limit is "
                f"{self.max_messages} (LABSEARCH_MAX_CONVERSATION_MESSAGES); start a new one"
            )

    def add_turn(self, user: str, conversation_id: str, question: str, answer: Answer) -> int:
        """Store a question and its answer; returns the answer's message id."""
        now = _now()
        with self._connect() as db:
            self._owned(db, user, conversation_id)
            db.execute(
                "INSERT INTO messages (conversation_id, role, content, answer, created_at) "
                "VALUES (?, 'user', ?, NULL, ?)",
                (conversation_id, question, now),
            )
            cursor = db.execute(
                "INSERT INTO messages (conversation_id, role, content, answer, created_at) "
                "VALUES (?, 'assistant', ?, ?, ?)",
                (conversation_id, answer.text, answer.model_dump_json(), now),
            )
            db.execute(
                "UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id)
            )
        return int(cursor.lastrowid)

    def rename(self, user: str, conversation_id: str, title: str) -> ConversationSummary:
        with self._connect() as db:
            self._owned(db, user, conversation_id)
            db.execute(
                "UPDATE conversations SET title = ?, updated_at = ? WHERE id = ?",
                (title.strip(), _now(), conversation_id),
            )
            return _summary(self._owned(db, user, conversation_id))

    def delete(self, user: str, conversation_id: str) -> None:
        with self._connect() as db:
            self._owned(db, user, conversation_id)
            db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    def add_feedback(
        self, user: str, conversation_id: str, message_id: int, rating: str, comment: str
    ) -> FeedbackResponse:
        with self._connect() as db:
            self._owned(db, user, conversation_id)
            message = db.execute(
                "SELECT role FROM messages WHERE id = ? AND conversation_id = ?",
                (message_id, conversation_id),
            ).fetchone()
            if message is None or message["role"] != "assistant":
                raise NotFoundError(
                    f"no answer with message id {message_id} in conversation {conversation_id!r}"
                )
            cursor = db.execute(
                "INSERT INTO feedback (user, conversation_id, message_id, rating, comment, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (user, conversation_id, message_id, rating, comment, _now()),
            )
        return FeedbackResponse(
            id=int(cursor.lastrowid),
            conversation_id=conversation_id,
            message_id=message_id,
            rating=rating,  # type: ignore[arg-type]
        )


def _summary(row: sqlite3.Row) -> ConversationSummary:
    return ConversationSummary(
        id=row["id"],
        title=row["title"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        messages=row["n"],
    )
