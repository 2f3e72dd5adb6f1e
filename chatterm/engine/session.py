"""The headless chat engine: the one owner of an open conversation.

Both the CLI and the TUI drive conversations through `ChatSession`, so saving while
streaming, stopping, continuing and retrying behave the same everywhere. Every change
to the conversation goes through it: a reply (send, retry, continue; stopping is
cancelling the task that awaits one), the model or provider, the title, the system
prompt, the params, deleting it, loading its history. A front end renders what the
session reports (chatterm.engine.events) and never writes to the store itself.

Every store write runs off the event loop, on the store's one writer thread, in the
order the session made it (chatterm.engine.writer). Setters change the conversation in
memory at once and return the queued write (a `Saving`) for the caller to await or
watch; the three ways to get a reply await their own writes.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from chatterm.api.types import ChatRequest
from chatterm.conversation import Conversation, Message, MessageState, Params, Role
from chatterm.conversation import title_from_prompt as _title_from_prompt
from chatterm.engine import attempts
from chatterm.engine.events import EventSink, ReplyRestored, SessionEvent
from chatterm.engine.pool import ClientPool
from chatterm.engine.streaming import SAVE_INTERVAL, ReplyStream
from chatterm.engine.wire import wire_messages
from chatterm.engine.writer import Saving, StoreWriter, done, wait, writer_for
from chatterm.errors import ChattermError, ConfigError, StoreError, UsageError
from chatterm.text_parts import mend_surrogates

if TYPE_CHECKING:
    from chatterm.config import Config
    from chatterm.engine.protocols import ClientFactory, SessionStore
    from chatterm.providers import ProviderConfig

T = TypeVar("T")

__all__ = ["CONTINUE_INSTRUCTION", "SAVE_INTERVAL", "ChatSession", "Turn"]

# Sent (never stored) when a provider cannot take an assistant prefix.
CONTINUE_INSTRUCTION = (
    "Your previous reply was cut off. Continue it exactly where it stopped, without "
    "repeating anything and without any preamble."
)


def _ignore(_event: SessionEvent) -> None:
    return None


@dataclass(slots=True)
class Turn:
    """A prompt and the reply it will get: the very Messages the session saves and
    streams into, so a front end can show them before the request is under way."""

    user: Message
    reply: Message


class ChatSession:
    def __init__(
        self,
        store: SessionStore | None,
        config: Config,
        conversation: Conversation,
        *,
        api_key: str | None = None,
        client_factory: ClientFactory | None = None,
        persisted: bool | None = None,
        clients: ClientPool | None = None,
        complete: bool = True,
        writer: StoreWriter | None = None,
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
        # False while only the last page of a saved conversation is loaded.
        self.complete = complete
        self._writer = writer if writer is not None or store is None else writer_for(store)
        # While a reply streams: the stream, which joins the text received so far.
        self._stream: ReplyStream | None = None

    async def aclose(self) -> None:
        """Close the HTTP clients this session opened (not a pool it was given)."""
        if self._owns_clients:
            await self._clients.aclose()

    @property
    def saved(self) -> bool:
        """True once the conversation has a row in the store."""
        return self.store is not None and self._persisted

    # ---- settings: in memory now, saved in order off the loop -----------------------------

    def set_model(self, provider: str, model: str) -> Saving[None]:
        """Use `provider`/`model` from the next reply on; earlier replies keep their label."""
        self.config.provider(provider)  # fail now, not at the next send
        self.conversation.provider = provider
        self.conversation.model = model
        return self.save_settings()

    def rename(self, title: str) -> Saving[None] | None:
        """Give the conversation a title (whitespace runs become one space); None, and
        nothing changes, if the title is blank."""
        title = " ".join(title.split())
        if not title:
            return None
        self.conversation.title = title
        return self.save_settings()

    def set_system_prompt(self, text: str) -> Saving[None]:
        """The system prompt of the next replies."""
        self.conversation.system_prompt = text
        return self.save_settings()

    def set_params(self, params: Params) -> Saving[None]:
        """Sampling parameters of the next replies (over the config's)."""
        self.conversation.params = params
        return self.save_settings()

    def save_settings(self) -> Saving[None]:
        """Save title, provider, model, system prompt and params as they are now."""
        if self.store is None or not self._persisted:
            return done(None)
        # A copy: the write saves the settings as they are now, whatever changes next.
        return self._submit(self.store.update_conversation, copy.copy(self.conversation))

    def use_key(self, api_key: str | None) -> None:
        """A key for the current provider (None: look it up again at the next reply, as
        after the first-run screen saved one)."""
        self._api_key = api_key
        self._api_key_provider = self.conversation.provider

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

    # ---- the conversation's history and lifetime ----------------------------------------

    async def load_history(self) -> None:
        """Load the whole history (requests carry all of it), off the event loop."""
        if self.complete or self.store is None or not self._persisted:
            self.complete = True
            return
        full = await self._run(self.store.get_conversation, self.conversation.id)
        self.conversation.messages = full.messages
        self.complete = True

    def older_messages(self, before_position: int, limit: int) -> list[Message]:
        """Up to `limit` saved messages before `before_position`, for scroll-back."""
        if self.store is None:
            return []
        return self.store.load_messages(self.conversation.id, before_position, limit)

    async def delete(self) -> None:
        """Delete the conversation and its messages from the store."""
        if self.store is not None:
            await self._run(self.store.delete_conversation, self.conversation.id)

    async def flush(self) -> None:
        """Wait until every write this session queued has landed."""
        if self._writer is not None:
            await self._writer.run(lambda: None)

    # ---- the three ways to get a reply -------------------------------------------------

    def new_turn(self, prompt: str) -> Turn:
        """The Messages `send` will save and stream into, made now (nothing is saved)."""
        user = Message(role=Role.USER, content=prompt, conversation_id=self.conversation.id)
        reply = Message(role=Role.ASSISTANT, conversation_id=self.conversation.id,
                        parent_id=user.id, state=MessageState.STREAMING,
                        provider=self.conversation.provider, model=self.conversation.model)
        return Turn(user, reply)

    async def send(
        self, prompt: str | Turn, on_event: EventSink = _ignore, *, prefix: str | None = None
    ) -> Message:
        """Add `prompt` as a user message and stream the reply (starting with `prefix`)."""
        turn = prompt if isinstance(prompt, Turn) else self.new_turn(prompt)
        user, reply = turn.user, turn.reply
        if not user.content.strip():
            raise UsageError("the prompt is empty")
        user.content = mend_surrogates(user.content)  # stray bytes from argv: U+FFFD
        key = self.api_key()
        messages = self.conversation.messages
        user.parent_id = messages[-1].id if messages else None
        reply.provider, reply.model = self.conversation.provider, self.conversation.model
        if not self.conversation.title:
            self.conversation.title = _title_from_prompt(user.content)
        self.conversation.messages += [user, reply]
        try:
            await self._persist_turn(user, reply)
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
                await self._run(self.store.add_message, new)
            await self._stream_into(new, request, key, on_event, replaces=old)
        except BaseException:
            await self._settle_retry(index, old, new, on_event, stopped=True)
            raise
        return await self._settle_retry(index, old, new, on_event)

    async def _settle_retry(
        self, index: int, old: Message, new: Message, on_event: EventSink, *,
        stopped: bool = False,
    ) -> Message:
        """Keep one of the two replies, in memory and in the store; return it."""
        kept, dropped = (new, old) if attempts.retry_replaces(old, new) else (old, new)
        self.conversation.messages[index] = kept
        if self.store is not None and self._persisted:
            # On failure both rows stay saved: nothing is lost, the next start shows both.
            with contextlib.suppress(StoreError):
                await self._run(self.store.remove_message, dropped.id)
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
            await self._save_message(reply)
            await self._stream_into(reply, request, key, on_event, base=base)
        except BaseException:
            await self._settle_continue(reply, before, on_event, stopped=True)
            raise
        await self._settle_continue(reply, before, on_event)
        return reply

    async def _settle_continue(
        self, reply: Message, before: Message, on_event: EventSink, *, stopped: bool = False
    ) -> None:
        if attempts.continue_added(before, reply):
            return
        error = reply.error
        attempts.restore(reply, before)
        with contextlib.suppress(StoreError):
            # On failure the row holds the old text with another state: nothing is lost.
            await self._save_message(reply)
        on_event(ReplyRestored(reply, None, stopped=stopped, error=error))

    def catch_up(self) -> None:
        """Bring the streaming reply's content up to the last text event. It lags by up
        to SAVE_INTERVAL otherwise; a front end that shows a reply mid-stream needs it."""
        if self._stream is not None:
            self._stream.catch_up()

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
        stream = self._stream = ReplyStream(self.conversation, reply, self._save_message)
        try:
            client = self._clients.get(self.provider_config(), key)
            return await stream.run(client, request, on_event,
                                    base=reply.content if base is None else base,
                                    replaces=replaces)
        finally:
            self._stream = None

    async def _persist_turn(self, user: Message, reply: Message) -> None:
        """Save the prompt and its streaming reply (and a new conversation) in ONE
        transaction: a failure leaves nothing behind, not an empty conversation."""
        if self.store is None:
            self._persisted = True
        elif not self._persisted:
            await self._run(self.store.create_conversation, self.conversation)
            self._persisted = True
        else:
            await self._run(self.store.add_messages, [user, reply])

    async def _save_message(self, message: Message) -> None:
        if self.store is None or not self._persisted:
            return
        try:
            # A copy: the writer thread never reads a message the loop is changing.
            await self._run(self.store.update_message, copy.copy(message))
        except ChattermError:
            raise
        except Exception as exc:
            # Never a traceback that loses the reply: one line, the text stays in
            # memory (and on screen) and the caller's error path still runs.
            raise StoreError(f"could not save the reply: {type(exc).__name__}: {exc}") \
                from exc

    def _submit(self, work: Callable[..., T], *args: object) -> Saving[T]:
        assert self._writer is not None  # there is one whenever there is a store
        return self._writer.submit(work, *args)

    async def _run(self, work: Callable[..., T], *args: object) -> T:
        return await wait(self._submit(work, *args))
