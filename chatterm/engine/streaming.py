"""One reply streamed into its Message: the events it reports and the saves it makes.

`stream_reply` reads the client's events, reports each piece of text as a TextArrived,
joins the text into the Message at save points (at least every SAVE_INTERVAL seconds),
and on every ending (complete, failed, stopped) leaves the Message in its final state
and saved. Saves go through the session's `save`, which runs them off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from chatterm.api.types import ApiError, AssembledReply, ChatRequest, Delta, Finished, Retrying
from chatterm.conversation import Conversation, Message, MessageState, now
from chatterm.engine.events import (
    EventSink,
    ReplyFailed,
    ReplyFinished,
    ReplyRetrying,
    ReplyStarted,
    ReplyStopped,
    texts_of,
)
from chatterm.errors import ChattermError

if TYPE_CHECKING:
    from chatterm.engine.protocols import StreamingClient

# A crash may lose at most this much of a streaming reply.
SAVE_INTERVAL = 0.5

Save = Callable[[Message], Awaitable[None]]


class ReplyStream:
    """The reply being streamed: `catch_up()` joins the text received so far into it."""

    def __init__(self, conversation: Conversation, reply: Message, save: Save) -> None:
        self.reply = reply
        self._conversation = conversation
        self._save = save
        # Deltas are joined at save points, not appended one by one: `content += delta`
        # would copy the whole reply per token, quadratic on a long reply. (The front
        # ends draw from the TextArrived events; catch_up() is for showing a reply again
        # mid-stream.)
        self._content: list[str] = []
        self._reasoning: list[str] = []
        self._refusal: list[str] = []
        self._dirty = False
        self._stop = asyncio.Event()

    def catch_up(self) -> None:
        reply = self.reply
        if self._content:
            reply.content += "".join(self._content)
            self._content.clear()
        if self._reasoning:
            reply.reasoning += "".join(self._reasoning)
            self._reasoning.clear()
        if self._refusal:
            reply.refusal += "".join(self._refusal)
            self._refusal.clear()

    def _drop_pending(self) -> None:
        self._content.clear()
        self._reasoning.clear()
        self._refusal.clear()

    def _take(self, delta: Delta) -> None:
        if delta.content:
            self._content.append(delta.content)
        if delta.reasoning:
            self._reasoning.append(delta.reasoning)
        if delta.refusal:
            self._refusal.append(delta.refusal)
        self._dirty = True

    async def _save_periodically(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), SAVE_INTERVAL)
            if self._dirty and not self._stop.is_set():
                self._dirty = False
                self.catch_up()
                try:
                    await self._save(self.reply)
                except Exception:
                    # Locked past the busy timeout (or anything unexpected): try again
                    # next tick. A dead saver would leave the reply unsaved; only the
                    # final save's failure is the user's business.
                    self._dirty = True

    async def run(
        self,
        client: StreamingClient,
        request: ChatRequest,
        on_event: EventSink,
        *,
        base: str,
        replaces: Message | None = None,
    ) -> Message:
        """Stream `request` into the reply (its text starting with `base`)."""
        reply = self.reply
        base_reasoning = reply.reasoning if base else ""
        if base == "" and request.prefix:
            reply.content = request.prefix
        on_event(ReplyStarted(reply, replaces))
        warnings: list[str] = []
        saver = asyncio.create_task(self._save_periodically())
        try:
            async with contextlib.aclosing(client.stream(request)) as events:
                async for event in events:
                    if isinstance(event, Delta):
                        self._take(event)
                        for text in texts_of(reply.id, event):
                            on_event(text)
                    elif isinstance(event, Retrying):
                        on_event(ReplyRetrying(reply, event))
                    elif isinstance(event, Finished):
                        self._drop_pending()
                        apply_assembled(reply, event.reply, base, base_reasoning)
                        reply.state = event.reply.state
                        warnings = list(event.reply.warnings)
            self.catch_up()
            if reply.state is not MessageState.COMPLETE:
                # The stream ended cleanly but never said the reply was finished.
                reply.state = MessageState.INTERRUPTED
                reply.error = "the stream ended before the reply was complete"
        except ChattermError as error:
            self.catch_up()
            partial = error.partial if isinstance(error, ApiError) else None
            if partial is not None:
                apply_assembled(reply, partial, base, base_reasoning)
            reply.state = MessageState.INTERRUPTED if reply.content else MessageState.ERROR
            reply.error = error.message
            if isinstance(error, ApiError) and error.unknown_model:
                from chatterm.catalog import unknown_model_hint

                reply.error += unknown_model_hint(reply.provider or "", reply.model or "")
            await self._finish(saver)
            on_event(ReplyFailed(reply, error))
            return reply
        except BaseException:
            # Esc, quit or Ctrl+C: the partial reply is kept and reads as interrupted.
            self.catch_up()
            reply.state = MessageState.INTERRUPTED
            reply.error = reply.error or "stopped"
            await self._finish(saver)
            on_event(ReplyStopped(reply))
            raise
        await self._finish(saver)
        on_event(ReplyFinished(reply, warnings))
        return reply

    async def _finish(self, saver: asyncio.Task[None]) -> None:
        """The final save. A partial save the saver has under way still lands first: the
        writer runs saves in the order they were made, whoever stops waiting for them."""
        self._stop.set()
        saver.cancel()
        self._conversation.updated_at = now()
        await self._save(self.reply)


def apply_assembled(reply: Message, assembled: AssembledReply, base: str,
                    base_reasoning: str) -> None:
    """Take the assembler's view as the truth: it saw every chunk, deltas may be filtered."""
    reply.content = base + assembled.content
    if assembled.reasoning:
        reply.reasoning = base_reasoning + assembled.reasoning
    if assembled.refusal:
        reply.refusal = assembled.refusal
    if assembled.tool_calls:
        reply.tool_calls = list(assembled.tool_calls)
    reply.finish_reason = assembled.finish_reason
    if assembled.usage is not None:
        reply.usage = assembled.usage
