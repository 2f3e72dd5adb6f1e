"""Branches: a conversation's tree, its current branch, paging along it, deleting a
subtree, forking, and message ids given as prefixes (the SQL lives in trees.py)."""

from __future__ import annotations

import time
from dataclasses import replace

from chatterm.conversation import Conversation, Message, new_id, now
from chatterm.errors import UsageError
from chatterm.store import database, failures, space
from chatterm.store.conversations import ConversationStore
from chatterm.tree import Shape


class BranchStore(ConversationStore):
    """The tree of each conversation and the branch it shows."""

    def shape(self, conversation_id: str) -> Shape:
        """The whole tree by id (no text): one query on a covering index."""
        def work() -> Shape:
            self._current_id(conversation_id)  # UsageError for an unknown conversation
            return self._shape(conversation_id)
        return self._run(work)

    def current_id(self, conversation_id: str) -> str | None:
        """The leaf of the current branch (None for an empty conversation)."""
        return self._run(lambda: self._current_id(conversation_id))

    def load_path(self, conversation_id: str, before_id: str | None,
                  limit: int | None) -> list[Message]:
        """Up to `limit` messages (None: all) of the current branch just above
        `before_id` (None: up to its leaf), root first: scroll-back by id."""
        def work() -> list[Message]:
            if before_id is None:
                return self._select_path(conversation_id, self._current_id(conversation_id),
                                         limit)
            row = self._conn.execute(
                "SELECT parent_id FROM messages WHERE id = ? AND conversation_id = ?",
                (before_id, conversation_id)).fetchone()
            if row is None:
                raise UsageError(f"no message {before_id} in conversation {conversation_id}")
            if not self._has_trees:
                position = self._conn.execute("SELECT position FROM messages WHERE id = ?",
                                              (before_id,)).fetchone()[0]
                return self._select_messages(conversation_id, position, limit)
            return self._select_path(conversation_id, row[0], limit)
        return self._run(work)

    def path_length(self, conversation_id: str) -> int:
        """How many messages the current branch holds."""
        def work() -> int:
            leaf = self._current_id(conversation_id)
            return len(self._walk_up(conversation_id, leaf, None))
        return self._run(work)

    def path_index(self, conversation_id: str, message_id: str) -> int | None:
        """Where `message_id` sits on the current branch (0: its root); None when it is
        on another branch."""
        def work() -> int | None:
            path = self._walk_up(conversation_id, self._current_id(conversation_id), None)
            try:
                return path.index(message_id)
            except ValueError:
                return None
        return self._run(work)

    def set_current(self, conversation_id: str, leaf_id: str) -> None:
        """Make the branch ending at `leaf_id` current (saved) and the most recently
        active one."""
        def work() -> None:
            with database.transaction(self._conn):
                self._check_message(conversation_id, leaf_id)
                self._make_current(conversation_id, leaf_id, time.time())
        self._write(work)

    def delete_subtree(self, conversation_id: str, message_id: str) -> str | None:
        """Delete a message and every message below it (their search entries go with
        them); returns the new current leaf: unchanged when the current branch did not
        go through it, else the latest leaf of a remaining sibling, else the parent, else
        None. Works on a full disk, like deleting a conversation."""
        def work() -> str | None:
            with database.transaction(self._conn):
                self._check_message(conversation_id, message_id)
                shape = self._shape(conversation_id)
                current = self._current_id(conversation_id)
                parent = shape.nodes[message_id].parent_id
                gone = shape.remove_subtree(message_id)
                for start in range(0, len(gone), 500):
                    chunk = gone[start:start + 500]
                    self._conn.execute(
                        f"DELETE FROM messages WHERE id IN ({','.join('?' * len(chunk))})",
                        chunk)
                self._conn.execute(
                    "UPDATE conversations SET message_count = message_count - ?, "
                    "updated_at = max(updated_at, ?) WHERE id = ?",
                    (len(gone), time.time(), conversation_id))
                if current is None or current in gone:
                    current = shape.latest_leaf(parent)
                    self._make_current(conversation_id, current, time.time(), shape)
                for mid in gone:
                    self._appender.forget(mid)
                return current
        try:
            result = self._write(work)
        except failures.DiskFull:
            if not space.release_reserve(self.path):
                raise
            result = self._write(work)
        with self._lock:
            space.ensure_reserve(self.path)
        return result

    def fork_conversation(self, conversation_id: str, message_id: str,
                          title: str | None = None) -> Conversation:
        """A new conversation (new ids) holding the branch from its root down to
        `message_id`, saved and returned; its title is `title`, else the original's
        followed by " (fork)" (as the app names it, so the list never shows two chats by
        one name and `chatterm fork` and the app's "Fork chat here" agree)."""
        def read() -> Conversation:
            conv = self._conversation_row(conversation_id)
            self._check_message(conversation_id, message_id)
            conv.messages = self._select_path(conversation_id, message_id, None)
            return conv
        source = self._run(read)
        when = now()
        if title is None:
            title = f"{source.title or 'New chat'} (fork)"
        fork = replace(source, id=new_id(), title=title,
                       created_at=when, updated_at=when, messages=[], current_id=None)
        parent: str | None = None
        for message in source.messages:
            copy = replace(message, id=new_id(), conversation_id=fork.id, parent_id=parent)
            fork.messages.append(copy)
            parent = copy.id
        fork.current_id = parent
        self.create_conversation(fork)
        return fork

    def resolve_message_id(self, conversation_id: str | None, prefix: str) -> str:
        """The id of the one message (in that conversation, if given) whose id is
        `prefix` or starts with it; UsageError when none or several do."""
        wanted = prefix.strip()
        if not wanted:
            raise UsageError("no message id given")
        scope = "" if conversation_id is None else " AND conversation_id = ?"
        extra = () if conversation_id is None else (conversation_id,)

        def work() -> str:
            for candidate in dict.fromkeys((wanted, wanted.lower())):
                if self._conn.execute(f"SELECT 1 FROM messages WHERE id = ?{scope}",
                                      (candidate, *extra)).fetchone():
                    return candidate
                # A range scan on the id index: no LIKE/GLOB escaping needed.
                found = [str(row[0]) for row in self._conn.execute(
                    f"SELECT id FROM messages WHERE id >= ? AND id < ?{scope} ORDER BY id "
                    "LIMIT 6", (candidate, candidate + "\U0010ffff", *extra))]
                if len(found) == 1:
                    return found[0]
                if found:
                    shown = ", ".join(f"{fid[:12]}…" for fid in found[:5])
                    more = " and more" if len(found) > 5 else ""
                    raise UsageError(f"message id '{prefix}' is ambiguous: matches "
                                     f"{shown}{more}")
            where = "" if conversation_id is None else " in this conversation"
            raise UsageError(f"no message{where} matches '{prefix}'")
        return self._run(work)

    def _check_message(self, conversation_id: str, message_id: str) -> None:
        if not self._conn.execute(
                "SELECT 1 FROM messages WHERE id = ? AND conversation_id = ?",
                (message_id, conversation_id)).fetchone():
            self._current_id(conversation_id)  # an unknown conversation says so first
            raise UsageError(f"no message {message_id} in conversation {conversation_id}")

