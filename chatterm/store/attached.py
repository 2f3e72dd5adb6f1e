"""Schema version 5: attachments, a conversation's role, and usage as numbers.

Attachments are stored once per content: `attachments` is keyed by the SHA-256 of the
bytes, and `message_attachments` links a message to the blobs it carries, in order, each
use with its own file name (the same screenshot can be "a.png" in one chat and "b.png"
in another). The link cascades away with its message (a deleted conversation, subtree or
message), and a trigger drops a blob in the same transaction once no link names it: the
last conversation using an attachment takes it with it.

Loading a conversation reads the links' metadata (one query per batch of messages), never
the `data` column: the bytes are read only when a request, a preview or an export needs
them (`data_of`), so opening a chat of 50 images costs 50 small index rows.

`conversations.role` names the saved role a chat was started from (chatterm.roles).

`messages.prompt_tokens`, `completion_tokens` and `cost` repeat the numbers of the
`usage` JSON, written with it by the store (rows.message_values), so `chatterm usage` sums
columns of a covering index instead of parsing 200,000 JSON texts (store/usage.py). The
upgrade fills them from the JSON with the same rules the JSON query had: only JSON
numbers count (a value edited by hand into a string adds nothing), integers for tokens.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from chatterm.attachments import Attachment
from chatterm.errors import StoreError

if TYPE_CHECKING:
    from chatterm.attachments import PendingAttachment
    from chatterm.conversation import Message

USAGE_COLUMNS = ("prompt_tokens", "completion_tokens", "cost")

# SQLite's default limit of bound variables is far above this; batches keep the IN list
# (and the statement cache) small for a chat of thousands of messages.
_BATCH = 500

_STATEMENTS = (
    """
    CREATE TABLE attachments (
        sha256     TEXT PRIMARY KEY,
        mime       TEXT NOT NULL,
        size       INTEGER NOT NULL,
        width      INTEGER,
        height     INTEGER,
        created_at REAL NOT NULL,
        data       BLOB NOT NULL
    )
    """,
    """
    CREATE TABLE message_attachments (
        message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        position   INTEGER NOT NULL,
        name       TEXT NOT NULL,
        sha256     TEXT NOT NULL REFERENCES attachments(sha256),
        PRIMARY KEY (message_id, position)
    )
    """,
    "CREATE INDEX message_attachments_blob ON message_attachments(sha256)",
    # Cascaded deletes fire triggers too, so every way a message goes is covered.
    """
    CREATE TRIGGER attachments_unused AFTER DELETE ON message_attachments
    WHEN NOT EXISTS (SELECT 1 FROM message_attachments WHERE sha256 = old.sha256)
    BEGIN
        DELETE FROM attachments WHERE sha256 = old.sha256;
    END
    """,
    "ALTER TABLE conversations ADD COLUMN role TEXT",
    "ALTER TABLE messages ADD COLUMN prompt_tokens INTEGER",
    "ALTER TABLE messages ADD COLUMN completion_tokens INTEGER",
    "ALTER TABLE messages ADD COLUMN cost REAL",
)

# `chatterm usage` reads only this index: the replies in a time range with what is summed
# and grouped (the day comes from created_at).
USAGE_INDEX = """
    CREATE INDEX messages_usage ON messages
        (role, created_at, state, model, provider, prompt_tokens, completion_tokens, cost)
"""

_FILL_USAGE = """
    UPDATE messages SET
        prompt_tokens = CASE WHEN json_type(usage, '$.prompt_tokens') = 'integer'
                        THEN json_extract(usage, '$.prompt_tokens') END,
        completion_tokens = CASE WHEN json_type(usage, '$.completion_tokens') = 'integer'
                            THEN json_extract(usage, '$.completion_tokens') END,
        cost = CASE WHEN json_type(usage, '$.cost') IN ('integer', 'real')
               THEN json_extract(usage, '$.cost') END
    WHERE usage IS NOT NULL AND json_valid(usage)
"""


def upgrade(conn: sqlite3.Connection) -> None:
    """Version 4 -> 5, inside the migration's transaction."""
    for statement in _STATEMENTS:
        conn.execute(statement)
    fill_usage(conn)
    conn.execute(USAGE_INDEX)


def fill_usage(conn: sqlite3.Connection) -> None:
    """The usage numbers of every row from its JSON (the upgrade, and doctor's copy)."""
    conn.execute(_FILL_USAGE)


def has_tables(conn: sqlite3.Connection) -> bool:
    """False for an older file opened read-only (no attachments, usage from the JSON)."""
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' "
                        "AND name = 'message_attachments'").fetchone() is not None


def usage_values(usage: object) -> dict[str, object]:
    """The numeric columns for a message's Usage (None: none reported)."""
    prompt = getattr(usage, "prompt_tokens", None)
    completion = getattr(usage, "completion_tokens", None)
    cost = getattr(usage, "cost", None)
    return {"prompt_tokens": prompt if isinstance(prompt, int) else None,
            "completion_tokens": completion if isinstance(completion, int) else None,
            "cost": float(cost) if isinstance(cost, int | float) else None}


# ---- writing ------------------------------------------------------------------------------


def save(conn: sqlite3.Connection, messages: Iterable[Message],
         blobs: Sequence[PendingAttachment], at: float) -> None:
    """Link every message that has attachments, storing the `blobs` they use (once per
    content; a blob no message uses is not stored, so nothing is left unreferenced), in
    the caller's transaction. A message naming content that is neither given nor stored
    is refused with one line (StoreError), and the transaction rolls back."""
    links = [(message.id, position, attachment.name, attachment.sha256)
             for message in messages
             for position, attachment in enumerate(message.attachments)]
    if not links:
        return
    given = {blob.meta.sha256: blob for blob in blobs}
    needed = {link[3] for link in links}
    conn.executemany(
        "INSERT OR IGNORE INTO attachments (sha256, mime, size, width, height, created_at, "
        "data) VALUES (?, ?, ?, ?, ?, ?, ?)",
        ((b.meta.sha256, b.meta.mime, len(b.data), b.meta.width, b.meta.height, at, b.data)
         for sha256, b in given.items() if sha256 in needed))
    for sha256 in needed - given.keys():
        if conn.execute("SELECT 1 FROM attachments WHERE sha256 = ?",
                        (sha256,)).fetchone() is None:
            name = next(link[2] for link in links if link[3] == sha256)
            raise StoreError(f"attachment {name} ({sha256[:12]}): its bytes were not given "
                             "and are not in the store; nothing was saved")
    conn.executemany("INSERT INTO message_attachments (message_id, position, name, sha256) "
                     "VALUES (?, ?, ?, ?)", links)


# ---- reading ------------------------------------------------------------------------------


def fill(conn: sqlite3.Connection, messages: Sequence[Message]) -> None:
    """Give each message its attachments' metadata (never their bytes)."""
    by_id = {message.id: message for message in messages}
    ids = list(by_id)
    for start in range(0, len(ids), _BATCH):
        batch = ids[start:start + _BATCH]
        marks = ", ".join("?" * len(batch))
        rows = conn.execute(
            "SELECT l.message_id, l.name, a.mime, a.size, a.sha256, a.width, a.height "
            "FROM message_attachments AS l JOIN attachments AS a ON a.sha256 = l.sha256 "
            f"WHERE l.message_id IN ({marks}) ORDER BY l.message_id, l.position", batch)
        for message_id, name, mime, size, sha256, width, height in rows:
            by_id[message_id].attachments.append(Attachment(
                name=name, mime=mime, size=int(size), sha256=sha256,
                width=width, height=height))


def data_of(conn: sqlite3.Connection, sha256: str) -> bytes | None:
    row = conn.execute("SELECT data FROM attachments WHERE sha256 = ?",
                       (sha256.lower(),)).fetchone()
    return None if row is None else bytes(row[0])
