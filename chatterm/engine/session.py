"""The headless chat engine: the one owner of an open conversation.

Both the CLI and the TUI drive conversations through `ChatSession`, so saving while
streaming, stopping, continuing and retrying behave the same everywhere. Every change
to the conversation goes through it: a reply (send, retry, continue; stopping is
cancelling the task that awaits one), the model or provider, the title, the system
prompt, the params, deleting it, loading its history. A front end renders what the
session reports (chatterm.engine.events) and never writes to the store itself.

A conversation is a tree (chatterm.tree): `conversation.messages` is the current branch,
`shape` the whole tree's skeleton. The tree's operations live beside this module and
the session delegates to them: branches.py (switch, flip, delete, fork, scroll-back),
versions.py (regenerate, retry, edit) and compare.py (one prompt to several models).
After a send, regenerate, edit or continue, tool_loop.py runs the tool calls the reply
ends with (with `tools`, `approver` and `tool_filter`, set by the front end).

Every store write runs off the event loop, on the store's one writer thread, in the
order the session made it (chatterm.engine.writer). Setters change the conversation in
memory at once and return the queued write (a `Saving`) for the caller to await or
watch; the three ways to get a reply await their own writes.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from chatterm.api.types import ChatRequest
from chatterm.attachments import PendingAttachment
from chatterm.conversation import Conversation, Message, MessageState, Params, Role
from chatterm.conversation import title_from_prompt as _title_from_prompt
from chatterm.engine import attached, branches, compare, tool_loop, usage, versions
from chatterm.engine.compare import CompareTurn
from chatterm.engine.events import BranchChanged, EventSink, SessionEvent
from chatterm.engine.pool import ClientPool
from chatterm.engine.streaming import SAVE_INTERVAL, ReplyStream
from chatterm.engine.versions import CONTINUE_INSTRUCTION
from chatterm.engine.wire import cap_results
from chatterm.engine.writer import Saving, StoreWriter, done, wait, writer_for
from chatterm.errors import ChattermError, ConfigError, StoreError, UsageError
from chatterm.text_parts import mend_surrogates
from chatterm.toolbox import Approver, ToolBox, ToolFilter

if TYPE_CHECKING:
    from chatterm.config import Config
    from chatterm.engine.protocols import ClientFactory, SessionStore
    from chatterm.engine.usage import UsageLine
    from chatterm.providers import ProviderConfig
    from chatterm.tree import Shape

T = TypeVar("T")

__all__ = ["CONTINUE_INSTRUCTION", "SAVE_INTERVAL", "ChatSession", "CompareTurn", "Turn"]



def _ignore(_event: SessionEvent) -> None:
    return None


@dataclass(slots=True)
class Turn:
    """A prompt and the reply it will get: the very Messages the session saves and
    streams into, so a front end can show them before the request is under way."""

    user: Message
    reply: Message
    # For an edit (new_edit): the prompt this is a new version of.
    edits: str | None = None
    # The bytes of user.attachments not saved yet, saved with the prompt.
    blobs: list[PendingAttachment] = field(default_factory=list)
    # An edit that keeps the old version's attachments (new_edit without any given).
    keeps_attachments: bool = False


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
        # The replies streaming now (several at once in a compare), by message id: each
        # joins the text received so far.
        self._streams: dict[str, ReplyStream] = {}
        # The tree: its shape (read on first use) and, unsaved, its messages.
        self.branches = branches.Branches()
        # Tools (chatterm.engine.tool_loop), set by the front end: what runs them (None:
        # no tools are offered), who approves an "ask" call (None: each is declined),
        # and what is switched off for this conversation.
        self.tools: ToolBox | None = None
        self.approver: Approver | None = None
        self.tool_filter = ToolFilter()
        # Tool loops under way (a reply's calls running or waiting for approval).
        self._tool_rounds = 0
        # Attachment bytes by sha256 that only memory holds (not saved, or not yet): what
        # requests read before the store (chatterm.engine.attached).
        self.blobs: dict[str, bytes] = {}

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
        return self.key_for(self.conversation.provider)

    def key_for(self, provider_name: str) -> str | None:
        """The key for a provider (a regenerate or compare may use another one)."""
        from chatterm.config import missing_key_message, resolve_api_key

        provider = self.config.provider(provider_name)
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

    async def usage_total(self) -> UsageLine | None:
        """What this conversation cost so far (every branch and version: the figures of
        `chatterm usage` for it), read in the store's write order, so a reply just saved
        is in it; unsaved, the replies in memory. None when the store cannot say."""
        return await usage.conversation_total(self, self._run)

    def older_messages(self, before_id: str, limit: int) -> list[Message]:
        """Up to `limit` messages of the current branch just above `before_id`, for
        scroll-back (read on the loop: one indexed query)."""
        return branches.older_messages(self, before_id, limit)

    # ---- the tree: versions and branches (chatterm.engine.branches) ---------------------

    @property
    def shape(self) -> Shape:
        """The open conversation's whole tree (ids only), kept in sync with every change."""
        if self.branches.shape is None:
            self.branches.shape = branches.load_shape(self)
        return self.branches.shape

    def versions(self, message_id: str) -> tuple[int, int]:
        """(which version `message_id` is, counting from 1; how many there are)."""
        branches.message_in_tree(self, message_id)
        return self.shape.version(message_id)

    async def switch_branch(self, message_id: str) -> BranchChanged:
        """Make the most recently active branch through `message_id` current (saved)."""
        return await branches.switch_branch(self, message_id)

    async def flip(self, message_id: str, step: int) -> BranchChanged:
        """Show the previous (-1) or next (+1) version of `message_id`, on its latest branch."""
        return await branches.flip(self, message_id, step)

    async def keep(self, message_id: str) -> BranchChanged:
        """Keep one reply of a compare: its branch becomes current (the others stay)."""
        return await branches.switch_branch(self, message_id)

    async def delete_message(self, message_id: str) -> BranchChanged:
        """Delete a message and everything below it; the current branch moves to another
        version's latest branch, else to the parent."""
        return await branches.delete_message(self, message_id)

    async def fork(self, message_id: str, title: str | None = None) -> Conversation:
        """A new saved conversation: the current branch up to `message_id`, new ids."""
        return await branches.fork(self, message_id, title)

    async def attachment_data(self, sha256: str) -> bytes:
        """The bytes of an attachment of this conversation (to preview or save one): from
        memory, else read on the store's thread, off the event loop."""
        return (await attached.blob_bytes(self, {sha256}))[sha256]

    @property
    def streaming(self) -> bool:
        """True while a reply of this session streams, or its tool calls wait or run."""
        return bool(self._streams) or self._tool_rounds > 0

    async def delete(self) -> None:
        """Delete the conversation and its messages from the store."""
        if self.store is not None:
            await self._run(self.store.delete_conversation, self.conversation.id)

    async def flush(self) -> None:
        """Wait until every write this session queued has landed."""
        if self._writer is not None:
            await self._writer.run(lambda: None)

    # ---- the ways to get a reply ---------------------------------------------------------

    def new_turn(self, prompt: str, attachments: Sequence[PendingAttachment] = ()) -> Turn:
        """The Messages `send` will save and stream into, made now (nothing is saved), with
        `attachments` (chatterm.attach_files; their count is checked now)."""
        user = Message(role=Role.USER, content=prompt, conversation_id=self.conversation.id)
        reply = Message(role=Role.ASSISTANT, conversation_id=self.conversation.id,
                        parent_id=user.id, state=MessageState.STREAMING,
                        provider=self.conversation.provider, model=self.conversation.model)
        turn = Turn(user, reply, blobs=list(attachments))
        attached.attach_to(self, turn)
        return turn

    async def send(
        self, prompt: str | Turn, on_event: EventSink = _ignore, *, prefix: str | None = None,
        attachments: Sequence[PendingAttachment] = (),
    ) -> Message:
        """Add `prompt` (with `attachments`) and stream the reply (starting with `prefix`)."""
        turn = prompt if isinstance(prompt, Turn) else self.new_turn(prompt, attachments)
        user, reply = turn.user, turn.reply
        self.check_prompt(user)
        key = self.api_key()
        messages = self.conversation.messages
        user.parent_id = messages[-1].id if messages else None
        reply.provider, reply.model = self.conversation.provider, self.conversation.model
        await branches.attach(self, [user, reply], blobs=turn.blobs)
        request = self._request(await attached.history(self, upto=-1), prefix=prefix)
        reply = await self._stream_into(reply, request, key, on_event)
        return await tool_loop.follow(self, reply, on_event)

    async def regenerate(self, message_id: str | None = None, on_event: EventSink = _ignore,
                         *, provider: str | None = None, model: str | None = None) -> Message:
        """A new version of an assistant reply (default: the current branch's last one),
        streamed and current; `provider`/`model` write it with another model. See
        chatterm.engine.versions for what a stopped or failed attempt leaves."""
        return await versions.regenerate(self, message_id, on_event, provider=provider,
                                         model=model)

    async def retry(self, on_event: EventSink = _ignore) -> Message:
        """Regenerate the current branch's last reply as a new version."""
        return await versions.regenerate(self, None, on_event)

    def new_edit(self, message_id: str, prompt: str,
                 attachments: Sequence[PendingAttachment] | None = None) -> Turn:
        """The Messages an edit of the prompt `message_id` saves (nothing is saved yet):
        with the old version's attachments, or `attachments` when given."""
        return versions.new_edit(self, message_id, prompt, attachments)

    async def edit(self, turn: Turn, on_event: EventSink = _ignore, *,
                   provider: str | None = None, model: str | None = None) -> Message:
        """Send a new version of a prompt (from new_edit) and stream its reply; the old
        version and what follows it stay on their branch."""
        return await versions.edit(self, turn, on_event, provider=provider, model=model)

    def new_compare(self, prompt: str, models: list[tuple[str, str]],
                    attachments: Sequence[PendingAttachment] = ()) -> CompareTurn:
        """A prompt (with attachments), one reply per (provider, model): nothing saved yet."""
        return compare.new_compare(self, prompt, models, attachments)

    async def compare(self, turn: CompareTurn, on_event: EventSink = _ignore) -> list[Message]:
        """Send one prompt to several models; the replies stream at once (cancelling the
        awaiting task stops all), the first model's is the current branch."""
        return await compare.compare(self, turn, on_event)

    async def continue_reply(self, on_event: EventSink = _ignore) -> Message:
        """Resume the current branch's cut-off last reply in place (versions.py): with an
        assistant prefix where supported, else a follow-up. If the attempt is stopped or
        fails before adding anything, the reply is back exactly as it was (ReplyRestored)."""
        return await versions.continue_reply(self, on_event)

    def catch_up(self) -> None:
        """Bring each streaming reply's content up to its last text event. It lags by up
        to SAVE_INTERVAL otherwise; a front end that shows a reply mid-stream needs it."""
        for stream in list(self._streams.values()):
            stream.catch_up()

    # ---- internals ---------------------------------------------------------------------

    def check_prompt(self, user: Message) -> None:
        # An image or a file alone is a prompt: "what is this?" goes without saying.
        if not user.content.strip() and not user.attachments:
            raise UsageError("the prompt is empty")
        user.content = mend_surrogates(user.content)  # stray bytes from argv: U+FFFD
        if not self.conversation.title:
            named = user.content if user.content.strip() else user.attachments[0].name
            self.conversation.title = _title_from_prompt(named)

    def _request(self, messages: list[dict[str, Any]], prefix: str | None = None,
                 model: str | None = None, *, tools: bool = True) -> ChatRequest:
        """A request for `messages` (tool results capped to max_result_bytes), offering
        the session's tools unless `tools` is False (a compare offers none)."""
        params = self.config.params.merged(self.conversation.params)
        offered = [spec.function() for spec in tool_loop.offered(self)] if tools else []
        return ChatRequest(
            model=model or self.conversation.model,
            messages=cap_results(messages, tool_loop.max_result_bytes(self.config)),
            params=params,
            stream=self.config.stream,
            prefix=prefix,
            tools=offered or None,
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
        stream = self._streams[reply.id] = ReplyStream(self.conversation, reply,
                                                       self._save_message)
        try:
            # The reply's own provider: a regenerate or a compare may use another one.
            provider = self.config.provider(reply.provider or self.conversation.provider)
            client = self._clients.get(provider, key)
            return await stream.run(client, request, on_event,
                                    base=reply.content if base is None else base,
                                    replaces=replaces)
        finally:
            del self._streams[reply.id]

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

    async def _run(self, work: Callable[..., T], *args: object, **kwargs: object) -> T:
        if kwargs:
            return await wait(self._submit(functools.partial(work, **kwargs), *args))
        return await wait(self._submit(work, *args))
