"""The conversation store: every read and write chatterm makes to its SQLite database.

Positions: the messages of a conversation are numbered 0, 1, 2, … without gaps (a single
message is only removed by `remove_message`, which closes the gap), so in a conversation
of `count_messages(id)` messages the i-th of the last `n` loaded ones sits at position
`count - n + i`. That is what `load_messages(before_position=...)` takes for lazy
scroll-back; `position_of()` answers it for one message id.

Search: a message is added to the full-text index when it leaves `streaming` (complete,
interrupted or error), not on each partial write, so saving a growing 1 MB reply every
half second stays a single cheap UPDATE. Text still streaming is not searchable until it
ends or, after a crash, until the next start marks it interrupted.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self, TypeVar

from chatterm import locations
from chatterm.conversation import (
    HIT_END,
    HIT_START,
    Conversation,
    ConversationSummary,
    Message,
    MessageState,
    Role,
    SearchHit,
)
from chatterm.errors import StoreError, UsageError
from chatterm.store import database, failures, fts, parts, rows, schema, snippets, space, writers

T = TypeVar("T")

_INSERT_MESSAGE = (
    "INSERT INTO messages (id, conversation_id, position, parent_id, role, state, "
    "created_at, provider, model, finish_reason, tool_call_id, writer, error, usage, "
    "tool_calls, refusal, reasoning, content) VALUES (:id, :conversation_id, :position, "
    ":parent_id, :role, :state, :created_at, :provider, :model, :finish_reason, "
    ":tool_call_id, :writer, :error, :usage, :tool_calls, :refusal, :reasoning, :content)"
)
_INSERT_CONVERSATION = (
    "INSERT INTO conversations (id, title, created_at, updated_at, provider, model, "
    "system_prompt, params, message_count) VALUES (:id, :title, :created_at, :updated_at, "
    ":provider, :model, :system_prompt, :params, :message_count)"
)
_SNIPPET_TOKENS = 16
# Search ranks (bm25) the most recent this-many matches; see Store.search.
SEARCH_WINDOW = 1000


class Store:
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

    # ---- opening and closing -----------------------------------------------------------

    @classmethod
    def open(cls, path: Path | None = None, *, read_only: bool = False, freeing: bool = False,
             migrations: Sequence[schema.Migration] | None = None) -> Store:
        """Open (creating or upgrading) the database; `migrations` is for tests only.

        `read_only` is for commands that only read: nothing on disk is created or changed
        (it works on a read-only mount), and a missing database reads as an empty one.
        `freeing` is for a command that frees space (delete): on a full disk it may use
        the space reserve just to open (see space.py).
        """
        path = Path(path) if path is not None else locations.database_file()
        steps = schema.MIGRATIONS if migrations is None else migrations
        if read_only:
            return cls._open_read_only(path, steps)
        try:
            conn = database.connect(path, schema.latest_version(steps))
        except failures.DiskFull:
            if not (freeing and space.release_reserve(path)):
                raise
            conn = database.connect(path, schema.latest_version(steps))
        try:
            schema.migrate(conn, path, steps)
            store = cls(conn, path)
            store.recover_interrupted()
            space.ensure_reserve(path)
        except sqlite3.Error as exc:
            conn.close()
            raise database.translate(exc, path) from exc
        except BaseException:
            conn.close()
            raise
        return store

    @classmethod
    def open_existing(cls, path: Path | None = None, *, freeing: bool = False) -> Store:
        """The database at `path` for a command that only reads it (list, show, search...).

        When there is no database yet, an empty one in memory stands in for it: reading
        creates neither the file nor the data directory.
        """
        path = Path(path) if path is not None else locations.database_file()
        if path.exists() or path.is_symlink():
            return cls.open(path, freeing=freeing)
        conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        try:
            schema.migrate(conn, path)
        except BaseException:
            conn.close()
            raise
        return cls(conn, path)

    @classmethod
    def _open_read_only(cls, path: Path, steps: Sequence[schema.Migration]) -> Store:
        conn = database.connect_read_only(path, schema.latest_version(steps))
        if conn is None:
            # No database yet: an empty one in memory answers every read, and no file
            # appears on disk just because someone listed or searched.
            conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
            schema.migrate(conn, path, steps)
        elif schema.user_version(conn) < schema.latest_version(steps) and \
                os.access(path, os.W_OK) and os.access(path.parent, os.W_OK):
            # Upgrade when we may; on a read-only mount an older file is read as it is
            # (the reading code copes without the newer tables).
            conn.close()
            return cls.open(path, migrations=steps)
        return cls(conn, path, read_only=True)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            try:
                if self._writer.token is not None and self._damage is None:
                    # Our own streams end here: what was saved is kept, as interrupted.
                    with database.transaction(self._conn):
                        self._fold_streaming(self._writer.token)
                        self._conn.execute(
                            "UPDATE messages SET state = 'interrupted', writer = NULL "
                            "WHERE state = 'streaming' AND writer = ?", (self._writer.token,))
            except sqlite3.Error:
                pass  # the next start recovers them anyway
            finally:
                self._writer.release()
                self._conn.close()
                self._closed = True

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def recover_interrupted(self) -> int:
        """Mark streaming messages whose writer is gone as interrupted; returns how many."""
        if self.read_only:
            return 0

        def work() -> int:
            tokens = [row[0] for row in self._conn.execute(
                "SELECT DISTINCT writer FROM messages WHERE state = 'streaming'")]
            dead = [t for t in tokens if t is None or (
                t != self._writer.token and not writers.is_alive(self.path, t))]
            changed = 0
            if dead:
                with database.transaction(self._conn):
                    for token in dead:
                        self._fold_streaming(token)
                        changed += self._conn.execute(
                            "UPDATE messages SET state = 'interrupted', writer = NULL "
                            "WHERE state = 'streaming' AND writer IS ?", (token,)).rowcount
            writers.sweep(self.path)
            return changed
        return self._write(work)

    def _fold_streaming(self, token: str | None) -> None:
        if self._has_parts:
            parts.fold(self._conn, [row[0] for row in self._conn.execute(
                "SELECT seq FROM messages WHERE state = 'streaming' AND writer IS ?",
                (token,))])

    # ---- conversations -----------------------------------------------------------------

    def create_conversation(self, conv: Conversation) -> None:
        """Insert `conv` and any messages it already holds."""
        self._write(lambda: self._insert_whole(conv))

    def import_conversation(self, conv: Conversation) -> None:
        """Insert a whole conversation in one transaction: all of it or nothing.

        UsageError if its id (or a message id) is already in the store. A message saved
        as `streaming` in the file is imported as `interrupted`: nobody is streaming it.
        """
        for message in conv.messages:
            if message.state is MessageState.STREAMING:
                message.state = MessageState.INTERRUPTED
        self._write(lambda: self._insert_whole(conv))

    def _insert_whole(self, conv: Conversation) -> None:
        conv_values = rows.conversation_values(conv)
        conv_values["message_count"] = len(conv.messages)

        def message_rows() -> Iterator[dict[str, Any]]:
            for position, message in enumerate(conv.messages):
                message.conversation_id = conv.id
                values = rows.message_values(message)
                values["position"] = position
                values["writer"] = (self._writer.acquire()
                                    if message.state is MessageState.STREAMING else None)
                yield values

        try:
            with database.transaction(self._conn):
                self._conn.execute(_INSERT_CONVERSATION, conv_values)
                self._conn.executemany(_INSERT_MESSAGE, message_rows())
                self._conn.execute(
                    "INSERT INTO messages_fts(rowid, content, reasoning) "
                    "SELECT seq, content, reasoning FROM messages "
                    "WHERE conversation_id = ? AND state != 'streaming'", (conv.id,))
        except sqlite3.IntegrityError as exc:
            raise self._explain_conflict(conv, exc) from exc

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
        """The conversation with its messages in order; only the last `last_n` if given."""
        def work() -> Conversation:
            row = self._conn.execute(
                f"SELECT {rows.CONVERSATION_COLUMNS} FROM conversations WHERE id = ?",
                (conversation_id,)).fetchone()
            if row is None:
                raise self._unknown(conversation_id)
            conv = rows.conversation_from_row(row)
            conv.messages = self._select_messages(conversation_id, None, last_n)
            return conv
        return self._run(work)

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
                found = [row[0] for row in self._conn.execute(
                    "SELECT id FROM conversations WHERE id >= ? AND id < ? ORDER BY id "
                    "LIMIT 6", (candidate, candidate + "\U0010ffff"))]
                if len(found) == 1:
                    return found[0]
                if found:
                    shown = ", ".join(f"{fid[:12]}…" for fid in found[:5])
                    more = " and more" if len(found) > 5 else ""
                    raise UsageError(f"'{prefix}' is ambiguous: matches {shown}{more}")
            raise UsageError(f"no conversation matches '{prefix}'")
        return self._run(work)

    # ---- messages ----------------------------------------------------------------------

    def add_message(self, message: Message) -> int:
        """Append `message` to its conversation; returns the position it was given."""
        return self.add_messages([message])[0]

    def add_messages(self, messages: Sequence[Message]) -> list[int]:
        """Append `messages` (in order) in one transaction; returns their positions."""
        if any(not message.conversation_id for message in messages):
            raise ValueError("add_messages needs message.conversation_id")

        def work() -> list[int]:
            with database.transaction(self._conn):
                return [self._append(message) for message in messages]
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
        seq = self._conn.execute(_INSERT_MESSAGE, values).lastrowid
        if message.state is not MessageState.STREAMING:
            self._conn.execute(
                "INSERT INTO messages_fts(rowid, content, reasoning) VALUES (?, ?, ?)",
                (seq, values["content"], values["reasoning"]))
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
                    "model = :model, provider = :provider, writer = :writer WHERE id = :id",
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
        """Delete one message (a retry that replaced it, or that was given up); the ones
        after it move up a position. False when it is not there (any more)."""
        def work() -> bool:
            with database.transaction(self._conn):
                row = self._conn.execute(
                    "SELECT conversation_id, position FROM messages WHERE id = ?",
                    (message_id,)).fetchone()
                if row is None:
                    return False
                conversation_id, position = row
                self._conn.execute("DELETE FROM messages WHERE id = ?", (message_id,))
                # UNIQUE(conversation_id, position) is checked row by row, so the shift
                # goes through negative positions rather than over the next row's slot.
                for shift in ("-position", "-position - 1"):
                    self._conn.execute(
                        f"UPDATE messages SET position = {shift} WHERE conversation_id = ? "
                        "AND (position > ? OR position < 0)", (conversation_id, position))
                self._conn.execute(
                    "UPDATE conversations SET message_count = message_count - 1 WHERE id = ?",
                    (conversation_id,))
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

    def _as_recovered(self, messages: list[Message]) -> list[Message]:
        """Streaming messages with their appended parts; read-only stores, which cannot
        run recover_interrupted, also show its outcome."""
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

    # ---- search ------------------------------------------------------------------------

    def search(self, query: str, limit: int = 50) -> list[SearchHit]:
        """Messages matching every word of `query` (the last as a prefix), best first.

        "Best" is bm25 relevance among the SEARCH_WINDOW most recent matching messages,
        which keeps a search for a very common word as fast as one for a rare word.
        """
        expression = fts.match_expression(query)
        if expression is None or limit <= 0:
            return []

        def work() -> list[SearchHit]:
            # Ranking every match of a common word costs O(matches) bm25 calls, so only
            # the most recent SEARCH_WINDOW matches are ranked: find the oldest of them
            # cheaply (FTS5 walks its index by rowid), then rank above that floor.
            floor = self._conn.execute(
                "SELECT rowid FROM messages_fts WHERE messages_fts MATCH ? "
                "ORDER BY rowid DESC LIMIT 1 OFFSET ?",
                (expression, SEARCH_WINDOW - 1)).fetchone()
            # A pure FTS query, so FTS5 sorts by rank itself, and snippet() runs only for
            # the rows returned. It is quadratic in a message's hits (a 50 MB message never
            # finished), so it runs only on messages up to snippets.LONG characters (CASE is
            # lazy); the others get theirs from chatterm.store.snippets. Asking FTS5 for the
            # snippets in a second query, by `rowid IN (...)` or `rowid = ?`, evaluates the
            # whole MATCH again each time: 90-260 ms for a common word instead of ~10.
            rows = self._conn.execute(
                "SELECT rowid, CASE WHEN (SELECT length(content) + length(reasoning) "
                f"FROM messages WHERE seq = messages_fts.rowid) <= {snippets.LONG} "
                f"THEN snippet(messages_fts, -1, ?, ?, '…', {_SNIPPET_TOKENS}) END "
                "FROM messages_fts WHERE messages_fts MATCH ? AND rowid >= ? "
                "ORDER BY rank LIMIT ?",
                (HIT_START, HIT_END, expression, floor[0] if floor else 0, limit)).fetchall()
            if not rows:
                return []
            ranked = self._long_snippets(rows, expression, query)
            marks = ",".join("?" * len(ranked))
            details = {row[0]: row[1:] for row in self._conn.execute(
                "SELECT m.seq, m.conversation_id, m.id, c.title, m.role, m.created_at "
                "FROM messages AS m JOIN conversations AS c ON c.id = m.conversation_id "
                f"WHERE m.seq IN ({marks})", [seq for seq, _ in ranked])}
            hits = []
            for seq, snippet in ranked:
                if seq in details:
                    cid, mid, title, role, created_at = details[seq]
                    hits.append(SearchHit(conversation_id=cid, message_id=mid, title=title,
                                          role=Role(role), snippet=snippet,
                                          created_at=created_at))
            return hits
        return self._run(work)

    def _long_snippets(self, rows: list[tuple[int, str | None]], expression: str,
                       query: str) -> list[tuple[int, str]]:
        """(seq, snippet) for the ranked `rows`, making the snippets FTS5 was not asked
        for (long messages) from a few pieces of their text, never all of it."""
        made = {seq: text for seq, text in rows if text is not None}
        long_rows = [seq for seq, text in rows if text is None]
        if long_rows:
            maker = snippets.LongSnippets(fts.any_word_expression(query) or expression,
                                          fts.query_words(query)[0])
            try:
                for seq in long_rows:
                    opened = [snippets.BlobColumn(self._conn, "messages", column, seq)
                              for column in ("content", "reasoning")]
                    try:
                        made[seq] = maker.snippet(opened, HIT_START, HIT_END,
                                                  _SNIPPET_TOKENS)
                    finally:
                        for column in opened:
                            column.close()
            finally:
                maker.close()
        return [(seq, made.get(seq, "")) for seq, _ in rows]

    # ---- plumbing ----------------------------------------------------------------------

    def _unknown(self, conversation_id: str) -> UsageError:
        return UsageError(f"no conversation matches '{conversation_id}'")

    def _run(self, work: Callable[[], T]) -> T:
        """Run `work` under the thread lock, turning SQLite failures into StoreError."""
        with self._lock:
            if self._closed:
                raise StoreError(f"the store for {self.path} is closed")
            try:
                return work()
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
