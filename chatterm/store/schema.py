"""The database schema as a list of migrations, and the code that applies them safely.

The schema version lives in `PRAGMA user_version`; `PRAGMA application_id` marks the file as
chatterm's so that a foreign SQLite file is never mistaken for an empty store.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from chatterm import safe_write
from chatterm.errors import StoreError
from chatterm.store import attached, calls, parts, trees

# "ctm1" in ASCII: lets us tell our files from other SQLite databases.
APPLICATION_ID = 0x63746D31


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    apply: Callable[[sqlite3.Connection], object]  # what it returns is ignored


def _initial_schema(conn: sqlite3.Connection) -> None:
    for statement in _V1_STATEMENTS:
        conn.execute(statement)


# Large text columns come last in `messages` so that reading the small ones (search joins,
# position lookups) does not walk the overflow pages of a 1 MB reply.
_V1_STATEMENTS = (
    """
    CREATE TABLE conversations (
        id            TEXT PRIMARY KEY,
        title         TEXT NOT NULL DEFAULT '',
        created_at    REAL NOT NULL,
        updated_at    REAL NOT NULL,
        provider      TEXT NOT NULL,
        model         TEXT NOT NULL,
        message_count INTEGER NOT NULL DEFAULT 0,
        params        TEXT NOT NULL DEFAULT '{}',
        system_prompt TEXT NOT NULL DEFAULT ''
    )
    """,
    # A covering index: listing (newest first) never reads the table rows themselves.
    """
    CREATE INDEX conversations_listing ON conversations
        (updated_at DESC, id, title, provider, model, created_at, message_count)
    """,
    """
    CREATE TABLE messages (
        seq             INTEGER PRIMARY KEY,
        id              TEXT NOT NULL UNIQUE,
        conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        position        INTEGER NOT NULL,
        parent_id       TEXT,
        role            TEXT NOT NULL
                        CHECK (role IN ('system', 'user', 'assistant', 'tool')),
        state           TEXT NOT NULL
                        CHECK (state IN ('complete', 'streaming', 'interrupted', 'error')),
        created_at      REAL NOT NULL,
        provider        TEXT,
        model           TEXT,
        finish_reason   TEXT,
        tool_call_id    TEXT,
        writer          TEXT,
        error           TEXT,
        usage           TEXT,
        tool_calls      TEXT,
        refusal         TEXT NOT NULL DEFAULT '',
        reasoning       TEXT NOT NULL DEFAULT '',
        content         TEXT NOT NULL DEFAULT '',
        UNIQUE (conversation_id, position)
    )
    """,
    # Crash recovery looks for streaming rows at every start; this keeps that O(streaming).
    "CREATE INDEX messages_streaming ON messages(state) WHERE state = 'streaming'",
    # External-content FTS: the text is stored once (in `messages`), the index refers to
    # `seq`. A row is indexed only once it has left `streaming`, so the 0.5 s partial
    # writes of a long reply never re-tokenise it; the triggers keep that invariant.
    # New rows are indexed by the store itself, not by an INSERT trigger: FTS5 flushes
    # its pending data at every statement savepoint, so a per-row trigger made a
    # 100,000-message import ~10x slower than one INSERT ... SELECT after the rows.
    """
    CREATE VIRTUAL TABLE messages_fts USING fts5(
        content, reasoning,
        content='messages', content_rowid='seq',
        tokenize='unicode61 remove_diacritics 2'
    )
    """,
    """
    CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
    WHEN old.state != 'streaming' BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, content, reasoning)
        VALUES ('delete', old.seq, old.content, old.reasoning);
    END
    """,
    # One trigger, not two: SQLite gives no useful order between triggers on the same
    # event, and the old entry must leave the index before the new one goes in.
    """
    CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, reasoning, state ON messages
    BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, content, reasoning)
        SELECT 'delete', old.seq, old.content, old.reasoning WHERE old.state != 'streaming';
        INSERT INTO messages_fts(rowid, content, reasoning)
        SELECT new.seq, new.content, new.reasoning WHERE new.state != 'streaming';
    END
    """,
    f"PRAGMA application_id = {APPLICATION_ID}",
)

MIGRATIONS: list[Migration] = [
    Migration(1, "conversations, messages and their full-text index", _initial_schema),
    Migration(2, "streaming replies saved in appended parts (see parts.py)",
              lambda conn: conn.execute(parts.CREATE)),
    Migration(3, "conversation trees: a current branch per conversation (see trees.py)",
              trees.upgrade),
    Migration(4, "tool calls searchable: messages.calls, a third index column (calls.py)",
              calls.upgrade),
    Migration(5, "attachments, a conversation's role, usage as numbers (attached.py)",
              attached.upgrade),
]


def latest_version(migrations: Sequence[Migration]) -> int:
    return migrations[-1].version if migrations else 0


def migrate(conn: sqlite3.Connection, path: Path,
            migrations: Sequence[Migration] | None = None) -> Path | None:
    """Bring the database at `path` up to the newest version; returns the backup made, if any.

    Every pending migration runs inside ONE transaction together with the user_version
    bump, so a failure rolls the file back to exactly the old schema and data.
    """
    if migrations is None:
        migrations = MIGRATIONS
    target = latest_version(migrations)
    current = user_version(conn)
    if current >= target:
        return None
    backup = None
    if current > 0:
        # Belt and braces: the transaction already protects the data, the copy protects
        # the user from a migration that succeeds but is wrong.
        backup = backup_copy(conn, path, current)
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Re-read under the write lock: another process may have migrated meanwhile.
        current = user_version(conn)
        for migration in migrations:
            if migration.version <= current:
                continue
            migration.apply(conn)
            conn.execute(f"PRAGMA user_version = {int(migration.version)}")
        conn.execute("COMMIT")
    except BaseException as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if isinstance(exc, Exception):
            where = f"; a copy was saved as {backup}" if backup else ""
            raise StoreError(
                f"upgrading {path} to schema version {target} failed ({exc}); the database "
                f"was left as it was{where}"
            ) from exc
        raise
    return backup


def user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def backup_copy(conn: sqlite3.Connection, path: Path, version: int) -> Path:
    """Copy the live database with SQLite's backup API (consistent even under WAL).

    The copy is made under a temp name and gets its `.bak-vN` name only once complete,
    so a kill mid-copy never leaves a half file that looks like a real backup (the temp
    is swept by the next attempt, see safe_write).
    """
    name = f"{path.name}.bak-v{version}"
    safe_write.sweep_stale(path.parent, name)
    fd, temp = safe_write.open_temp(path.parent, name)
    try:
        dest = sqlite3.connect(temp)
        try:
            conn.backup(dest)
        finally:
            dest.close()
        target = _link_free_name(temp, path.parent, name)
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"could not back up {path} before upgrading it: {exc}") from exc
    finally:
        with contextlib.suppress(OSError):
            temp.unlink()
        os.close(fd)
    safe_write.sync_directory(path.parent)
    return target


def _link_free_name(temp: Path, directory: Path, name: str) -> Path:
    """Give `temp` the first free name of NAME, NAME-2, NAME-3…; never replaces a file."""
    counter = 1
    while True:
        target = directory / (name if counter == 1 else f"{name}-{counter}")
        try:
            os.link(temp, target)
        except FileExistsError:
            counter += 1
            continue
        except OSError:
            if target.exists():  # no hard links here (FAT, some FUSE mounts)
                counter += 1
                continue
            os.replace(temp, target)
        return target
