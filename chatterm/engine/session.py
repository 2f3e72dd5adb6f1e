"""The headless chat engine: one conversation, its replies streamed into the store.

Both the CLI and the TUI drive conversations through `ChatSession`, so saving while
streaming, stopping, continuing and retrying behave the same everywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chatterm.api.types import (
    ApiError,
    AssembledReply,
    ChatRequest,
    Delta,
    Finished,
    Retrying,
)
from chatterm.conversation import (
    Conversation,
    Message,
    MessageState,
    Role,
    now,
    title_from_prompt,
)
from chatterm.engine import attempts
from chatterm.engine.events import (
    EventSink,
    ReplyDelta,
    ReplyFailed,
    ReplyFinished,
    ReplyRestored,
    ReplyRetrying,
    ReplyStarted,
    SessionEvent,
)
from chatterm.engine.pool import ClientPool
from chatterm.engine.protocols import ClientFactory
from chatterm.engine.wire import wire_messages
from chatterm.errors import ChattermError, ConfigError, StoreError, UsageError
from chatterm.text_parts import mend_surrogates

if TYPE_CHECKING:
    from chatterm.config import Config
    from chatterm.providers import ProviderConfig
    from chatterm.store import Store

# A crash may lose at most this much of a streaming reply.
SAVE_INTERVAL = 0.5

# Sent (never stored) when a provider cannot take an assistant prefix.
CONTINUE_INSTRUCTION = (
    "Your previous reply was cut off. Continue it exactly where it stopped, without "
    "repeating anything and without any preamble."
)




def _ignore(_event: SessionEvent) -> None:
    return None


class ChatSession:
    def __init__(
        self,
        store: Store | None,
        config: Config,
        conversation: Conversation,
        *,
        api_key: str | None = None,
        client_factory: ClientFactory | None = None,
        persisted: bool | None = None,
        clients: ClientPool | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.conversation = conversation
        self._api_key = api_key
        # An explicit key belongs to the provider the session started with, not to a later one.
        self._api_key_provider = conversation.provider
        # A pool passed in (the app's) outlives this session; our own is closed by aclose().
        self._owns_clients = clients is None
        self._clients = clients or ClientPool(client_factory)
        # A conversation loaded from the store already has a row; a new one gets it on send.
        self._persisted = bool(conversation.messages) if persisted is None else persisted
        # While a reply streams: joins the deltas received so far into its content.
        self._catch_up: Callable[[], None] | None = None

    async def aclose(self) -> None:
        """Close the HTTP clients this session opened (not a pool it was given)."""
        if self._owns_clients:
            await self._clients.aclose()

    # ---- settings ----------------------------------------------------------------------

    def set_model(self, provider: str, model: str) -> None:
        """Use `provider`/`model` from the next reply on; earlier replies keep their label."""
        self.config.provider(provider)  # fail now, not at the next send
        self.conversation.provider = provider
        self.conversation.model = model
        self._save_conversation()

    def provider_config(self) -> ProviderConfig:
        return self.config.provider(self.conversation.provider)

    def api_key(self) -> str | None:
        """The key for the current provider; raises ConfigError when one is needed but absent."""
        from chatterm.config import missing_key_message, resolve_api_key

        provider = self.provider_config()
        if self._api_key is not None and provider.name == self._api_key_provider:
            return self._api_key
        key = resolve_api_key(provider)
        if key is None and provider.needs_key:
            raise ConfigError(missing_key_message(provider))
        return key

    # ---- the three ways to get a reply -------------------------------------------------

    async def send(
        self, prompt: str, on_event: EventSink = _ignore, *, prefix: str | None = None
    ) -> Message:
        """Add `prompt` as a user message and stream the reply (starting with `prefix`)."""
        if not prompt.strip():
            raise UsageError("the prompt is empty")
        prompt = mend_surrogates(prompt)  # stray bytes from argv: U+FFFD, as saved and sent
        key = self.api_key()
        parent = self.conversation.messages[-1].id if self.conversation.messages else None
        user = Message(
            role=Role.USER,
            content=prompt,
            conversation_id=self.conversation.id,
            parent_id=parent,
        )
        if not self.conversation.title:
            self.conversation.title = title_from_prompt(prompt)
        reply = Message(
            role=Role.ASSISTANT,
            conversation_id=self.conversation.id,
            parent_id=user.id,
            state=MessageState.STREAMING,
            provider=self.conversation.provider,
            model=self.conversation.model,
        )
        self.conversation.messages += [user, reply]
        try:
            self._persist_turn(user, reply)
        except BaseException:
            del self.conversation.messages[-2:]
            raise
        request = self._request(wire_messages(self.conversation, upto=-1), prefix=prefix)
        return await self._stream_into(reply, request, key, on_event)

    async def retry(self, on_event: EventSink = _ignore) -> Message:
        """Regenerate the last assistant reply with the current model.

        The attempt streams into a new message (saved as it streams, like any reply);
        the old reply's row is not touched. A complete attempt then takes its place. One
        that is stopped or fails is dropped and the old reply is back as it was
        (ReplyRestored), unless the old one held nothing (see chatterm.engine.attempts).
        """
        old = self._last_reply()
        key = self.api_key()
        index = self.conversation.messages.index(old)
        request = self._request(wire_messages(self.conversation, upto=index))
        new = Message(
            role=Role.ASSISTANT,
            conversation_id=self.conversation.id,
            parent_id=old.parent_id,
            state=MessageState.STREAMING,
            provider=self.conversation.provider,
            model=self.conversation.model,
        )
        self.conversation.messages[index] = new
        try:
            if self.store is not None and self._persisted:
                self.store.add_message(new)
            await self._stream_into(new, request, key, on_event, replaces=old)
        except BaseException:
            self._settle_retry(index, old, new, on_event, stopped=True)
            raise
        return self._settle_retry(index, old, new, on_event)

    def _settle_retry(
        self, index: int, old: Message, new: Message, on_event: EventSink, *,
        stopped: bool = False,
    ) -> Message:
        """Keep one of the two replies, in memory and in the store; return it."""
        kept, dropped = (new, old) if attempts.retry_replaces(old, new) else (old, new)
        self.conversation.messages[index] = kept
        if self.store is not None and self._persisted:
            # On failure both rows stay saved: nothing is lost, the next start shows both.
            with contextlib.suppress(StoreError):
                self.store.remove_message(dropped.id)
        if kept is old:
            on_event(ReplyRestored(old, new, stopped=stopped, error=new.error))
        return kept

    async def continue_reply(self, on_event: EventSink = _ignore) -> Message:
        """Resume a cut-off reply: with an assistant prefix where supported, else a follow-up.

        If the attempt is stopped or fails before adding anything, the reply is back
        exactly as it was (ReplyRestored).
        """
        reply = self._last_reply()
        if reply.state is MessageState.COMPLETE and reply.finish_reason not in (None, "length"):
            raise UsageError("the last reply is complete; use retry to regenerate it")
        key = self.api_key()
        index = self.conversation.messages.index(reply)
        provider = self.provider_config()
        kept = reply.content
        if provider.supports_prefix and kept:
            request = self._request(wire_messages(self.conversation, upto=index), prefix=kept)
            base = ""  # the assembled reply starts with the prefix already
        else:
            history = wire_messages(self.conversation, upto=index + 1)
            history.append({"role": "user", "content": CONTINUE_INSTRUCTION})
            request = self._request(history)
            base = kept
        before = attempts.snapshot(reply)
        reply.state = MessageState.STREAMING
        reply.error = None
        reply.finish_reason = None
        reply.provider = self.conversation.provider
        reply.model = self.conversation.model
        try:
            self._save_message(reply)
            await self._stream_into(reply, request, key, on_event, base=base)
        except BaseException:
            self._settle_continue(reply, before, on_event, stopped=True)
            raise
        self._settle_continue(reply, before, on_event)
        return reply

    def _settle_continue(
        self, reply: Message, before: Message, on_event: EventSink, *, stopped: bool = False
    ) -> None:
        if attempts.continue_added(before, reply):
            return
        error = reply.error
        attempts.restore(reply, before)
        with contextlib.suppress(StoreError):
            # On failure the row holds the old text with another state: nothing is lost.
            self._save_message(reply)
        on_event(ReplyRestored(reply, None, stopped=stopped, error=error))

    # ---- internals ---------------------------------------------------------------------

    def _last_reply(self) -> Message:
        for message in reversed(self.conversation.messages):
            if message.role is Role.ASSISTANT:
                return message
            if message.role is Role.USER:
                break
        raise UsageError("there is no reply to act on yet")

    def _request(self, messages: list[dict[str, Any]], prefix: str | None = None) -> ChatRequest:
        params = self.config.params.merged(self.conversation.params)
        return ChatRequest(
            model=self.conversation.model,
            messages=messages,
            params=params,
            stream=self.config.stream,
            prefix=prefix,
        )

    async def _stream_into(
        self,
        reply: Message,
        request: ChatRequest,
        key: str | None,
        on_event: EventSink,
        *,
        base: str | None = None,
        replaces: Message | None = None,
    ) -> Message:
        """Stream `request` into `reply`, saving at least every SAVE_INTERVAL seconds."""
        base = reply.content if base is None else base
        base_reasoning = reply.reasoning if base else ""
        if base == "" and request.prefix:
            reply.content = request.prefix
        on_event(ReplyStarted(reply, replaces))
        warnings: list[str] = []
        # Deltas are joined at save points, not appended one by one: `content += delta`
        # would copy the whole reply per token, quadratic on a long reply. (The app draws
        # from the deltas themselves; it joins them, via catch_up(), only to show a
        # reply again mid-stream.)
        pending: list[str] = []
        pending_reasoning: list[str] = []
        pending_refusal: list[str] = []
        dirty = False
        saver_stop = asyncio.Event()

        def sync() -> None:
            if pending:
                reply.content += "".join(pending)
                pending.clear()
            if pending_reasoning:
                reply.reasoning += "".join(pending_reasoning)
                pending_reasoning.clear()
            if pending_refusal:
                reply.refusal += "".join(pending_refusal)
                pending_refusal.clear()

        async def save_periodically() -> None:
            nonlocal dirty
            while not saver_stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(saver_stop.wait(), SAVE_INTERVAL)
                if dirty:
                    dirty = False
                    sync()
                    try:
                        # In a thread: waiting on another writer's lock must not freeze
                        # the event loop (and with it the TUI) for the busy timeout.
                        await asyncio.to_thread(self._save_message, reply)
                    except Exception:
                        # Locked past the busy timeout (or anything unexpected): try again
                        # next tick. A dead saver would leave the reply unsaved; only the
                        # final save's failure is the user's business.
                        dirty = True

        self._catch_up = sync
        saver = asyncio.create_task(save_periodically())
        client = self._clients.get(self.provider_config(), key)
        try:
            async with contextlib.aclosing(client.stream(request)) as events:
                async for event in events:
                    if isinstance(event, Delta):
                        if event.content:
                            pending.append(event.content)
                        if event.reasoning:
                            pending_reasoning.append(event.reasoning)
                        if event.refusal:
                            pending_refusal.append(event.refusal)
                        dirty = True
                        on_event(ReplyDelta(reply, event))
                    elif isinstance(event, Retrying):
                        on_event(ReplyRetrying(reply, event))
                    elif isinstance(event, Finished):
                        pending.clear()
                        pending_reasoning.clear()
                        pending_refusal.clear()
                        self._apply(reply, event.reply, base, base_reasoning)
                        reply.state = event.reply.state
                        warnings = list(event.reply.warnings)
            sync()
            if reply.state is not MessageState.COMPLETE:
                # The stream ended cleanly but never said the reply was finished.
                reply.state = MessageState.INTERRUPTED
                reply.error = "the stream ended before the reply was complete"
        except ChattermError as error:
            sync()
            partial = error.partial if isinstance(error, ApiError) else None
            if partial is not None:
                self._apply(reply, partial, base, base_reasoning)
            reply.state = MessageState.INTERRUPTED if reply.content else MessageState.ERROR
            reply.error = error.message
            if isinstance(error, ApiError) and error.unknown_model:
                from chatterm.catalog import unknown_model_hint

                reply.error += unknown_model_hint(reply.provider or "", reply.model or "")
            self._finish(reply, saver_stop)
            on_event(ReplyFailed(reply, error))
            await _settle(saver)
            return reply
        except BaseException:
            # Esc, quit or Ctrl+C: the partial reply is kept and reads as interrupted.
            sync()
            reply.state = MessageState.INTERRUPTED
            reply.error = reply.error or "stopped"
            self._finish(reply, saver_stop)
            saver.cancel()
            raise
        self._finish(reply, saver_stop)
        await _settle(saver)
        on_event(ReplyFinished(reply, warnings))
        return reply

    def catch_up(self) -> None:
        """Bring the streaming reply's content up to the last delta. It lags by up to
        SAVE_INTERVAL otherwise; a front end that shows a reply mid-stream needs it."""
        if self._catch_up is not None:
            self._catch_up()

    def _finish(self, reply: Message, saver_stop: asyncio.Event) -> None:
        self._catch_up = None
        saver_stop.set()
        self.conversation.updated_at = now()
        self._save_message(reply)

    @staticmethod
    def _apply(reply: Message, assembled: AssembledReply, base: str, base_reasoning: str) -> None:
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

    def _persist_turn(self, user: Message, reply: Message) -> None:
        """Save the prompt and its streaming reply (and a new conversation) in ONE
        transaction: a failure leaves nothing behind, not an empty conversation."""
        if self.store is None:
            self._persisted = True
        elif not self._persisted:
            self.store.create_conversation(self.conversation)
            self._persisted = True
        else:
            self.store.add_messages([user, reply])

    def _save_conversation(self) -> None:
        if self.store is not None and self._persisted:
            self.store.update_conversation(self.conversation)

    def _save_message(self, message: Message) -> None:
        if self.store is not None and self._persisted:
            try:
                self.store.update_message(message)
            except ChattermError:
                raise
            except Exception as exc:
                # Never a traceback that loses the reply: one line, the text stays in
                # memory (and on screen) and the caller's error path still runs.
                raise StoreError(f"could not save the reply: {type(exc).__name__}: {exc}") \
                    from exc


async def _settle(task: asyncio.Task[None]) -> None:
    with contextlib.suppress(asyncio.CancelledError):
        await task
