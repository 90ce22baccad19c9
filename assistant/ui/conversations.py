"""Conversations kept on the server, per user, in one SQLite file.

Why the server and SQLite, not the browser's local storage: a conversation cites the user's
own uploads, which the server scopes by login, so the conversation belongs with that login
too; it follows the user to another browser or device, survives clearing the browser, can be
exported whole, and is deleted for good when the user deletes it (nothing lingers in a shared
computer's browser). SQLite needs no server process and takes concurrent writers safely.
Without logins (the loopback default) there is one user, ``local``, so everyone on that
machine shares one list of conversations.

Each turn stores the finished :class:`~assistant.records.Answer` as JSON, so a conversation is
re-rendered by the current code when it is opened, and exported with its citations.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from assistant.records import Answer, Citation, Passage

TITLE_CHARS = 80
SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY, user TEXT NOT NULL, title TEXT NOT NULL, created TEXT NOT NULL, updated TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS conversations_by_user ON conversations (user, updated);
CREATE TABLE IF NOT EXISTS turns (
    conversation TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE, n INTEGER NOT NULL,
    answer TEXT NOT NULL, created TEXT NOT NULL, PRIMARY KEY (conversation, n));
"""


@dataclass(frozen=True)
class ConversationInfo:
    id: str
    title: str
    updated: str  # ISO 8601, UTC
    turns: int


def answer_to_json(answer: Answer) -> str:
    return json.dumps(asdict(answer), ensure_ascii=False)


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def answer_from_json(text: str) -> Answer:
    """The stored answer (fields a newer or older ``Answer`` lacks are left out or defaulted)."""
    data = _known(Answer, json.loads(text))
    data["citations"] = tuple(
        Citation(**{**_known(Citation, c), "highlights": tuple(tuple(h) for h in c.get("highlights", ()))})
        for c in data.get("citations", ()))
    for key in ("passages", "related"):
        data[key] = tuple(Passage(**_known(Passage, p)) for p in data.get(key, ()))
    for key in ("warnings", "notices"):
        data[key] = tuple(data.get(key, ()))
    return Answer(**data)


def now() -> str:
    """ISO 8601 in UTC, to the microsecond (the list is ordered by it)."""
    stamp = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(stamp)) + f".{int(stamp % 1 * 1e6):06d}Z"


def title_of(question: str) -> str:
    words = " ".join(question.split())
    return words if len(words) <= TITLE_CHARS else words[: TITLE_CHARS - 1].rstrip() + "…"


class Conversations:
    """Every call names the user; a conversation of another user is never read, changed or listed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()  # one writer at a time in this process; SQLite guards the file
        with self._db() as db:
            db.executescript(SCHEMA)

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30)
        try:
            db.execute("PRAGMA foreign_keys = ON")
            db.execute("PRAGMA journal_mode = WAL")
            with db:
                yield db
        finally:
            db.close()

    def list(self, user: str) -> list[ConversationInfo]:
        """The user's conversations, the most recently updated first."""
        with self._db() as db:
            rows = db.execute(
                "SELECT c.id, c.title, c.updated, (SELECT COUNT(*) FROM turns t WHERE t.conversation = c.id) "
                "FROM conversations c WHERE c.user = ? ORDER BY c.updated DESC, c.rowid DESC", (user,)).fetchall()
        return [ConversationInfo(*row) for row in rows]

    def add(self, user: str, conversation: str | None, answer: Answer) -> str:
        """Append a finished turn (a new conversation, titled by its first question, when
        ``conversation`` is None or not this user's); returns the conversation's id."""
        stamp = now()
        with self._lock, self._db() as db:
            owned = conversation is not None and db.execute(
                "SELECT 1 FROM conversations WHERE id = ? AND user = ?", (conversation, user)).fetchone()
            if not owned:
                conversation = secrets.token_urlsafe(12)
                db.execute("INSERT INTO conversations VALUES (?, ?, ?, ?, ?)",
                           (conversation, user, title_of(answer.question), stamp, stamp))
            n = db.execute("SELECT COALESCE(MAX(n), 0) + 1 FROM turns WHERE conversation = ?",
                           (conversation,)).fetchone()[0]
            db.execute("INSERT INTO turns VALUES (?, ?, ?, ?)", (conversation, n, answer_to_json(answer), stamp))
            db.execute("UPDATE conversations SET updated = ? WHERE id = ?", (stamp, conversation))
        assert conversation is not None
        return conversation

    def get(self, user: str, conversation: str) -> tuple[str, builtins.list[Answer]] | None:
        """``(title, answers in order)``, or None if the user has no such conversation."""
        with self._db() as db:
            row = db.execute("SELECT title FROM conversations WHERE id = ? AND user = ?",
                             (conversation, user)).fetchone()
            if row is None:
                return None
            turns = db.execute("SELECT answer FROM turns WHERE conversation = ? ORDER BY n",
                               (conversation,)).fetchall()
        return row[0], [answer_from_json(t[0]) for t in turns]

    def delete(self, user: str, conversation: str) -> bool:
        with self._lock, self._db() as db:
            return db.execute("DELETE FROM conversations WHERE id = ? AND user = ?",
                              (conversation, user)).rowcount > 0
