"""A streaming reply's text saved in appended parts, so each save writes only what is new.

Rewriting the whole reply at every 0.5 s save wrote it again and again: SQLite rewrites a
row's overflow pages when its text changes, so a reply of S bytes arriving in D-byte steps
cost about S²/2D bytes of writes and grew the WAL to several times the reply. While a
message is `streaming`, a save now inserts the new tail of `content` and `reasoning` into
`message_parts` and leaves the `messages` row alone (unless a small field changed). The
row's own columns plus its parts, in order, are the text. When the message leaves
`streaming` (the final save, crash recovery, a store closing), the text goes back into
the row in one write and the parts are deleted, so finished messages, search and export
never see parts.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

TABLE = "message_parts"
FIELDS = ("content", "reasoning")
# Everything update_message writes besides the two growing texts.
OTHER_FIELDS = ("refusal", "state", "finish_reason", "usage", "tool_calls", "error", "model",
                "provider", "writer")

CREATE = f"""
    CREATE TABLE {TABLE} (
        seq   INTEGER NOT NULL REFERENCES messages(seq) ON DELETE CASCADE,
        field TEXT NOT NULL CHECK (field IN ('content', 'reasoning')),
        start INTEGER NOT NULL,
        text  TEXT NOT NULL,
        PRIMARY KEY (seq, field, start)
    ) WITHOUT ROWID
"""


# WITHOUT ROWID: the parts live in their key's b-tree, so a save writes one page, not two.


def has_table(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                        (TABLE,)).fetchone() is not None


@dataclass(slots=True)
class _Saved:
    seq: int
    texts: tuple[str, str]
    others: tuple[Any, ...]


class Appender:
    """What this store last saved of each streaming message, to append only the rest."""

    def __init__(self) -> None:
        self._saved: dict[str, _Saved] = {}

    def append(self, conn: sqlite3.Connection, values: dict[str, Any]) -> bool | None:
        """Save a streaming message by appending; None when a full row write is needed.

        Must run inside a transaction. False when the message is gone.
        """
        saved = self._saved.get(values["id"])
        if saved is None:
            return None
        texts = tuple(values[name] for name in FIELDS)
        if tuple(values[name] for name in OTHER_FIELDS) != saved.others or not all(
                new.startswith(old) for new, old in zip(texts, saved.texts, strict=True)):
            return None
        if conn.execute("SELECT 1 FROM messages WHERE seq = ?", (saved.seq,)).fetchone() is None:
            self.forget(values["id"])
            return False
        for name, new, old in zip(FIELDS, texts, saved.texts, strict=True):
            if len(new) > len(old):
                conn.execute(f"INSERT INTO {TABLE} (seq, field, start, text) VALUES (?, ?, ?, ?)",
                             (saved.seq, name, len(old), new[len(old):]))
        saved.texts = texts
        return True

    def wrote_row(self, conn: sqlite3.Connection, values: dict[str, Any]) -> None:
        """The whole row was just written: its parts are obsolete (same transaction)."""
        row = conn.execute("SELECT seq FROM messages WHERE id = ?", (values["id"],)).fetchone()
        if row is None:
            self.forget(values["id"])
            return
        conn.execute(f"DELETE FROM {TABLE} WHERE seq = ?", (row[0],))
        if values["state"] == "streaming":
            self._saved[values["id"]] = _Saved(
                row[0], tuple(values[name] for name in FIELDS),
                tuple(values[name] for name in OTHER_FIELDS))
        else:
            self.forget(values["id"])

    def forget(self, message_id: str) -> None:
        self._saved.pop(message_id, None)


def tails(conn: sqlite3.Connection, seq: int) -> dict[str, str]:
    """The appended text of one message, per field (empty when it has no parts)."""
    found: dict[str, list[str]] = {}
    for field, text in conn.execute(
            f"SELECT field, text FROM {TABLE} WHERE seq = ? ORDER BY field, start", (seq,)):
        found.setdefault(field, []).append(text)
    return {field: "".join(pieces) for field, pieces in found.items()}


def fold(conn: sqlite3.Connection, seqs: Iterable[int]) -> None:
    """Move the parts of these messages back into their rows (inside a transaction)."""
    for seq in seqs:
        extra = tails(conn, seq)
        if extra:
            conn.execute("UPDATE messages SET content = content || ?, "
                         "reasoning = reasoning || ? WHERE seq = ?",
                         (extra.get("content", ""), extra.get("reasoning", ""), seq))
            conn.execute(f"DELETE FROM {TABLE} WHERE seq = ?", (seq,))
