"""Compare models: one prompt, one reply per model, streamed at the same time.

The replies are siblings (versions of one answer, each labelled with its model), all
saved with the prompt in one transaction before any request goes out; the first model's
reply is the current branch (ChatSession.keep makes another one current). Each reply
streams as its own ReplyStream, saved at least every SAVE_INTERVAL like any reply, and
every event names its message, so a front end can draw them side by side. A failure is
that reply's own (the others go on); cancelling the task awaiting `compare` stops them
all, each kept as far as it got.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from chatterm.attach_files import check_count
from chatterm.conversation import Message, MessageState, Role
from chatterm.engine import attached, branches
from chatterm.engine.events import ReplyStopped
from chatterm.errors import StoreError, UsageError

if TYPE_CHECKING:
    from chatterm.attachments import PendingAttachment
    from chatterm.engine.events import EventSink
    from chatterm.engine.session import ChatSession


@dataclass(slots=True)
class CompareTurn:
    """A prompt and the replies it will get: the very Messages compare saves and streams
    into, one per model in the order asked (the first is the current branch)."""

    user: Message
    replies: list[Message]
    # The bytes of user.attachments, saved with the prompt.
    blobs: list[PendingAttachment] = field(default_factory=list)


def new_compare(session: ChatSession, prompt: str, models: list[tuple[str, str]],
                attachments: Sequence[PendingAttachment] = ()) -> CompareTurn:
    """Made now, nothing saved; an unknown provider or a model asked twice is refused."""
    if len(models) < 2:
        raise UsageError("comparing needs at least two models")
    if len(set(models)) < len(models):
        raise UsageError("the same model is asked twice; pick different models to compare")
    conversation = session.conversation
    user = Message(role=Role.USER, content=prompt, conversation_id=conversation.id)
    replies = [
        Message(role=Role.ASSISTANT, conversation_id=conversation.id, parent_id=user.id,
                state=MessageState.STREAMING,
                provider=session.config.provider(provider).name, model=model)
        for provider, model in models
    ]
    check_count(len(attachments), session.config.attachments)
    user.attachments = [blob.meta for blob in attachments]
    return CompareTurn(user, replies, list(attachments))


async def compare(session: ChatSession, turn: CompareTurn,
                  on_event: EventSink) -> list[Message]:
    user, replies = turn.user, turn.replies
    session.check_prompt(user)
    # Every key is found before anything is saved: a missing one stops all of it.
    keys = [session.key_for(reply.provider or "") for reply in replies]
    messages = session.conversation.messages
    user.parent_id = messages[-1].id if messages else None
    await branches.attach(session, [user, replies[0]], replies[1:], blobs=turn.blobs)
    history = await attached.history(session, upto=-1)
    streams = [
        asyncio.ensure_future(session._stream_into(
            reply, session._request(history, model=reply.model, tools=False), key, on_event))
        for reply, key in zip(replies, keys, strict=True)
    ]
    # Cancelling the awaiting task cancels every stream, and returns once each has
    # saved what it got (gather waits for its children to end).
    try:
        results = await asyncio.gather(*streams, return_exceptions=True)
    finally:
        await _end_unstarted(session, replies, on_event)
    for result in results:
        if isinstance(result, BaseException):
            raise result  # a save that failed: the first one, once every stream ended
    return replies


async def _end_unstarted(session: ChatSession, replies: list[Message],
                         on_event: EventSink) -> None:
    """A stream cancelled before it began (Esc as the first reply started) never saw
    its reply: it is stopped here, saved as interrupted like any stopped reply."""
    for reply in replies:
        if reply.state is not MessageState.STREAMING:
            continue
        reply.state = MessageState.INTERRUPTED
        reply.error = "stopped before the request was sent"
        with contextlib.suppress(StoreError):
            await session._save_message(reply)
        on_event(ReplyStopped(reply))
