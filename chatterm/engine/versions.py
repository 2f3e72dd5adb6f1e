"""New versions of a message, and a reply carried on: regenerate (and retry), edit, continue.

A regenerate streams a new *sibling* of an assistant reply (same parent), which becomes
the current branch; the old reply and everything below it stay, as another version. An
attempt stopped or failed before it got anything is dropped and the previous version is
current again, exactly as it was (ReplyRestored, then the messages that were below it:
BranchChanged); one that got some text stays, interrupted, as the current version. An old
reply that held nothing (an error) with nothing below it gives way to the attempt
entirely (the rules are chatterm.engine.attempts'). Retry is a regenerate of the current
branch's last reply.

An edit adds a sibling of a user prompt and streams a reply to it: a new branch, current;
the old prompt and what follows it stay on theirs. Continue extends the current
branch's last reply in place.

These are ChatSession's own operations (session.py delegates to them) and use its
internals: the queued store calls, the request builder and the streams.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from chatterm.conversation import Message, MessageState, Role, now
from chatterm.engine import attached, attempts, branches, tool_loop
from chatterm.engine.events import BranchChanged, EventSink, ReplyRestored
from chatterm.errors import ConfigError, StoreError, UsageError

if TYPE_CHECKING:
    from chatterm.attachments import PendingAttachment
    from chatterm.engine.session import ChatSession, Turn

# Sent (never stored) when a provider cannot take an assistant prefix.
CONTINUE_INSTRUCTION = (
    "Your previous reply was cut off. Continue it exactly where it stopped, without "
    "repeating anything and without any preamble."
)


def last_reply(session: ChatSession) -> Message:
    """The current branch's last reply (the one after its last prompt)."""
    for message in reversed(session.conversation.messages):
        if message.role is Role.ASSISTANT:
            return message
        if message.role is Role.USER:
            break
    raise UsageError("there is no reply to act on yet")


def model_for(session: ChatSession, provider: str | None,
              model: str | None) -> tuple[str, str]:
    """The provider and model a new version is written with (default: the chat's)."""
    conversation = session.conversation
    name = session.config.provider(provider or conversation.provider).name
    if model:
        return name, model
    if name == conversation.provider:
        return name, conversation.model
    return name, session.config.model_for(name) or conversation.model


async def _on_path(session: ChatSession, message_id: str, on_event: EventSink) -> int:
    """Make sure `message_id` is on the current branch, with the whole branch loaded
    (a request carries all of it); returns its index there."""
    branches.message_in_tree(session, message_id)
    if message_id not in branches.current_path(session):
        on_event(await branches.switch_branch(session, message_id))
    await session.load_history()
    for index, message in enumerate(session.conversation.messages):
        if message.id == message_id:
            return index
    raise UsageError(f"message {message_id[:12]} is not on the current branch")


async def regenerate(session: ChatSession, message_id: str | None, on_event: EventSink,
                     *, provider: str | None = None, model: str | None = None) -> Message:
    conversation = session.conversation
    if message_id is None:
        await session.load_history()
        message_id = last_reply(session).id
    index = await _on_path(session, message_id, on_event)
    messages = conversation.messages
    old = messages[index]
    if old.role is not Role.ASSISTANT:
        raise UsageError("only a reply can be regenerated; edit a prompt instead")
    name, chosen = model_for(session, provider, model)
    key = session.key_for(name)
    request = session._request(await attached.history(session, upto=index), model=chosen)
    below = messages[index + 1:]
    old_leaf = conversation.current_id or messages[-1].id
    new = Message(role=Role.ASSISTANT, conversation_id=conversation.id,
                  parent_id=old.parent_id, state=MessageState.STREAMING,
                  provider=name, model=chosen)
    if below:
        # What followed the old reply leaves the branch shown (it stays on the old one).
        conversation.messages = messages[:index + 1]
        on_event(BranchChanged(index + 1, [], old.id))
    try:
        await branches.attach(session, [new], at=index)
    except BaseException:
        conversation.messages, conversation.current_id = messages, old_leaf
        if below:
            on_event(BranchChanged(index + 1, below, old_leaf))
        raise
    try:
        await session._stream_into(new, request, key, on_event, replaces=old)
    except BaseException:
        await _settle(session, index, old, new, below, old_leaf, on_event, stopped=True)
        raise
    kept = await _settle(session, index, old, new, below, old_leaf, on_event)
    # A new version that asks for tools gets them run (a dropped attempt asks nothing).
    return await tool_loop.follow(session, kept, on_event) if kept is new else kept


async def _settle(session: ChatSession, index: int, old: Message, new: Message,
                  below: list[Message], old_leaf: str, on_event: EventSink, *,
                  stopped: bool = False) -> Message:
    """Keep the attempt as the current version, or drop it and give the old one back."""
    conversation = session.conversation
    cid = conversation.id
    store = session.store if session.saved else None
    if attempts.version_kept(new):
        if not attempts.holds_something(old) and not session.shape.children.get(old.id):
            # A reply that held nothing (an error), with nothing below it, gives way.
            with contextlib.suppress(StoreError):
                if store is not None:
                    current = await session._run(store.delete_subtree, cid, old.id)
                    if current != new.id:
                        await session._run(store.set_current, cid, new.id)
                session.branches.cut(old.id)
        return new
    conversation.messages = [*conversation.messages[:index], old, *below]
    conversation.current_id = old_leaf
    session.branches.cut(new.id)
    if old_leaf in session.shape:
        session.shape.touch(old_leaf, now())
    # On failure both rows stay saved: nothing is lost, the next start shows both.
    with contextlib.suppress(StoreError):
        if store is not None:
            await session._run(store.delete_subtree, cid, new.id)
            await session._run(store.set_current, cid, old_leaf)
    on_event(ReplyRestored(old, new, stopped=stopped, error=new.error))
    if below:
        on_event(BranchChanged(index + 1, below, old_leaf))
    return old


def new_edit(session: ChatSession, message_id: str, prompt: str,
             attachments: Sequence[PendingAttachment] | None = None) -> Turn:
    """A new version of the prompt `message_id` and the reply it will get (not saved);
    it keeps the old version's attachments unless `attachments` are given."""
    branches.message_in_tree(session, message_id)
    shown = next((m for m in session.conversation.messages if m.id == message_id), None)
    if shown is not None and shown.role is not Role.USER:
        raise UsageError("only a prompt can be edited; regenerate a reply instead")
    turn = session.new_turn(prompt, attachments or ())
    turn.user.parent_id = session.shape.nodes[message_id].parent_id
    turn.edits = message_id
    turn.keeps_attachments = attachments is None
    if turn.keeps_attachments and shown is not None:
        turn.user.attachments = list(shown.attachments)  # shown at once; edit() makes sure
    return turn


async def edit(session: ChatSession, turn: Turn, on_event: EventSink, *,
               provider: str | None = None, model: str | None = None) -> Message:
    if turn.edits is None:
        raise UsageError("this turn is not an edit (use new_edit)")
    user, reply = turn.user, turn.reply
    session.check_prompt(user)
    name, chosen = model_for(session, provider, model)
    key = session.key_for(name)
    index = await _on_path(session, turn.edits, on_event)
    conversation = session.conversation
    old = conversation.messages[index]
    if old.role is not Role.USER:
        raise UsageError("only a prompt can be edited; regenerate a reply instead")
    if turn.keeps_attachments:
        # Their bytes are saved already (or in memory, not saving): only the links are new.
        user.attachments = list(old.attachments)
    user.parent_id = old.parent_id
    reply.parent_id = user.id
    reply.provider, reply.model = name, chosen
    await branches.attach(session, [user, reply], at=index, blobs=turn.blobs)
    on_event(BranchChanged(index, [user, reply], reply.id))
    request = session._request(await attached.history(session, upto=-1), model=chosen)
    reply = await session._stream_into(reply, request, key, on_event)
    return await tool_loop.follow(session, reply, on_event)


async def continue_reply(session: ChatSession, on_event: EventSink) -> Message:
    reply = last_reply(session)
    # A complete reply is finished unless the server said it stopped at the length
    # limit; without a finish_reason it is still complete (a continue appended another
    # answer to it).
    if reply.state is MessageState.COMPLETE and reply.finish_reason != "length":
        raise UsageError("the last reply is complete; use retry to regenerate it")
    conversation = session.conversation
    name, chosen = _writer_of(session, reply)
    key = session.key_for(name)
    index = conversation.messages.index(reply)
    provider = session.config.provider(name)
    kept = reply.content
    if resumes_tool_loop(conversation.messages, index):
        # A loop's next reply stopped before its first token: nothing to continue from,
        # so the model is asked again with the round's results, as the loop would have.
        request = session._request(await attached.history(session, upto=index),
                                   model=chosen)
        base = ""
    elif provider.supports_prefix and kept:
        request = session._request(await attached.history(session, upto=index), prefix=kept,
                                   model=chosen)
        base = ""  # the assembled reply starts with the prefix already
    else:
        history = await attached.history(session, upto=index + 1)
        history.append({"role": "user", "content": CONTINUE_INSTRUCTION})
        request = session._request(history, model=chosen)
        base = kept
    before = attempts.snapshot(reply)
    reply.state = MessageState.STREAMING
    reply.error = None
    reply.finish_reason = None
    reply.provider, reply.model = name, chosen
    try:
        await session._save_message(reply)
        await session._stream_into(reply, request, key, on_event, base=base)
    except BaseException:
        await _settle_continue(session, reply, before, on_event, stopped=True)
        raise
    await _settle_continue(session, reply, before, on_event)
    return await tool_loop.follow(session, reply, on_event)


def resumes_tool_loop(messages: list[Message], index: int) -> bool:
    """True for a reply with nothing in it that answers tool results (Esc after a round,
    before the next reply's first token): continuing it resumes the tool loop."""
    reply = messages[index]
    return (index > 0 and reply.role is Role.ASSISTANT
            and messages[index - 1].role is Role.TOOL and not reply.content
            and not reply.reasoning and not reply.tool_calls)


def _writer_of(session: ChatSession, reply: Message) -> tuple[str, str]:
    """Who carries a reply on: the model that wrote it, so one reply is never labelled
    with a model that wrote only its end (the chat's model may have changed since, or a
    compare made it). The chat's model only when the reply's provider is gone."""
    if reply.provider and reply.model:
        with contextlib.suppress(ConfigError):
            return session.config.provider(reply.provider).name, reply.model
    conversation = session.conversation
    return conversation.provider, conversation.model


async def _settle_continue(session: ChatSession, reply: Message, before: Message,
                           on_event: EventSink, *, stopped: bool = False) -> None:
    if attempts.continue_added(before, reply):
        return
    error = reply.error
    attempts.restore(reply, before)
    with contextlib.suppress(StoreError):
        # On failure the row holds the old text with another state: nothing is lost.
        await session._save_message(reply)
    on_event(ReplyRestored(reply, None, stopped=stopped, error=error))
