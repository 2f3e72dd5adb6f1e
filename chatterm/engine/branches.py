"""The open conversation's tree, as ChatSession keeps it: moving the current branch.

The session shows and sends one branch (`Conversation.messages` is the current path, or
its last page). It also keeps the whole tree's skeleton (`tree.Shape`, ids only) in
sync with every message it adds or removes, so "which version is this" and "where does
this branch go" never need a store read. Changing the branch saves it (the store's
`current_id`, and the path is touched as the most recently active) and reads only the
messages that differ from what is shown: a flip near the end of a long chat reads a few
messages, not the chat.

A session without a store (`ask --no-save`) or not saved yet keeps every message it has
made in memory (`Branches.known`) and moves between them without any store.

The functions here are ChatSession's own operations (session.py delegates to them), so
they use its internals: the queued store calls (`_run`) and whether it is saved yet.
`attach` is how every new message (a prompt, a reply, a version) joins the tree.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from chatterm.conversation import Conversation, Message, now
from chatterm.engine.events import BranchChanged
from chatterm.engine.writer import Saving, wait
from chatterm.errors import ChattermError, UsageError
from chatterm.tree import Node, Shape

if TYPE_CHECKING:
    from chatterm.attachments import PendingAttachment
    from chatterm.engine.protocols import SessionStore
    from chatterm.engine.session import ChatSession


class Branches:
    """The session's tree state: the shape (loaded on first use) and, while nothing is
    saved, every message by id."""

    def __init__(self) -> None:
        self.shape: Shape | None = None
        self.known: dict[str, Message] = {}
        # One change of branch at a time: each reads the path shown and replaces it after
        # awaiting the store, so two quick flips must not interleave.
        self.moving = asyncio.Lock()

    def grow(self, message: Message, position: int | None = None) -> None:
        """A message the session just made (and saved, when it saves): into the shape."""
        self.known[message.id] = message
        if self.shape is None or message.id in self.shape:
            # Not read yet: the store's shape will hold it. Already there: the shape was
            # read from the store between this message's save and now.
            return
        if position is None:
            position = max((n.position for n in self.shape.nodes.values()), default=-1) + 1
        self.shape.add(Node(message.id, message.parent_id, position, now()))

    def cut(self, message_id: str) -> None:
        """A message and everything below it are gone."""
        if self.shape is not None and message_id in self.shape:
            for gone in self.shape.remove_subtree(message_id):
                self.known.pop(gone, None)
        else:
            self.known.pop(message_id, None)


async def attach(session: ChatSession, on_path: list[Message],
                 beside: list[Message] | None = None, *, at: int | None = None,
                 blobs: Sequence[PendingAttachment] = ()) -> None:
    """New messages onto the current branch (from path index `at`, default its end;
    `beside`: other versions of the last one, saved but not shown), current, saved
    with a new conversation in ONE transaction: a failure leaves nothing behind, and
    neither does a stop (Esc) while the write waits: it is taken back once it lands.
    `blobs`: the bytes of the new messages' attachments, saved in the same transaction."""
    conversation = session.conversation
    store = session.store
    before = conversation.messages, conversation.current_id
    kept = conversation.messages if at is None else conversation.messages[:at]
    conversation.messages = kept + on_path
    conversation.current_id = on_path[-1].id
    new = on_path + (beside or [])
    positions: list[int | None] = [None] * len(new)
    saving: Saving[Any] | None = None
    try:
        if store is not None and not session._persisted:
            # A saved chat left with no messages (all deleted, or imported empty)
            # has its row already: add to it rather than create it twice.
            session._persisted = await session._run(store.holds_ids_of, conversation)
        if store is not None and not session._persisted:
            whole = copy.copy(conversation)  # every version is saved, not only the path
            whole.messages = conversation.messages + (beside or [])
            saving = session._submit(functools.partial(
                store.create_conversation, whole, **_with(blobs)))
            await wait(saving)
        elif store is not None:
            saving = session._submit(functools.partial(
                store.add_messages, new, current_id=on_path[-1].id, **_with(blobs)))
            positions = list(await wait(saving))
    except BaseException as error:
        conversation.messages, conversation.current_id = before
        if saving is not None and isinstance(error, asyncio.CancelledError):
            # The write lands all the same (writes are never cut off): queued after it,
            # this takes it back, so the store holds what the chat shows.
            assert store is not None
            session._submit(_take_back, store, conversation.id, new[0].id, before[1],
                            not session._persisted)
        raise
    session._persisted = True
    # Until the request is made (chatterm.engine.attached): no need to read back from the
    # store the bytes just written; without a store, memory is where they live.
    session.blobs.update((blob.meta.sha256, blob.data) for blob in blobs)
    for message, position in zip(new, positions, strict=True):
        session.branches.grow(message, position)


def _with(blobs: Sequence[PendingAttachment]) -> dict[str, Any]:
    """`blobs=` only when there are some: a store (or a test's) written before
    attachments, taking no such argument, keeps working for every other message."""
    return {"blobs": blobs} if blobs else {}


def _take_back(store: SessionStore, conversation_id: str, first_id: str,
               current_id: str | None, created: bool) -> None:
    """Undo an attach that was stopped while its write was queued (on the writer)."""
    with contextlib.suppress(ChattermError):  # the write failed: nothing to undo
        if created:
            store.delete_conversation(conversation_id)
            return
        store.delete_subtree(conversation_id, first_id)
        if current_id is not None:
            store.set_current(conversation_id, current_id)


def path_shape(messages: list[Message]) -> Shape:
    """The shape of a conversation known only as its current path (each message answers
    the one before it, whatever parent a file or an older database gave it)."""
    nodes = [Node(m.id, messages[i - 1].id if i else None, i, m.created_at)
             for i, m in enumerate(messages)]
    return Shape(nodes)


def load_shape(session: ChatSession) -> Shape:
    conversation = session.conversation
    if session.saved:
        assert session.store is not None
        return session.store.shape(conversation.id)
    shape = path_shape(conversation.messages)
    session.branches.known.update((m.id, m) for m in conversation.messages)
    return shape


def current_path(session: ChatSession) -> list[str]:
    current = session.conversation.current_id
    if current is None and session.conversation.messages:
        current = session.conversation.messages[-1].id
    shape = session.shape
    return shape.path_to(current) if current is not None and current in shape else []


def message_in_tree(session: ChatSession, message_id: str) -> None:
    if message_id not in session.shape:
        raise UsageError(f"no message {message_id[:12]} in this conversation")


def refuse_while_streaming(session: ChatSession) -> None:
    if session.streaming:
        raise UsageError("a reply is still streaming: stop it first (Esc)")


async def switch_branch(session: ChatSession, message_id: str) -> BranchChanged:
    """Make the most recently active branch through `message_id` current (saved)."""
    refuse_while_streaming(session)
    async with session.branches.moving:
        message_in_tree(session, message_id)
        leaf = session.shape.latest_leaf(message_id)
        assert leaf is not None
        return await show_path(session, leaf)


async def flip(session: ChatSession, message_id: str, step: int) -> BranchChanged:
    """The version `step` away (-1 previous, +1 next) of `message_id`, on its latest branch."""
    message_in_tree(session, message_id)
    siblings = session.shape.siblings(message_id)
    index = siblings.index(message_id) + step
    if not 0 <= index < len(siblings):
        which = "first" if index < 0 else "last"
        raise UsageError(f"this is the {which} version ({len(siblings)} in all)")
    return await switch_branch(session, siblings[index])


async def show_path(session: ChatSession, leaf: str | None, *, save: bool = True,
                    old_path: list[str] | None = None) -> BranchChanged:
    """Make the path ending at `leaf` current: saved (unless the store already did it),
    its messages read where they differ from what is shown, `conversation.messages`
    brought in line. `leaf` None: nothing is left to show. `old_path`: the path shown
    until now, when the shape no longer holds all of it (a deleted subtree)."""
    conversation = session.conversation
    shape = session.shape
    if old_path is None:
        old_path = current_path(session)
    new_path = shape.path_to(leaf) if leaf is not None else []
    keep = shape.divergence(old_path, new_path)
    at = now()
    for mid in new_path:  # shape.touch, without walking the path a third time
        shape.nodes[mid].active_at = at
    conversation.current_id = leaf
    if session.saved:
        assert session.store is not None
        if save and leaf is not None:
            await session._run(session.store.set_current, conversation.id, leaf)
        tail = (await session._run(session.store.load_path, conversation.id, None,
                                   len(new_path) - keep)) if len(new_path) > keep else []
    else:
        tail = [session.branches.known[mid] for mid in new_path[keep:]]
    # conversation.messages may hold only the path's last page: `first` is where it starts.
    messages = conversation.messages
    first = len(old_path) - len(messages)
    if keep >= first:
        conversation.messages = messages[:keep - first] + tail
    else:
        conversation.messages = list(tail)
        session.complete = keep == 0
    return BranchChanged(keep, list(tail), leaf)


async def delete_message(session: ChatSession, message_id: str) -> BranchChanged:
    """Delete `message_id` and everything below it; the current branch moves to the
    latest branch of a remaining version, else to the parent (else nothing is left)."""
    refuse_while_streaming(session)
    async with session.branches.moving:
        message_in_tree(session, message_id)
        shape = session.shape
        old_path = current_path(session)
        if session.saved:
            assert session.store is not None
            current = await session._run(session.store.delete_subtree,
                                         session.conversation.id, message_id)
        else:
            current = current_after_delete(shape, old_path, message_id)
        session.branches.cut(message_id)
        if current is not None and current not in shape:
            current = shape.latest_leaf(None)  # the store disagrees with the shape
        return await show_path(session, current, save=False, old_path=old_path)


def current_after_delete(shape: Shape, path: list[str], message_id: str) -> str | None:
    """Where the current branch goes when `message_id`'s subtree is deleted (the rule
    Store.delete_subtree follows too)."""
    if message_id not in path:
        return path[-1] if path else None
    others = [s for s in shape.siblings(message_id) if s != message_id]
    if others:
        latest = max(others, key=lambda s: (shape.nodes[s].active_at, shape.nodes[s].position))
        return shape.latest_leaf(latest)
    return shape.nodes[message_id].parent_id


async def fork(session: ChatSession, message_id: str, title: str | None) -> Conversation:
    """A new saved conversation holding the current path up to `message_id`."""
    message_in_tree(session, message_id)
    if message_id not in current_path(session):
        raise UsageError(f"message {message_id[:12]} is not on the current branch")
    if session.store is None or not session.saved:
        raise UsageError("this chat is not saved, so it cannot be forked")
    return await session._run(session.store.fork_conversation, session.conversation.id,
                              message_id, title)


def older_messages(session: ChatSession, before_id: str, limit: int) -> list[Message]:
    """Up to `limit` messages of the current path just above `before_id`, in order."""
    if session.saved:
        assert session.store is not None
        return session.store.load_path(session.conversation.id, before_id, limit)
    messages = session.conversation.messages
    index = next((i for i, m in enumerate(messages) if m.id == before_id), 0)
    return messages[max(0, index - limit):index]
