"""Messages: append, save while streaming, remove, load a page for scroll-back.

Positions: the messages of a conversation are numbered in the order they were made
(siblings are ordered by it). `load_messages(before_position=...)` pages a straight
conversation by position; a tree is paged along its current branch by id
(`load_path`, in branches.py).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from chatterm.conversation import (
    Message,
    MessageState,
)
from chatterm.errors import StoreError, UsageError
from chatterm.store import attached, database, failures, parts, rows, space
from chatterm.store.base import StoreCore

if TYPE_CHECKING:
    from chatterm.attachments import PendingAttachment

# The usage numbers are saved with the JSON they repeat (schema version 5, attached.py).
_SET_USAGE = "".join(f", {name} = :{name}" for name in attached.USAGE_COLUMNS)


class MessageStore(StoreCore):
    """The message rows of conversations that exist."""

    def attachment_data(self, sha256: str) -> bytes:
        """The bytes of a stored attachment (StoreError naming it when there are none)."""
        def work() -> bytes | None:
            return attached.data_of(self._conn, sha256) if self._has_v5 else None
        data = self._run(work)
        if data is None:
            raise StoreError(f"{self.path}: attachment {sha256[:12]} is not in the store")
        return data

    def add_message(self, message: Message) -> int:
        """Append `message` to its conversation (it becomes the current leaf); returns
        the position it was given."""
        return self.add_messages([message])[0]

    def add_messages(self, messages: Sequence[Message], *, current_id: str | None = None,
                     blobs: Sequence[PendingAttachment] = ()) -> list[int]:
        """Add `messages` (parents first, each `parent_id` as the caller set it) in one
        transaction; returns their positions. The branch ending at `current_id` (default:
        the last message given) becomes the current one, and the most recently active.
        `blobs`: the bytes of attachments the messages carry that the store may not hold
        yet, saved in the same transaction (see attached.py)."""
        if any(not message.conversation_id for message in messages):
            raise ValueError("add_messages needs message.conversation_id")
        if not messages:
            return []
        leaf = current_id if current_id is not None else messages[-1].id
        if leaf not in {message.id for message in messages}:
            raise ValueError("add_messages: current_id must be one of the messages given")
        conversation_id = messages[-1].conversation_id

        def work() -> list[int]:
            with database.transaction(self._conn):
                before = self._current_id(conversation_id)
                ids = {message.id for message in messages}
                for message in messages:
                    if message.parent_id is not None and message.parent_id not in ids and \
                            not self._conn.execute(
                                "SELECT 1 FROM messages WHERE id = ? AND conversation_id = ?",
                                (message.parent_id, message.conversation_id)).fetchone():
                        raise UsageError(f"message {message.id} answers {message.parent_id}, "
                                         "which is not in its conversation")
                positions = [self._append(message) for message in messages]
                self._save_attachments(messages, blobs)
                parents = [message.parent_id for message in messages]
                if parents[0] == before and len(set(parents)) == len(parents):
                    # Growing the current branch by a line: nothing new has a sibling,
                    # so nothing to mark (a send stays O(1), whatever the chat's size).
                    self._conn.execute("UPDATE conversations SET current_id = ? "
                                       "WHERE id = ?", (leaf, conversation_id))
                else:
                    self._make_current(conversation_id, leaf, time.time())
                return positions
        return self._write(work)

    def _append(self, message: Message) -> int:
        conversation_id = message.conversation_id
        values = rows.message_values(message)
        values["writer"] = (self._writer.acquire()
                            if message.state is MessageState.STREAMING else None)
        # Under the write lock, so concurrent writers can never pick the same slot.
        position = self._conn.execute(
            "SELECT coalesce(max(position) + 1, 0) FROM messages "
            "WHERE conversation_id = ?", (conversation_id,)).fetchone()[0]
        values["position"] = position
        bumped = self._conn.execute(
            "UPDATE conversations SET message_count = message_count + 1, "
            "updated_at = max(updated_at, ?) WHERE id = ?",
            (time.time(), conversation_id)).rowcount
        if bumped == 0:
            raise self._unknown(conversation_id)
        seq = self._conn.execute(self._insert_message, values).lastrowid
        if message.state is not MessageState.STREAMING:
            values["seq"] = seq
            marks = ", ".join(f":{name.strip()}" for name in self._fts_columns.split(","))
            self._conn.execute(
                f"INSERT INTO messages_fts(rowid, {self._fts_columns}) VALUES (:seq, {marks})",
                values)
        return int(position)

    def update_message(self, message: Message) -> bool:
        """Save a message's changing fields; cheap enough for every partial write of a stream.

        Returns False when the message no longer exists (its conversation was deleted).
        """
        values = rows.message_values(message)

        def work() -> bool:
            values["writer"] = (self._writer.acquire()
                                if message.state is MessageState.STREAMING else None)
            with database.transaction(self._conn):
                if self._has_parts and message.state is MessageState.STREAMING:
                    appended = self._appender.append(self._conn, values)
                    if appended is not None:
                        return appended
                cursor = self._conn.execute(
                    "UPDATE messages SET content = :content, reasoning = :reasoning, "
                    "refusal = :refusal, state = :state, finish_reason = :finish_reason, "
                    "usage = :usage, tool_calls = :tool_calls, error = :error, "
                    "model = :model, provider = :provider, writer = :writer"
                    f"{', calls = :calls' if self._has_calls else ''}"
                    f"{_SET_USAGE if self._has_v5 else ''} WHERE id = :id",
                    values)
                if self._has_parts:
                    self._appender.wrote_row(self._conn, values)
            return cursor.rowcount > 0
        if message.state is MessageState.STREAMING:
            return self._write(work)
        try:
            return self._write(work)
        except failures.DiskFull:
            # The final save of a reply: spend the reserve on it, and if even that is
            # not enough, record at least why the saved text stops where it does.
            if space.release_reserve(self.path):
                with contextlib.suppress(failures.DiskFull):
                    return self._write(work)
            self._write(lambda: self._record_cut(message.id))
            raise

    def _record_cut(self, message_id: str) -> None:
        with database.transaction(self._conn):
            row = self._conn.execute("SELECT seq FROM messages WHERE id = ?",
                                     (message_id,)).fetchone()
            if row is None:
                return
            if self._has_parts:
                parts.fold(self._conn, [row[0]])
            self._appender.forget(message_id)
            self._conn.execute(
                "UPDATE messages SET state = 'interrupted', writer = NULL, error = "
                "'the disk was full: only the first ' || printf('%,d', length(content)) || "
                "' characters of this reply could be saved' WHERE seq = ?", (row[0],))

    def remove_message(self, message_id: str) -> bool:
        """Delete one message (a retry that replaced it, or that was given up); its
        replies, if any, answer its parent instead. When it was the current leaf, the
        current branch moves as for delete_subtree. False when it is not there (any more).
        """
        def work() -> bool:
            with database.transaction(self._conn):
                row = self._conn.execute(
                    "SELECT conversation_id, position, parent_id FROM messages WHERE id = ?",
                    (message_id,)).fetchone()
                if row is None:
                    return False
                conversation_id, position, parent_id = row
                current = self._current_id(conversation_id)
                self._conn.execute("UPDATE messages SET parent_id = ? WHERE parent_id = ? "
                                   "AND conversation_id = ?",
                                   (parent_id, message_id, conversation_id))
                self._conn.execute("DELETE FROM messages WHERE id = ?", (message_id,))
                # Positions stay gap-free for today's position-based scroll-back.
                # UNIQUE(conversation_id, position) is checked row by row, so the shift
                # goes through negative positions rather than over the next row's slot.
                for shift in ("-position", "-position - 1"):
                    self._conn.execute(
                        f"UPDATE messages SET position = {shift} WHERE conversation_id = ? "
                        "AND (position > ? OR position < 0)", (conversation_id, position))
                self._conn.execute(
                    "UPDATE conversations SET message_count = message_count - 1 WHERE id = ?",
                    (conversation_id,))
                if current == message_id:
                    shape = self._shape(conversation_id)
                    leaf = shape.latest_leaf(parent_id)
                    self._make_current(conversation_id, leaf, time.time(), shape)
            return True
        return self._write(work)

    def load_messages(self, conversation_id: str, before_position: int | None,
                      limit: int) -> list[Message]:
        """Up to `limit` messages just before `before_position` (None: the end), in order."""
        return self._run(lambda: self._select_messages(conversation_id, before_position,
                                                       limit))

    def position_of(self, message_id: str) -> int:
        def work() -> int:
            row = self._conn.execute("SELECT position FROM messages WHERE id = ?",
                                     (message_id,)).fetchone()
            if row is None:
                raise UsageError(f"no message has id {message_id}")
            return int(row[0])
        return self._run(work)
