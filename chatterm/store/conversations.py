"""Conversations: create, import, update, rename, delete, read, list, resolve an id."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from chatterm.conversation import (
    Conversation,
    ConversationSummary,
    Message,
    MessageState,
)
from chatterm.errors import StoreError, UsageError
from chatterm.store import database, failures, rows, space, trees
from chatterm.store.base import StoreCore
from chatterm.tree import Node, Shape, TreeError

if TYPE_CHECKING:
    from chatterm.attachments import PendingAttachment

_INSERT_CONVERSATION = (
    "INSERT INTO conversations (id, title, created_at, updated_at, provider, model, "
    "system_prompt, params, message_count, current_id) VALUES (:id, :title, :created_at, "
    ":updated_at, :provider, :model, :system_prompt, :params, :message_count, :current_id)"
)

# A store opened with the schema of version 2 (tests build one this way) has no tree.
_INSERT_CONVERSATION_V2 = _INSERT_CONVERSATION.replace(", current_id)", ")").replace(
    ", :current_id)", ")")
# Version 5 keeps the role a chat was started from (attached.py).
_INSERT_CONVERSATION_V5 = _INSERT_CONVERSATION.replace(", current_id)", ", current_id, role)"
                                                       ).replace(", :current_id)",
                                                                 ", :current_id, :role)")


class ConversationStore(StoreCore):
    """The conversation rows (and a whole conversation's messages at once)."""

    def create_conversation(self, conv: Conversation, *,
                            blobs: Sequence[PendingAttachment] = ()) -> None:
        """Insert `conv` and any messages it already holds (a tree, or a straight list
        whose messages name no parent: it is chained). `conv.current_id` (None: the
        leaf of the most recently active branch) becomes its current branch. `blobs`:
        bytes of the messages' attachments, saved in the same transaction."""
        prepared = self._prepare(conv)
        self._write(lambda: self._in_transaction(conv, lambda: self._insert_whole(
            conv, *prepared, blobs)))

    def import_conversation(self, conv: Conversation, *,
                            blobs: Sequence[PendingAttachment] = ()) -> None:
        """Insert a whole conversation in one transaction: all of it or nothing.

        UsageError if its id (or a message id) is already in the store, or if its
        messages do not form a tree. A message saved as `streaming` in the file is
        imported as `interrupted`: nobody is streaming it.
        """
        self.import_conversations([conv], blobs=blobs)

    def import_conversations(self, convs: Sequence[Conversation], *,
                             blobs: Sequence[PendingAttachment] = ()) -> None:
        """Insert every conversation of `convs` in ONE transaction: all or nothing.

        Trees and current branches are kept as given (see create_conversation); `blobs`
        holds the bytes of their attachments (each stored once, whoever uses it).
        """
        prepared = []
        seen: set[str] = set()
        for conv in convs:
            for message in conv.messages:
                if message.state is MessageState.STREAMING:
                    message.state = MessageState.INTERRUPTED
            prepared.append((conv, *self._prepare(conv)))
            if conv.id in seen:
                raise UsageError(f"conversation {conv.id} is given twice")
            seen.add(conv.id)

        def work() -> None:
            try:
                with database.transaction(self._conn):
                    for conv, messages, shape in prepared:
                        self._insert_whole(conv, messages, shape, blobs)
            except sqlite3.IntegrityError as exc:
                # Rolled back by now, so what is in the store is what was there before.
                raise self._explain_batch([conv for conv, *_ in prepared], exc) from exc
        self._write(work)

    def _prepare(self, conv: Conversation) -> tuple[list[Message], Shape | None]:
        """`conv`'s messages parents first, and their tree, with its current leaf decided
        (UsageError when they are not a tree)."""
        try:
            messages = trees.ordered(conv.messages)
            last = messages[-1].id if messages else None
            if conv.current_id in (None, last) and trees.is_line(messages):
                # A straight line (most imports, every new chat): no tree to build.
                conv.current_id, conv.messages = last, messages
                return messages, None
            shape = Shape(Node(m.id, m.parent_id, index, m.created_at)
                          for index, m in enumerate(messages))
        except TreeError as exc:
            raise UsageError(f"conversation {conv.id}: {exc}") from None
        if conv.current_id is not None and conv.current_id not in shape:
            raise UsageError(f"conversation {conv.id}: its current message {conv.current_id} "
                             "is not one of its messages")
        if conv.current_id is None:
            conv.current_id = shape.latest_leaf()
        conv.messages = messages
        return messages, shape

    def _in_transaction(self, conv: Conversation, work: Callable[[], object]) -> None:
        try:
            with database.transaction(self._conn):
                work()
        except sqlite3.IntegrityError as exc:
            raise self._explain_conflict(conv, exc) from exc

    def _insert_whole(self, conv: Conversation, messages: list[Message],
                      shape: Shape | None, blobs: Sequence[PendingAttachment] = ()) -> None:
        conv_values = rows.conversation_values(conv)
        conv_values["message_count"] = len(messages)
        conv_values["current_id"] = conv.current_id

        def message_rows() -> Iterator[dict[str, Any]]:
            for position, message in enumerate(messages):
                message.conversation_id = conv.id
                values = rows.message_values(message)
                values["position"] = position
                values["writer"] = (self._writer.acquire()
                                    if message.state is MessageState.STREAMING else None)
                yield values

        self._conn.execute(_INSERT_CONVERSATION_V5 if self._has_v5 else _INSERT_CONVERSATION
                           if self._has_trees else _INSERT_CONVERSATION_V2, conv_values)
        self._conn.executemany(self._insert_message, message_rows())
        self._save_attachments(messages, blobs)
        self._conn.execute(
            f"INSERT INTO messages_fts(rowid, {self._fts_columns}) "
            f"SELECT seq, {self._fts_columns} FROM messages "
            "WHERE conversation_id = ? AND state != 'streaming'", (conv.id,))
        if shape is not None and conv.current_id is not None and len(shape.leaves()) > 1:
            # The current branch is the most recently active one: a flip elsewhere and
            # back finds it again (see tree.Shape.latest_leaf).
            self._make_current(conv.id, conv.current_id, time.time(), shape)

    def holds_ids_of(self, conv: Conversation) -> bool:
        """True when `conv`'s id or any of its message ids is already in the store (an
        import of it would clash, so it is imported as a copy instead)."""
        def work() -> bool:
            return self._has_conversation(conv.id) or self._first_taken_message_id(
                [m.id for m in conv.messages]) is not None
        return self._run(work)

    def _has_conversation(self, conversation_id: str) -> bool:
        return self._conn.execute("SELECT 1 FROM conversations WHERE id = ?",
                                  (conversation_id,)).fetchone() is not None

    def _first_taken_message_id(self, ids: list[str]) -> str | None:
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            found = self._conn.execute(
                f"SELECT id FROM messages WHERE id IN ({','.join('?' * len(chunk))}) LIMIT 1",
                chunk).fetchone()
            if found:
                return str(found[0])
        return None

    def _explain_batch(self, convs: list[Conversation],
                       exc: sqlite3.IntegrityError) -> Exception:
        owner: dict[str, str] = {}
        for conv in convs:
            for message in conv.messages:
                if owner.setdefault(message.id, conv.id) != conv.id:
                    return UsageError(f"message id {message.id} is in conversations "
                                      f"{owner[message.id]} and {conv.id}")
        for conv in convs:
            explained = self._explain_conflict(conv, exc)
            if isinstance(explained, UsageError):
                return explained
        return StoreError(f"cannot save {len(convs)} conversations in {self.path}: {exc}")

    def _explain_conflict(self, conv: Conversation, exc: sqlite3.IntegrityError) -> Exception:
        if self._has_conversation(conv.id):
            return UsageError(f"a conversation with id {conv.id} already exists")
        ids = [m.id for m in conv.messages]
        if len(set(ids)) != len(ids):
            return UsageError(f"conversation {conv.id} holds the same message id twice")
        taken = self._first_taken_message_id(ids)
        if taken is not None:
            return UsageError(f"a message with id {taken} already exists")
        return StoreError(f"cannot save conversation {conv.id} in {self.path}: {exc}")

    def update_conversation(self, conv: Conversation) -> None:
        """Save title, provider, model, system prompt, params (updated_at never goes back)."""
        values = rows.conversation_values(conv)

        def work() -> None:
            with database.transaction(self._conn):
                cursor = self._conn.execute(
                    "UPDATE conversations SET title = :title, provider = :provider, "
                    "model = :model, system_prompt = :system_prompt, params = :params, "
                    f"{'role = :role, ' if self._has_v5 else ''}"
                    "updated_at = max(updated_at, :updated_at) WHERE id = :id", values)
            if cursor.rowcount == 0:
                raise self._unknown(conv.id)
        self._write(work)

    def rename_conversation(self, conversation_id: str, title: str) -> None:
        def work() -> None:
            with database.transaction(self._conn):
                cursor = self._conn.execute(
                    "UPDATE conversations SET title = ? WHERE id = ?", (title, conversation_id))
            if cursor.rowcount == 0:
                raise self._unknown(conversation_id)
        self._write(work)

    def delete_conversation(self, conversation_id: str) -> None:
        """Delete a conversation and (by cascade) its messages and their index entries.

        Works on a full disk (the space reserve is spent on it), and the file shrinks.
        """
        def work() -> None:
            with database.transaction(self._conn):
                cursor = self._conn.execute(
                    "DELETE FROM conversations WHERE id = ?", (conversation_id,))
            if cursor.rowcount == 0:
                raise self._unknown(conversation_id)
        try:
            self._write(work)
        except failures.DiskFull:
            if not space.release_reserve(self.path):
                raise
            self._write(work)
        with self._lock:
            space.shrink(self._conn, self.path)
            space.ensure_reserve(self.path)

    def get_conversation(self, conversation_id: str, *,
                         last_n: int | None = None) -> Conversation:
        """The conversation with the messages of its current branch, root first (only
        the last `last_n` if given), and `current_id` set."""
        def work() -> Conversation:
            conv = self._conversation_row(conversation_id)
            conv.messages = self._select_path(conversation_id, conv.current_id, last_n)
            return conv
        return self._run(work)

    def get_tree(self, conversation_id: str) -> Conversation:
        """The conversation with every message of every branch, parents before children
        (in the order they were made), and `current_id` set: what an export holds."""
        def work() -> Conversation:
            conv = self._conversation_row(conversation_id)
            conv.messages = self._select_messages(conversation_id, None, None)
            return conv
        return self._run(work)

    def _conversation_row(self, conversation_id: str) -> Conversation:
        row = self._conn.execute(
            f"SELECT {rows.CONVERSATION_COLUMNS_V5 if self._has_v5 else rows.CONVERSATION_COLUMNS}"
            " FROM conversations WHERE id = ?",
            (conversation_id,)).fetchone()
        if row is None:
            raise self._unknown(conversation_id)
        conv = rows.conversation_from_row(row)
        conv.current_id = self._current_id(conversation_id)
        return conv

    def count_messages(self, conversation_id: str) -> int:
        def work() -> int:
            row = self._conn.execute(
                "SELECT message_count FROM conversations WHERE id = ?",
                (conversation_id,)).fetchone()
            if row is None:
                raise self._unknown(conversation_id)
            return int(row[0])
        return self._run(work)

    def list_conversations(self, limit: int | None = None,
                           offset: int = 0) -> list[ConversationSummary]:
        """Summaries, most recently updated first; never reads message text."""
        def work() -> list[ConversationSummary]:
            cursor = self._conn.execute(
                f"SELECT {rows.SUMMARY_COLUMNS} FROM conversations "
                "ORDER BY updated_at DESC, id DESC LIMIT ? OFFSET ?",
                (-1 if limit is None else max(0, limit), max(0, offset)))
            return [rows.summary_from_row(row) for row in cursor]
        return self._run(work)

    def last_conversation_id(self) -> str | None:
        def work() -> str | None:
            row = self._conn.execute(
                "SELECT id FROM conversations ORDER BY updated_at DESC, id DESC LIMIT 1"
            ).fetchone()
            return row[0] if row else None
        return self._run(work)

    def resolve_id(self, prefix: str) -> str:
        """The id of the one conversation whose id is `prefix` or starts with it."""
        wanted = prefix.strip()
        if not wanted:
            raise UsageError("no conversation id given")

        def work() -> str:
            for candidate in dict.fromkeys((wanted, wanted.lower())):
                if self._conn.execute("SELECT 1 FROM conversations WHERE id = ?",
                                      (candidate,)).fetchone():
                    return candidate
                # A range scan on the primary key, so no LIKE/GLOB escaping is needed.
                found: list[str] = [row[0] for row in self._conn.execute(
                    "SELECT id FROM conversations WHERE id >= ? AND id < ? ORDER BY id "
                    "LIMIT 6", (candidate, candidate + "\U0010ffff"))]
                if len(found) == 1:
                    return str(found[0])
                if found:
                    shown = ", ".join(f"{fid[:12]}…" for fid in found[:5])
                    more = " and more" if len(found) > 5 else ""
                    raise UsageError(f"'{prefix}' is ambiguous: matches {shown}{more}")
            raise UsageError(f"no conversation matches '{prefix}'")
        return self._run(work)
