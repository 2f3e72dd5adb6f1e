"""Conversation trees in SQL: schema version 3 and the queries that walk a branch.

Every message keeps its `parent_id` (None for a first prompt, and for an edited first
prompt: a second root); `conversations.current_id` is the leaf of the branch shown and
sent, and `message_activity.active_at` (no row reads as the message's `created_at`) says
when a branch through a message was last current, which picks the branch a flip to
another version shows.

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
from chatterm.tree import Shape, TreeError

# Upgrading a version-2 database. When a branch was last current lives in a table of its
# own, with a row only for messages that have other versions (only they are ever
# compared, see `touch_rows`): a straight conversation gains no row and no index entry,
# and `shape` reads it with the (conversation_id, position) index and the small leading
# columns of each row, never a long reply's overflow pages.
ACTIVITY = "message_activity"
UPGRADE = (
    "ALTER TABLE conversations ADD COLUMN current_id TEXT",
    f"""
    CREATE TABLE {ACTIVITY} (
        seq       INTEGER PRIMARY KEY REFERENCES messages(seq) ON DELETE CASCADE,
        active_at REAL NOT NULL
    )
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

SHAPE = ("SELECT m.id, m.parent_id, m.position, coalesce(a.active_at, m.created_at) "
         f"FROM messages AS m LEFT JOIN {ACTIVITY} AS a ON a.seq = m.seq "
         "WHERE m.conversation_id = ? ORDER BY m.position")

TOUCH = (f"INSERT INTO {ACTIVITY} (seq, active_at) SELECT seq, :at FROM messages "
         "WHERE id = :id ON CONFLICT (seq) DO UPDATE SET active_at = excluded.active_at")


def touch_rows(shape: Shape, leaf_id: str) -> list[str]:
    """The messages to mark when the branch ending at `leaf_id` becomes current: those
    on it that have other versions. A message without siblings is never compared (see
    tree.Shape.latest_leaf), so a straight line needs no write at all."""
    return [mid for mid in shape.path_to(leaf_id)
            if len(shape.children[shape.nodes[mid].parent_id]) > 1]


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


def is_line(messages: Sequence[Message]) -> bool:
    """True when `messages` are one straight line: each answers the one before it, the
    first answers nothing, no id twice."""
    return (len({message.id for message in messages}) == len(messages)
            and is_chain(messages, messages[-1].id if messages else None, whole=True))


def branch_of(messages: Sequence[Message], leaf_id: str) -> list[Message]:
    """The branch ending at `leaf_id` picked out of a whole tree's messages, root first."""
    by_id = {message.id: message for message in messages}
    path: list[Message] = []
    current: str | None = leaf_id
    while current is not None and current in by_id and len(path) <= len(by_id):
        path.append(by_id[current])
        current = by_id[current].parent_id
    path.reverse()
    return path


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
