"""Conversation trees in SQL: schema version 3 and the queries that walk a branch.

Every message keeps its `parent_id` (None for a first prompt, and for an edited first
prompt: a second root); `conversations.current_id` is the leaf of the branch shown and
sent, and `messages.active_at` (NULL reads as `created_at`) says when a branch through a
message was last current, which picks the branch a flip to another version shows.

A branch is read by walking `parent_id` up from its leaf, one lookup on the id index
per message, so reading the last 50 messages of a branch costs 50 lookups however big
the tree is. A straight conversation, by far the common case, is read as before: by
position, and a check that those rows do chain up from the leaf (see `is_chain`) proves
they are the branch without walking it.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Sequence

from chatterm.conversation import Message
from chatterm.tree import TreeError

# Upgrading a version-2 database. The new columns come last in their rows (ALTER TABLE
# can only append): the covering index below lets `shape` read them without touching a
# row, so a 1 MB reply's overflow pages are never walked to reach its `active_at`.
UPGRADE = (
    "ALTER TABLE conversations ADD COLUMN current_id TEXT",
    "ALTER TABLE messages ADD COLUMN active_at REAL",
    """
    CREATE INDEX messages_tree ON messages
        (conversation_id, position, id, parent_id, created_at, active_at)
    """,
    # Version 2 kept a straight line: each message answers the one before it. The
    # engine already wrote that chain; rows written without it (imports, older builds)
    # get it here. Only rows that change are rewritten.
    """
    UPDATE messages SET parent_id = (
        SELECT p.id FROM messages AS p WHERE p.conversation_id = messages.conversation_id
        AND p.position < messages.position ORDER BY p.position DESC LIMIT 1)
    WHERE parent_id IS NOT (
        SELECT p.id FROM messages AS p WHERE p.conversation_id = messages.conversation_id
        AND p.position < messages.position ORDER BY p.position DESC LIMIT 1)
    """,
    """
    UPDATE conversations SET current_id = (
        SELECT id FROM messages WHERE conversation_id = conversations.id
        ORDER BY position DESC LIMIT 1)
    """,
)


def upgrade(conn: sqlite3.Connection) -> None:
    for statement in UPGRADE:
        conn.execute(statement)


def has_trees(conn: sqlite3.Connection) -> bool:
    """False for a version-2 file opened read-only (it is read as straight lines)."""
    return any(row[1] == "current_id"
               for row in conn.execute("PRAGMA table_info(conversations)"))


# The branch ending at :start, walked upwards: (id, depth) with depth 0 for :start,
# at most :limit rows. The conversation check keeps a damaged or foreign parent_id from
# leading the walk into another conversation.
WALK_UP = """
    WITH RECURSIVE up(id, depth) AS (
        SELECT id, 0 FROM messages WHERE id = :start AND conversation_id = :cid
        UNION ALL
        SELECT m.parent_id, up.depth + 1 FROM up JOIN messages AS m ON m.id = up.id
        WHERE m.parent_id IS NOT NULL AND up.depth + 1 < :limit
    )
"""

SHAPE = ("SELECT id, parent_id, position, coalesce(active_at, created_at) FROM messages "
         "WHERE conversation_id = ? ORDER BY position")


def is_chain(messages: Sequence[Message], leaf_id: str | None, *, whole: bool) -> bool:
    """True when `messages` (in position order) are the last ones of the branch ending at
    `leaf_id`: the last is the leaf and each answers the one before it (and, for the
    `whole` branch, the first is a root)."""
    if not messages:
        return leaf_id is None
    if messages[-1].id != leaf_id:
        return False
    if whole and messages[0].parent_id is not None:
        return False
    return all(later.parent_id == earlier.id
               for earlier, later in itertools.pairwise(messages))


def ordered(messages: Sequence[Message]) -> list[Message]:
    """`messages` parents before children (otherwise in the order given), for saving.

    A list in which no message names a parent is a straight line (an older export, a
    caller building one): each message is made to answer the one before it. Raises
    tree.TreeError for a message id used twice, a parent that is not there, or a cycle.
    """
    if len(messages) > 1 and all(message.parent_id is None for message in messages):
        for earlier, later in itertools.pairwise(messages):
            later.parent_id = earlier.id
        return list(messages)
    by_id: dict[str, Message] = {}
    for message in messages:
        if message.id in by_id:
            raise TreeError(f"message {message.id} is in the conversation twice")
        by_id[message.id] = message
    for message in messages:
        if message.parent_id is not None and message.parent_id not in by_id:
            raise TreeError(f"message {message.id} answers {message.parent_id}, "
                            "which is not in the conversation")
    placed: set[str] = set()
    result: list[Message] = []
    waiting: dict[str, list[Message]] = {}
    for message in messages:
        if message.parent_id is not None and message.parent_id not in placed:
            waiting.setdefault(message.parent_id, []).append(message)
            continue
        stack = [message]
        while stack:
            ready = stack.pop()
            result.append(ready)
            placed.add(ready.id)
            stack.extend(reversed(waiting.pop(ready.id, [])))
    if waiting:
        stuck = next(iter(waiting.values()))[0]
        raise TreeError(f"the parents of message {stuck.id} form a cycle")
    return result
