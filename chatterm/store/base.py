"""What every part of the store shares: the connection, its locks, and running work on it.

`StoreCore` holds the connection and the rules every call follows (`_run`: under the
thread lock, SQLite errors as StoreError; `_write`: refused on a read-only or damaged
database). The store's jobs are mixins over it (conversations.py, messages.py,
search.py), put together as `Store` in store.py.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from chatterm import tree
from chatterm.conversation import (
    Message,
    MessageState,
)
from chatterm.errors import StoreError, UsageError
from chatterm.store import attached, calls, database, failures, parts, rows, trees, writers

if TYPE_CHECKING:
    from chatterm.attachments import PendingAttachment

T = TypeVar("T")

_INSERT_MESSAGE = (
    "INSERT INTO messages (id, conversation_id, position, parent_id, role, state, "
    "created_at, provider, model, finish_reason, tool_call_id, writer, error, usage, "
    "tool_calls, refusal, reasoning, content{calls}) VALUES (:id, :conversation_id, "
    ":position, :parent_id, :role, :state, :created_at, :provider, :model, :finish_reason, "
    ":tool_call_id, :writer, :error, :usage, :tool_calls, :refusal, :reasoning, :content"
    "{values})"
)


def insert_message(columns: tuple[str, ...]) -> str:
    """The INSERT of a message row with the newer schemas' `columns` (none for a file
    left at version 3: tests, a read-only mount)."""
    return _INSERT_MESSAGE.format(calls="".join(f", {c}" for c in columns),
                                  values="".join(f", :{c}" for c in columns))


# Schema version 4 added `calls` (calls.py), version 5 the usage numbers (attached.py).
INSERT_MESSAGE = insert_message(("calls", *attached.USAGE_COLUMNS))
INSERT_MESSAGE_V4 = insert_message(("calls",))
INSERT_MESSAGE_V3 = insert_message(())


class StoreCore:
    """A connection to the database; safe to share between threads (calls are serialised)."""

    def __init__(self, conn: sqlite3.Connection, path: Path, *, read_only: bool = False) -> None:
        self._conn = conn
        self.path = path
        self.read_only = read_only
        self._lock = threading.RLock()
        self._writer = writers.WriterLock(path)
        self._closed = False
        # Set once SQLite reports corruption: from then on nothing is written (see _run).
        self._damage: str | None = None
        self._appender = parts.Appender()
        self._has_parts = parts.has_table(conn)
        # A version-2 file opened read-only has no tree columns: read as straight lines.
        self._has_trees = trees.has_trees(conn)
        # Version 4 indexes tool calls in their own column of messages_fts (calls.py).
        self._has_calls = calls.has_column(conn)
        # Version 5: attachments, conversations.role, usage numbers (attached.py).
        self._has_v5 = attached.has_tables(conn)
        self._insert_message = (INSERT_MESSAGE if self._has_v5 else INSERT_MESSAGE_V4
                                if self._has_calls else INSERT_MESSAGE_V3)
        self._fts_columns = "content, reasoning" + (", calls" if self._has_calls else "")

    def _unknown(self, conversation_id: str) -> UsageError:
        return UsageError(f"no conversation matches '{conversation_id}'")

    def _run(self, work: Callable[[], T]) -> T:
        """Run `work` under the thread lock, turning SQLite failures into StoreError."""
        with self._lock:
            if self._closed:
                raise StoreError(f"the store for {self.path} is closed")
            try:
                return work()
            except tree.TreeError as exc:
                # Only a file changed behind chatterm's back holds a cycle or a lost parent.
                raise StoreError(f"{self.path}: a conversation's messages do not form a "
                                 f"tree ({exc}); chatterm doctor can copy what is readable"
                                 ) from exc
            except sqlite3.Error as exc:
                error = database.translate(exc, self.path)
                if isinstance(error, failures.DamagedDatabase):
                    # Writing on top of a damaged b-tree can spread the damage (page
                    # 100 broken: an insert turned a readable file into one that
                    # integrity_check itself fails on), so this process stops writing.
                    self._damage = str(exc)
                raise error from exc

    def _write(self, work: Callable[[], T]) -> T:
        """`_run` for work that writes: refused once the file is known to be damaged.

        Every write method runs ONE transaction (database.transaction), so a failure at
        any point rolls all of it back.
        """
        if self.read_only:
            raise StoreError(f"{self.path} was opened read-only; nothing can be saved")
        if self._damage is not None:
            raise failures.DamagedDatabase(failures.damaged_message(self.path, self._damage))
        return self._run(work)

    @contextmanager
    def raw_connection(self) -> Iterator[sqlite3.Connection]:
        """The underlying connection, for tests and diagnostics (integrity checks)."""
        with self._lock:
            yield self._conn

    # ---- reading messages (shared by conversations and messages) ----------------------

    def _select_messages(self, conversation_id: str, before_position: int | None,
                         limit: int | None) -> list[Message]:
        before = before_position if before_position is not None else 2**62
        if limit is None:
            cursor = self._conn.execute(
                f"SELECT {rows.MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? "
                "AND position < ? ORDER BY position", (conversation_id, before))
            return self._as_recovered([rows.message_from_row(row) for row in cursor])
        # Walk the (conversation_id, position) index backwards and stop after `limit`.
        cursor = self._conn.execute(
            f"SELECT {rows.MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? "
            "AND position < ? ORDER BY position DESC LIMIT ?",
            (conversation_id, before, max(0, limit)))
        found = [rows.message_from_row(row) for row in cursor]
        found.reverse()
        return self._as_recovered(found)

    # ---- reading branches (see trees.py) -------------------------------------------------

    def _current_id(self, conversation_id: str) -> str | None:
        """The stored leaf of the current branch (for a version-2 file: its last message)."""
        if self._has_trees:
            row = self._conn.execute("SELECT current_id FROM conversations WHERE id = ?",
                                     (conversation_id,)).fetchone()
            if row is None:
                raise self._unknown(conversation_id)
            if row[0] is not None:
                return str(row[0])
        elif not self._conn.execute("SELECT 1 FROM conversations WHERE id = ?",
                                    (conversation_id,)).fetchone():
            raise self._unknown(conversation_id)
        last = self._conn.execute(
            "SELECT id FROM messages WHERE conversation_id = ? ORDER BY position DESC "
            "LIMIT 1", (conversation_id,)).fetchone()
        return None if last is None else str(last[0])

    def _shape(self, conversation_id: str) -> tree.Shape:
        if not self._has_trees:
            # Version 2: a straight line in position order.
            found = self._conn.execute(
                "SELECT id, position, created_at FROM messages WHERE conversation_id = ? "
                "ORDER BY position", (conversation_id,)).fetchall()
            return tree.Shape(tree.Node(mid, found[i - 1][0] if i else None, pos, at)
                              for i, (mid, pos, at) in enumerate(found))
        return tree.Shape(tree.Node(mid, parent, position, active_at)
                          for mid, parent, position, active_at
                          in self._conn.execute(trees.SHAPE, (conversation_id,)))

    def _walk_up(self, conversation_id: str, start: str | None,
                 limit: int | None) -> list[str]:
        """The ids of the branch ending at `start`, root first: its last `limit` ones."""
        if start is None or limit == 0:
            return []
        if not self._has_trees:
            position = self._conn.execute(
                "SELECT position FROM messages WHERE id = ? AND conversation_id = ?",
                (start, conversation_id)).fetchone()
            if position is None:
                return []
            ids = [row[0] for row in self._conn.execute(
                "SELECT id FROM messages WHERE conversation_id = ? AND position <= ? "
                "ORDER BY position DESC LIMIT ?",
                (conversation_id, position[0], -1 if limit is None else limit))]
            ids.reverse()
            return ids
        bound = self._walk_bound(conversation_id, limit)
        ids = [row[0] for row in self._conn.execute(
            trees.WALK_UP + "SELECT id FROM up ORDER BY depth DESC",
            {"start": start, "cid": conversation_id, "limit": bound})]
        return ids

    def _select_path(self, conversation_id: str, leaf_id: str | None,
                     limit: int | None) -> list[Message]:
        """The last `limit` messages (None: all) of the branch ending at `leaf_id`."""
        if leaf_id is None:
            return []
        if not self._has_trees:
            return self._select_messages(conversation_id, None, limit)
        # A straight line (or a branch that is the newest one) is the last rows by
        # position; is_chain proves it, and only otherwise is the branch walked.
        found = self._select_messages(conversation_id, None, limit)
        whole = limit is None or len(found) < limit
        if trees.is_chain(found, leaf_id, whole=whole):
            return found
        if limit is None:
            # Every message of the tree is in hand: pick the branch out of it.
            return trees.branch_of(found, leaf_id)
        cursor = self._conn.execute(
            trees.WALK_UP + f"SELECT {rows.PREFIXED_MESSAGE_COLUMNS} FROM up "
            "JOIN messages AS m ON m.id = up.id ORDER BY up.depth DESC",
            {"start": leaf_id, "cid": conversation_id,
             "limit": self._walk_bound(conversation_id, limit)})
        return self._as_recovered([rows.message_from_row(row) for row in cursor])

    def _walk_bound(self, conversation_id: str, limit: int | None) -> int:
        """How far a walk up a branch may go: `limit`, and never further than the
        conversation is long, even if a damaged file's parents form a cycle."""
        row = self._conn.execute("SELECT message_count FROM conversations WHERE id = ?",
                                 (conversation_id,)).fetchone()
        longest = int(row[0]) if row else 0
        return longest if limit is None else min(limit, longest)

    def _make_current(self, conversation_id: str, leaf_id: str | None, at: float,
                      shape: tree.Shape | None = None) -> None:
        """Save `leaf_id` as the current leaf and mark its branch the most recently
        active (`shape`: the tree as it is now, if the caller has it). In a transaction."""
        if not self._has_trees:
            return  # schema version 2: the current branch is the last message
        self._conn.execute("UPDATE conversations SET current_id = ? WHERE id = ?",
                           (leaf_id, conversation_id))
        if leaf_id is None:
            return
        if shape is None:
            shape = self._shape(conversation_id)
        self._conn.executemany(trees.TOUCH, ({"id": mid, "at": at}
                                             for mid in trees.touch_rows(shape, leaf_id)))

    def _save_attachments(self, messages: Sequence[Message],
                          blobs: Sequence[PendingAttachment]) -> None:
        """Link `messages`' attachments (storing `blobs`), in the caller's transaction."""
        if self._has_v5:
            attached.save(self._conn, messages, blobs, time.time())
        elif blobs or any(message.attachments for message in messages):
            raise StoreError(f"{self.path} predates schema version 5 and cannot hold "
                             "attachments; nothing was saved")

    def _as_recovered(self, messages: list[Message]) -> list[Message]:
        """Loaded messages made whole: their attachments (metadata, never the bytes), and
        streaming ones with their appended parts; read-only stores, which cannot run
        recover_interrupted, also show its outcome."""
        if self._has_v5 and messages:
            attached.fill(self._conn, messages)
        if not (self.read_only or self._has_parts):
            return messages
        for message in messages:
            if message.state is not MessageState.STREAMING:
                continue
            row = self._conn.execute("SELECT seq, writer FROM messages WHERE id = ?",
                                     (message.id,)).fetchone()
            if row is None:
                continue
            if self._has_parts:
                extra = parts.tails(self._conn, row[0])
                message.content += extra.get("content", "")
                message.reasoning += extra.get("reasoning", "")
            if self.read_only and not writers.is_alive(self.path, row[1]):
                message.state = MessageState.INTERRUPTED
        return messages

    def _fold_streaming(self, token: str | None) -> None:
        if self._has_parts:
            parts.fold(self._conn, [row[0] for row in self._conn.execute(
                "SELECT seq FROM messages WHERE state = 'streaming' AND writer IS ?",
                (token,))])
