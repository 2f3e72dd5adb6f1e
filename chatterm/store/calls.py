"""Schema version 4: a reply's tool calls (name and arguments) are searchable.

A tool result is a `tool` message whose `content` is the result's text, so the index
of version 1 already finds it. A call lives in `tool_calls`, a JSON list whose keys
("id", "name", "arguments") and call ids would match every search for "name" or "call",
so the text a person searches for is kept in a column of its own, `calls`: each call's
name, then its arguments with JSON escapes decoded ("\\u00e9t\\u00e9" is found as "été"),
one call per line. The store writes it with `tool_calls`, in the same statement.

The full-text index gains `calls` as its third column. FTS5 cannot add a column, so the
upgrade makes the index again (one INSERT ... SELECT over the rows that are not
streaming, as an import does), with triggers that give FTS5 exactly the values it was
given when a row changes or goes: an external-content index whose `delete` is passed
other text than it indexed is corrupt. The whole upgrade runs in the migration's one
transaction (schema.migrate), after the `.bak-v3` copy.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Sequence

from chatterm.conversation import ToolCall

COLUMN = "calls"

_TRIGGERS = (
    """
    CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
    WHEN old.state != 'streaming' BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, content, reasoning, calls)
        VALUES ('delete', old.seq, old.content, old.reasoning, old.calls);
    END
    """,
    # One trigger, not two: SQLite gives no useful order between triggers on the same
    # event, and the old entry must leave the index before the new one goes in.
    """
    CREATE TRIGGER messages_fts_update
    AFTER UPDATE OF content, reasoning, calls, state ON messages
    BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, content, reasoning, calls)
        SELECT 'delete', old.seq, old.content, old.reasoning, old.calls
        WHERE old.state != 'streaming';
        INSERT INTO messages_fts(rowid, content, reasoning, calls)
        SELECT new.seq, new.content, new.reasoning, new.calls WHERE new.state != 'streaming';
    END
    """,
)


def text_of(calls: Sequence[ToolCall]) -> str:
    """What search finds of these calls: `name arguments`, one call per line."""
    lines = []
    for call in calls:
        arguments = call.arguments
        # Decoded, so text the model sent as \\u escapes is found as typed; arguments
        # that are not JSON (a model may send anything) are indexed as they are.
        with contextlib.suppress(ValueError, RecursionError):
            arguments = json.dumps(json.loads(arguments), ensure_ascii=False)
        lines.append(f"{call.name} {arguments}".strip())
    return "\n".join(lines)


def has_column(conn: sqlite3.Connection) -> bool:
    """False for an older file opened read-only (searched without its calls)."""
    return any(row[1] == COLUMN for row in conn.execute("PRAGMA table_info(messages)"))


def text_of_saved(saved: object) -> str:
    """text_of for a row's `tool_calls` JSON text ("" for none, or a damaged list)."""
    if not isinstance(saved, str):
        return ""
    try:
        return text_of([ToolCall.from_dict(call) for call in json.loads(saved)
                        if isinstance(call, dict)])
    except (ValueError, TypeError, AttributeError, RecursionError):
        return ""


def fill(conn: sqlite3.Connection) -> None:
    """Write `calls` for every row with tool calls. Only while no index over `calls`
    exists (the upgrade): with the version-4 triggers in place, this UPDATE would take
    out of the index rows that were never put in it."""
    updates = [(text, seq) for seq, saved in conn.execute(
        "SELECT seq, tool_calls FROM messages WHERE tool_calls IS NOT NULL")
        if (text := text_of_saved(saved))]
    conn.executemany(f"UPDATE messages SET {COLUMN} = ? WHERE seq = ?", updates)


def upgrade(conn: sqlite3.Connection) -> None:
    """Version 3 -> 4, inside the migration's transaction."""
    # Appended after `content`: only the index and a snippet ever read it.
    conn.execute(f"ALTER TABLE messages ADD COLUMN {COLUMN} TEXT NOT NULL DEFAULT ''")
    fill(conn)  # before the new index exists, so nothing is indexed twice
    for name in ("messages_fts_delete", "messages_fts_update"):
        conn.execute(f"DROP TRIGGER {name}")
    conn.execute("DROP TABLE messages_fts")
    conn.execute("""
        CREATE VIRTUAL TABLE messages_fts USING fts5(
            content, reasoning, calls,
            content='messages', content_rowid='seq',
            tokenize='unicode61 remove_diacritics 2'
        )
    """)
    for statement in _TRIGGERS:
        conn.execute(statement)
    conn.execute("INSERT INTO messages_fts(rowid, content, reasoning, calls) "
                 "SELECT seq, content, reasoning, calls FROM messages "
                 "WHERE state != 'streaming'")
