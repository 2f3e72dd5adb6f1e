"""The main screen: the conversation, the status line and the prompt.

Every change to the open conversation goes through its ChatSession (the engine): the
screen calls the session and draws what it reports, and never writes to the store. Replies
run in one Textual worker at a time; the session calls `_on_event` on the event loop for
every step, so widgets are updated directly, without thread hops. Stopping is cancelling
that worker: the session then marks the partial reply interrupted and saves it before
the worker ends. Settings (model, title, system prompt, params) change in the session at
once; their writes land off the loop, and a failed one is shown on the status line.
"""

from __future__ import annotations

import asyncio
import contextlib
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from textual import events, on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import WorkerCancelled, WorkerFailed

from chatterm.conversation import Conversation, Message, MessageState, Params, Role
from chatterm.errors import ChattermError, ConfigError
from chatterm.launch import FIRST_PAGE, OpenedConversation
from chatterm.sanitize import neutralise
from chatterm.ui.chat.focus import FocusHint, region_chain, typed_for_prompt
from chatterm.ui.chat.key_hints import message_hint
from chatterm.ui.chat.live_replies import LiveReplies, LiveReply, ReplyKind
from chatterm.ui.chat.message_view import (
    AssistantMessage,
    MessageList,
    MessageView,
    SystemMessage,
    UserMessage,
    code_blocks,
    usage_text,
    view_for,
)
from chatterm.ui.chat.prompt import PromptInput
from chatterm.ui.chat.reveal import hit_window, keep_last_page, load_newer, show_hit
from chatterm.ui.chat.status_bar import StatusBar
from chatterm.ui.events import (
    ChatScrollRequested,
    ConversationChanged,
    MessageActionRequested,
    MessageFocusChanged,
    NewerMessagesWanted,
    OlderMessagesWanted,
    PromptSubmitted,
)
from chatterm.ui.widgets.key_footer import KeyFooter

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from textual.widget import Widget

    from chatterm.engine.events import ReplyRestored, SessionEvent
    from chatterm.engine.session import ChatSession, Turn
    from chatterm.engine.writer import Saving
    from chatterm.ui.app import ChattermApp
    from chatterm.ui.chat.sidebar import Sidebar

# Messages mounted before the first frame of a reopened chat; the rest of the first
# page follows BACKFILL_CHUNK at a time (see ChatScreen._show_conversation).
FIRST_PAINT = 12
BACKFILL_CHUNK = 8

# The sidebar takes 36 columns; beside it the chat keeps at least 54.
SIDEBAR_OVERLAY_BELOW = 90


class ChatScreen(Screen[None]):
    """One conversation at a time; `open_conversation` swaps it."""

    AUTO_FOCUS = "#prompt"
    # Below SIDEBAR_OVERLAY_BELOW columns the sidebar is drawn over the chat (see the
    # stylesheet): beside it, the chat would be squeezed to a few columns.
    HORIZONTAL_BREAKPOINTS: ClassVar = [(0, "-narrow"), (SIDEBAR_OVERLAY_BELOW, "-wide")]

    BINDINGS: ClassVar = []

    def __init__(self, opened: OpenedConversation) -> None:
        super().__init__()
        self.opened = opened
        self.session: ChatSession | None = None
        # Replies being streamed, this chat's and those of chats left while streaming.
        self.live = LiveReplies()
        self._pending_views: list[MessageView] = []
        self._active_view: AssistantMessage | None = None
        self._loading_older = False
        self._backlog: list[Message] = []
        # Loaded messages below the mounted ones (a chat opened at a search hit).
        self.newer_messages: list[Message] = []
        self._key_check: asyncio.Task[Any] | None = None
        self._idle_hint = ""
        self._focus_hint: FocusHint | None = None
        self._last_message: Widget | None = None  # the message Tab goes back to

    @property
    def chat_app(self) -> ChattermApp:
        return self.app  # type: ignore[return-value]

    @property
    def conversation(self) -> Conversation:
        return self.opened.conversation

    # ---- layout ------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static("", id="title-bar", markup=False)
        with Horizontal(id="body"):
            yield Vertical(id="sidebar-slot")
            with Vertical(id="chat"):
                yield MessageList(id="messages")
                yield StatusBar(id="status")
                # In a box of its own: Textual redraws every widget whose clipping
                # region (its parent's) meets a change, so a prompt that shared the
                # chat column's region was redrawn with every frame of a stream.
                with Vertical(id="prompt-box"):
                    yield PromptInput(
                        id="prompt",
                        placeholder="Ask anything…",
                        keymap=self.chat_app.keymap,
                        prompts=self._earlier_prompts,
                    )

    def on_mount(self) -> None:
        self.query_one("#sidebar-slot").display = False
        self.prompt.focus()
        self._show_conversation()
        # The footer (a widget per key) comes one frame later: the prompt comes first.
        self.call_after_refresh(self._mount_footer)
        if self.chat_app.screen_state.sidebar:
            # The screen as it was left; the sidebar (a store query) after the first frame.
            self.call_after_refresh(self._reopen_sidebar)

    def _reopen_sidebar(self) -> None:
        # Not over the chat of a narrow terminal: the prompt, focused, would be hidden.
        if self.is_attached and not self.sidebar_overlays:
            self.toggle_sidebar(show=True, focus=False)

    @property
    def sidebar_overlays(self) -> bool:
        """True when the sidebar is drawn over the chat rather than beside it."""
        return self.app.size.width < SIDEBAR_OVERLAY_BELOW

    async def _mount_footer(self) -> None:
        if not self.is_attached:  # the app quit before its first frame was done
            return
        await self.mount(KeyFooter())
        # A footer mounted after the first focus change waits for the next bindings
        # signal to draw its keys; send one now.
        self.refresh_bindings()

    @property
    def prompt(self) -> PromptInput:
        return self.query_one("#prompt", PromptInput)

    @property
    def status(self) -> StatusBar:
        return self.query_one("#status", StatusBar)

    @property
    def message_list(self) -> MessageList:
        return self.query_one("#messages", MessageList)

    @property
    def busy(self) -> bool:
        """True while the chat on screen has a reply streaming."""
        return self.live_here is not None

    @property
    def live_here(self) -> LiveReply | None:
        return self.live.get(self.conversation.id)

    def _shows(self, live: LiveReply) -> bool:
        return self.opened.conversation is live.opened.conversation

    def _earlier_prompts(self) -> list[str]:
        return [m.content for m in self.conversation.messages if m.role is Role.USER]

    def show_idle_hint(self, *, unless_busy: bool = False) -> None:
        """The key hint of an idle chat; with `unless_busy`, only over an older hint."""
        hint = self.chat_app.idle_hint()
        if not unless_busy or (self.status.state == "idle"
                               and self.status.text == self._idle_hint):
            self.status.show_idle(hint)
        self._idle_hint = hint

    @property
    def focus_chain(self) -> list[Widget]:
        # Tab stops at each region once; ↑/↓ move between messages (focus.py).
        return region_chain(super().focus_chain, self.focused, self._last_message)

    # ---- showing a conversation --------------------------------------------------------

    def _show_conversation(self, reveal: str | None = None) -> None:
        conversation = self.conversation
        self.session = None
        self._last_message = None
        self._refresh_title()
        self.status.set_model(conversation.provider, conversation.model or "(no model)")
        self.show_idle_hint()
        message_list = self.message_list
        message_list.remove_children()
        # The newest few are mounted now, the rest of the loaded page just after the
        # first frame: a long chat shows (and takes input) before its history is laid out.
        messages = conversation.messages
        # At a search hit, only a window around it (see reveal.py).
        window = hit_window(messages, reveal, self.app.size.height) if reveal else None
        cut, end = window or (len(messages) - self._first_paint_count(messages), len(messages))
        self._backlog = list(messages[:cut])
        self.newer_messages = list(messages[end:])
        message_list.has_newer = bool(self.newer_messages)
        last_reply = _last_reply_index(messages)
        views: list[MessageView] = [
            view_for(message, is_last=index == last_reply)
            for index, message in enumerate(messages[cut:end], start=cut)
        ]
        if not self._has_older():
            views[:0] = self._system_view()
        message_list.has_older = self._has_older()
        if views:
            message_list.mount_all(views)
        message_list.anchor(not self.newer_messages)
        if self._backlog:
            self.call_after_refresh(self._backfill)
        self._check_key()

    def _first_paint_count(self, messages: list[Message]) -> int:
        """How many of the newest messages fill the screen (an estimate, capped)."""
        width = max(20, self.app.size.width - 8)
        budget = self.app.size.height + 4
        rows = 0
        count = 0
        for message in reversed(messages):
            count += 1
            # A header line and a blank one, then the text (lines wrapped at `width`);
            # only the start of a long message matters for the estimate.
            rows += 2 + sum(1 + len(line) // width
                            for line in message.content[:4000].splitlines())
            if rows >= budget or count >= FIRST_PAINT:
                break
        return count

    def _has_older(self) -> bool:
        return bool(self._backlog) or self.opened.first_position > 0

    def _system_view(self) -> list[MessageView]:
        text = self.conversation.system_prompt
        return [SystemMessage(Message(role=Role.SYSTEM, content=text))] if text.strip() else []

    def _backfill(self) -> None:
        """Mount the loaded-but-unmounted history a few messages per frame."""
        if not self._backlog or not self.is_mounted:
            return
        if self._loading_older:
            self.call_after_refresh(self._backfill)
            return
        self.load_older(BACKFILL_CHUNK)
        if self._backlog:
            self.call_after_refresh(self._backfill)

    def open_conversation(self, opened: OpenedConversation, reveal: str | None = None) -> None:
        """Show another conversation. A reply still streaming goes on in the background
        (see chatterm.ui.chat.live_replies); reopening its chat shows it live again."""
        self._switch_to(opened, reveal)

    @work(group="switch", exclusive=True)
    async def _switch_to(self, opened: OpenedConversation, reveal: str | None) -> None:
        self._to_background(notice=opened.conversation.id != self.conversation.id)
        live = self.live.get(opened.conversation.id)
        if live is not None:
            opened = live.reopened(saved=opened.saved)
        self.opened = opened
        # A chat with a reply streaming shows its end, where the reply is drawn live.
        self._show_conversation(reveal if live is None else None)
        if live is not None:
            self._pick_up(live)
        self.prompt.focus()
        self.post_message(ConversationChanged(opened.conversation.id))
        if reveal is not None:
            self.reveal(reveal)

    def _refresh_title(self) -> None:
        conversation = self.conversation
        title = conversation.title or "New chat"
        parts: list[str | tuple[str, str]] = [(neutralise(title), "bold")]
        if self.opened.saved:
            parts.append((f"  {conversation.id[:8]}", "$foreground-muted"))
        self.query_one("#title-bar", Static).update(Content.assemble(*parts))

    def _check_key(self) -> None:
        """After the next paint: is a key set for the provider? (may run a key command)."""
        # Deferred because the check starts a thread (and maybe a key command) that would
        # compete with the first frame for the interpreter.
        self.call_after_refresh(self._start_key_check)

    def _start_key_check(self) -> None:
        if not self.is_attached:
            return
        self.run_worker(self._key_check_work, group="key-check", exclusive=True)

    async def _key_check_work(self) -> None:
        app = self.chat_app
        provider_name = self.conversation.provider
        try:
            key = await asyncio.to_thread(app.key_for, provider_name)
        except ChattermError as error:
            self.status.show_error(error.message)
            return
        if key is None and app.provider_needs_key(provider_name):
            app.open_first_run(provider_name)

    # ---- sending -----------------------------------------------------------------------

    @on(PromptSubmitted)
    def _on_prompt_submitted(self, event: PromptSubmitted) -> None:
        event.stop()
        self.submit(event.text)

    def submit(self, text: str) -> bool:
        """Send `text` as the next user message; False (and nothing changes) if impossible."""
        if not text.strip():
            return False
        if self.busy:
            self.notify("A reply is still streaming: Esc stops it.", severity="warning")
            return False
        if not self.conversation.model:
            self.status.show_error("no model chosen: press Ctrl+O to pick one")
            return False
        self._show_end()
        self.prompt.clear()
        # The session's own messages, shown before the request is under way.
        turn = self.engine().new_turn(text)
        for view in self.message_list.views():
            if isinstance(view, AssistantMessage):
                view.set_last(False)
        self._pending_views = _turn_views(turn)
        self.message_list.mount_all(self._pending_views)
        self.message_list.scroll_end(animate=False)
        self._start_reply("send", text, turn)
        return True

    def _show_end(self) -> None:
        """A reply goes at the end: a window around a search hit makes way for the end."""
        if self.newer_messages:
            keep_last_page(self.opened, FIRST_PAGE)
            self._show_conversation()

    def _start_reply(self, kind: ReplyKind, prompt: str = "", turn: Turn | None = None) -> None:
        self._show_end()
        self.status.show_waiting()
        live = LiveReply(self.opened, kind, prompt, blink=self.prompt.cursor_blink,
                         session=self.engine(), turn=turn)
        self.live.add(live)
        live.worker = self.run_worker(
            partial(self._reply, live), group="reply", exit_on_error=False
        )
        self._mark_streaming()

    async def _reply(self, live: LiveReply) -> None:
        """Get one reply; drawn only while its chat is the one on screen."""
        from chatterm.engine.events import ReplyRestored, ReplyStarted, TextArrived

        kind, prompt = live.kind, live.prompt
        started = False
        # Each blink of the prompt's cursor is a screen update of its own; a steady
        # cursor while the reply streams leaves the CPU to the reply.
        self.prompt.cursor_blink = False

        def on_event(event: SessionEvent) -> None:
            nonlocal started
            started = True
            if isinstance(event, TextArrived):
                live.count(event.chunks)
            elif isinstance(event, ReplyStarted):
                live.message = event.message
            elif isinstance(event, ReplyRestored):
                live.gave_back = True
            if self._shows(live):
                self._on_event(kind, event)

        try:
            session = await self._ready_session(live)
            if kind == "send":
                await session.send(live.turn or prompt, on_event)
            elif kind == "retry":
                await session.retry(on_event)
            else:
                await session.continue_reply(on_event)
        except asyncio.CancelledError:
            if live.gave_back or not self._shows(live):
                pass  # the note is up (the reply is back as it was), or nobody looks
            elif started:
                self._finish_active("stopped: the partial reply is kept (Ctrl+G continues)")
            else:
                self._drop_pending(prompt)
                self.status.show_note("stopped before the request was sent")
            raise
        except ChattermError as error:
            # Raised before anything streamed: no key, nothing to retry, a bad provider...
            if not self._shows(live):
                self._tell_done(live, error.message)
            elif started:
                self._finish_active(error.message, error=True)
            else:
                self._drop_pending(prompt)
                self.status.show_error(error.message)
                if isinstance(error, ConfigError) and "API key" in error.message:
                    self.chat_app.open_first_run(self.conversation.provider)
        except Exception as error:  # a bug must never leave the prompt dead
            self.log.error("reply failed", repr(error))
            message = f"unexpected error: {type(error).__name__}: {error}"
            if not self._shows(live):
                self._tell_done(live, message)
            elif started:
                self._finish_active(message, error=True)
            else:
                self._drop_pending(prompt)
                self.status.show_error(message)
        else:
            if not self._shows(live):
                self._tell_done(live)
        finally:
            self.live.discard(live)
            shown = self._shows(live)
            if shown:
                self.prompt.cursor_blink = live.blink
                if self._active_view is not None:
                    self._active_view.set_flush_callback(None)
                self._pending_views = []
                self._active_view = None
            if started:
                live.opened.saved = live.opened.saved or _session_saved(live)
                if shown:
                    self.opened.saved = live.opened.saved
                    self._refresh_title()
                self.post_message(ConversationChanged(live.conversation_id))
            self._mark_streaming()

    def _to_background(self, *, notice: bool = True) -> None:
        """The chat on screen is about to change: its reply streams on, unseen."""
        live = self.live_here
        if live is None:
            return
        if self._active_view is not None:
            self._active_view.set_flush_callback(None)
        self._active_view = None
        self._pending_views = []
        self.prompt.cursor_blink = live.blink
        if notice:
            self.notify("The reply keeps streaming in the background.", markup=False)

    def _pick_up(self, live: LiveReply) -> None:
        """The chat just shown has a reply streaming: draw it live from here on."""
        self.session = live.session
        self.prompt.cursor_blink = False
        self.status.show_waiting()
        self.status.resume_count(live.tokens, live.first_token_at)
        cut = live.trim_backlog(self._backlog, len(self.conversation.messages))
        if cut and self.opened.saved and self.opened.complete:
            # The oldest come from the store on scroll-up, as for any chat opened.
            del self._backlog[:cut]
            self.opened.first_position = cut
        message = live.message
        if message is None:  # the request is not under way yet: as on Enter
            if live.turn is not None:
                self._pending_views = _turn_views(live.turn)
                self.message_list.mount_all(self._pending_views)
            return
        view = self.message_list.view_for_id(message.id)
        if isinstance(view, AssistantMessage) and view.streaming:
            self._active_view = view
            view.set_flush_callback(self.status.reply_drawn)

    def _tell_done(self, live: LiveReply, error: str | None = None) -> None:
        """A reply ended while its chat was not on screen: say so, in one line."""
        title = neutralise(live.opened.conversation.title or "a chat")
        message = live.message
        if error is None and message is not None and message.state is MessageState.COMPLETE:
            self.notify(f"The reply in “{title}” is complete.", markup=False)
        else:
            reason = error or (message.error if message is not None else None) or "stopped"
            self.notify(f"The reply in “{title}” ended early: {neutralise(reason)}.",
                        severity="warning", markup=False)

    def _mark_streaming(self) -> None:
        sidebar = self._sidebar()
        if sidebar is not None:
            sidebar.set_streaming(self.live.streaming_ids())

    def _drop_pending(self, prompt: str) -> None:
        """Nothing was sent: take the optimistic views back and give the text back."""
        for view in self._pending_views:
            view.remove()
        self._pending_views = []
        if prompt and not self.prompt.text:
            self.prompt.load_text(prompt)
            self.prompt.move_cursor(self.prompt.document.end)
        views = self.message_list.views()
        last = _last_reply_view(views)
        if last is not None:
            last.set_last(True)

    def _finish_active(self, note: str, *, error: bool = False) -> None:
        view = self._active_view
        if view is not None and view.streaming:
            # No final event came (the save at the end failed): end it as it stands.
            view.finish(view.message)
        if error:
            self.status.show_error(note)
        else:
            self.status.show_note(note)

    def _on_event(self, kind: ReplyKind, event: SessionEvent) -> None:
        from chatterm.engine.events import (
            ReplyFailed,
            ReplyFinished,
            ReplyRestored,
            ReplyRetrying,
            ReplyStarted,
            ReplyStopped,
            TextArrived,
        )

        if isinstance(event, TextArrived):
            view = self._active_view
            if view is None:
                return
            # Tool-call arguments are drawn with the finished reply, not as they stream.
            if event.kind == "content":
                view.append_content(event.text)
            elif event.kind == "reasoning":
                view.append_reasoning(event.text)
            elif event.kind == "refusal":
                view.append_refusal(event.text)
            if event.chunks or event.kind != "tool_arguments":
                self.status.count_tokens(event.chunks)
        elif isinstance(event, ReplyStarted):
            self._bind_started(kind, event.message, event.replaces)
        elif isinstance(event, ReplyRetrying):
            retrying = event.retrying
            self.status.show_retry(
                retrying.delay, retrying.attempt, retrying.max_retries, retrying.reason
            )
        elif isinstance(event, ReplyFinished):
            message = event.message
            if self._active_view is not None:
                self._active_view.finish(message)
            if message.state is MessageState.COMPLETE:
                self.status.show_done(usage_text(message.usage))
            else:
                self.status.show_note(
                    "the reply was cut off: Ctrl+G continues it, Ctrl+R retries"
                )
        elif isinstance(event, ReplyRestored):
            self._give_back(event)
        elif isinstance(event, ReplyStopped):
            if self._active_view is not None:
                self._active_view.finish(event.message)
        elif isinstance(event, ReplyFailed):
            if self._active_view is not None:
                self._active_view.finish(event.message)
            # The reply's error, which adds close catalog matches for an unknown model.
            self.status.show_error(f"{event.message.error or event.error.message} (Ctrl+R retries)")

    def _give_back(self, event: ReplyRestored) -> None:
        """A retry or continue came to nothing: the reply is shown again as it was."""
        view, self._active_view = self._active_view, None
        if view is not None:
            view.set_flush_callback(None)
            self.message_list.mount(AssistantMessage(event.message, is_last=True), after=view)
            view.remove()
        if event.stopped:
            self.status.show_note("stopped: the previous reply is back as it was")
        else:
            self.status.show_error(
                f"{event.error or 'the attempt failed'}: the previous reply is back (Ctrl+R "
                "retries)")

    def _bind_started(
        self, kind: ReplyKind, message: Message, replaces: Message | None = None
    ) -> None:
        """Find the view that shows the session's message (made on Enter from the same
        Message; for a retry, the view of the reply it replaces)."""
        message_list = self.message_list
        if kind == "send" and self._pending_views:
            view = self._pending_views[-1]
        else:
            found = message_list.view_for_id((replaces or message).id)
            if isinstance(found, AssistantMessage):
                view = found
                view.restart(message)
            else:
                view = AssistantMessage(message, is_last=True)
                message_list.mount(view)
        self._active_view = view  # type: ignore[assignment]
        view.set_flush_callback(self.status.reply_drawn)
        if message.state is MessageState.STREAMING:
            self.status.show_waiting()

    async def _ready_session(self, live: LiveReply) -> ChatSession:
        """The reply's session, with the whole history loaded (requests carry all of it).
        The chat on screen may change meanwhile: `live.opened` is the one asked for."""
        session = live.session
        assert session is not None  # set by _start_reply
        await self._load_history(live.opened, session)
        return session

    def engine(self) -> ChatSession:
        """The session of the chat on screen, the one way to change it (made on first use)."""
        if self.session is None:
            self.session = self._new_session(self.opened)
        return self.session

    def _new_session(self, opened: OpenedConversation) -> ChatSession:
        from chatterm.ui import warmup

        warmup.settle()
        from chatterm.engine.session import ChatSession

        app = self.chat_app
        conversation = opened.conversation
        return ChatSession(
            app.store,
            app.config,
            conversation,
            api_key=app.cached_key(conversation.provider),
            persisted=opened.saved,
            clients=app.client_pool(),
            complete=opened.complete,
        )

    async def _load_history(self, opened: OpenedConversation, session: ChatSession) -> None:
        # What is loaded may have been cut back to a page since (reveal.keep_last_page).
        session.complete = session.complete and opened.complete
        await session.load_history()
        opened.complete = True

    def report_save(self, saving: Saving[None] | None,
                    then: Callable[[], None] | None = None) -> None:
        """Once a write the session queued has landed: `then`, or its error in one line."""
        if saving is None:
            return

        def landed(future: asyncio.Future[None]) -> None:
            if future.cancelled() or not self.is_attached:
                return
            error = future.exception()
            if isinstance(error, ChattermError):
                self.status.show_error(error.message)
            elif error is not None:
                self.status.show_error(f"could not save: {type(error).__name__}: {error}")
            elif then is not None:
                then()

        asyncio.wrap_future(saving).add_done_callback(landed)

    def save_settings(self) -> None:
        """Save the conversation's model, title, prompt and params as they are now."""
        self.report_save(self.engine().save_settings())

    def forget_key(self) -> None:
        """The provider's key changed: the next reply looks it up again."""
        if self.session is not None:
            self.session.use_key(None)

    # ---- stop, retry, continue ---------------------------------------------------------

    def stop(self) -> bool:
        """Esc: stop the stream (or the retry countdown). The partial reply is kept."""
        live = self.live_here
        if live is None or live.worker is None:
            return False
        live.worker.cancel()
        return True

    async def stop_and_wait(self, *, every_chat: bool = False) -> None:
        """Stop this chat's reply (or every reply) and wait until it is saved."""
        if every_chat:
            await self.live.stop_all()
            return
        live = self.live_here
        worker = live.worker if live is not None else None
        if worker is None or worker.is_finished:
            return
        worker.cancel()
        with contextlib.suppress(WorkerCancelled, WorkerFailed, asyncio.CancelledError):
            await worker.wait()

    def retry(self) -> None:
        if self.busy:
            self.notify("A reply is still streaming: Esc stops it first.", severity="warning")
            return
        if _last_reply_index(self.conversation.messages) is None and self.opened.complete:
            self.status.show_error("there is no reply to retry yet")
            return
        self._start_reply("retry")

    def continue_reply(self) -> None:
        if self.busy:
            self.notify("A reply is still streaming.", severity="warning")
            return
        index = _last_reply_index(self.conversation.messages)
        if index is None:
            self.status.show_error("there is no reply to continue yet")
            return
        last = self.conversation.messages[index]
        if not last.content.strip():
            # Nothing was kept to continue from: a fresh attempt is the same thing.
            self._start_reply("retry")
            return
        self._start_reply("continue")

    # ---- model ---------------------------------------------------------------------------

    def apply_model(self, provider: str, model: str) -> None:
        """Use provider/model from the next reply of this conversation on."""
        try:
            saving = self.engine().set_model(provider, model)
        except ChattermError as error:
            self.status.show_error(error.message)
            return
        self.report_save(saving)
        self.status.set_model(provider, model)
        self.status.show_note(f"next reply: {model} ({provider})")
        self._check_key()

    # ---- sidebar -------------------------------------------------------------------------

    def _sidebar(self) -> Sidebar | None:
        found = self.query("#sidebar")
        return found.first() if found else None  # type: ignore[return-value]

    def toggle_sidebar(self, show: bool | None = None, *, search: bool = False,
                       focus: bool = True) -> None:
        """Show/hide the saved chats; mounted on first use so start-up never pays for it.
        With `focus` False the prompt keeps the focus."""
        slot = self.query_one("#sidebar-slot")
        visible = not slot.display if show is None else show
        sidebar = self._sidebar()
        if visible and sidebar is None:
            from chatterm.ui.chat.sidebar import Sidebar

            sidebar = Sidebar(self.chat_app.store, current_id=self._current_id(), id="sidebar")
            sidebar.streaming_ids = self.live.streaming_ids()
            slot.mount(sidebar)
        slot.display = visible
        self.chat_app.remember_sidebar(visible)
        if not visible:
            self.prompt.focus()
            return
        assert sidebar is not None
        if not focus:
            return
        if search:
            self.call_after_refresh(sidebar.focus_search)
        else:
            self.call_after_refresh(sidebar.focus_list)

    def refresh_sidebar(self) -> None:
        sidebar = self._sidebar()
        if sidebar is not None:
            sidebar.current_id = self._current_id()
            sidebar.refresh_list()

    def _current_id(self) -> str | None:
        return self.conversation.id if self.opened.saved else None

    def on_sidebar_selected(self, event: Sidebar.Selected) -> None:
        event.stop()
        if self.sidebar_overlays:
            self.toggle_sidebar(show=False)  # it would cover the chat just opened
        self.chat_app.open_conversation(event.conversation_id, event.message_id)

    def reveal(self, message_id: str) -> None:
        """Scroll to a message (a search hit), highlight and focus it, if it is mounted."""
        show_hit(self, message_id)

    @on(NewerMessagesWanted)
    def _on_newer_wanted(self, event: NewerMessagesWanted) -> None:
        event.stop()
        load_newer(self)

    # ---- conversation actions ------------------------------------------------------------

    def rename(self, title: str) -> None:
        saving = self.engine().rename(title)
        if saving is None:
            return
        self._refresh_title()
        conversation_id = self.conversation.id
        # The sidebar reads the new title back once it is saved.
        self.report_save(saving, lambda: self.post_message(ConversationChanged(conversation_id)))

    @work(group="delete", exclusive=True)
    async def delete_current(self) -> None:
        await self.stop_and_wait()
        if self.chat_app.store is None:
            return
        conversation = self.conversation
        try:
            await self.engine().delete()
        except ChattermError as error:
            self.status.show_error(error.message)
            return
        self.notify(f"Deleted “{neutralise(conversation.title or conversation.id[:8])}”.",
                    markup=False)
        from chatterm.launch import new_conversation

        fresh = new_conversation(self.chat_app.config, conversation.provider, conversation.model)
        self.opened = OpenedConversation(fresh)
        self._show_conversation()
        self.prompt.focus()
        self.post_message(ConversationChanged(None))

    def export_stem(self) -> str:
        title = self.conversation.title or "chat"
        slug = "".join(ch if ch.isalnum() else "-" for ch in title.lower()).strip("-")
        slug = "-".join(part for part in slug.split("-") if part)[:48] or "chat"
        return f"{slug}-{self.conversation.id[:8]}"

    @work(group="export", exclusive=True)
    async def export_to(self, path: Path, fmt: str) -> None:
        from chatterm import safe_write, transfer

        try:
            conversation = await self._whole_conversation()
            text = (transfer.export_json(conversation) if fmt == "json"
                    else transfer.export_markdown(conversation))
            await asyncio.to_thread(safe_write.write_text, path, text)
        except ChattermError as error:
            self.status.show_error(error.message)
            return
        except OSError as error:
            self.status.show_error(f"cannot write {path}: {error.strerror or error}")
            return
        self.notify(f"Exported {len(conversation.messages)} messages to {neutralise(str(path))}.",
                    markup=False)

    async def _whole_conversation(self) -> Conversation:
        await self._load_history(self.opened, self.engine())
        return self.opened.conversation

    def set_system_prompt(self, text: str) -> None:
        self.report_save(self.engine().set_system_prompt(text))
        message_list = self.message_list
        for view in message_list.query(SystemMessage):
            view.remove()
        if text.strip() and not self._has_older():
            view = SystemMessage(Message(role=Role.SYSTEM, content=text))
            first = message_list.views()
            if first:
                message_list.mount(view, before=first[0])
            else:
                message_list.mount(view)
        self.status.show_note("system prompt updated: it applies from the next reply")

    def set_params(self, params: Params) -> None:
        self.report_save(self.engine().set_params(params))
        self.status.show_note("parameters updated: they apply from the next reply")

    # ---- scroll-back -------------------------------------------------------------------

    @on(OlderMessagesWanted)
    def _on_older_wanted(self, event: OlderMessagesWanted) -> None:
        event.stop()
        self.load_older()

    def load_older(self, page: int = FIRST_PAGE) -> int:
        """Mount up to `page` earlier messages above the first one; returns how many.

        They come from what was loaded but not mounted yet, else from the store.
        """
        opened = self.opened
        if self._loading_older or not self._has_older():
            return 0
        if self._backlog:
            older = self._backlog[-page:]
            del self._backlog[-page:]
        elif self.chat_app.store is not None:
            try:
                older = self.engine().older_messages(opened.first_position, page)
            except ChattermError as error:
                self.status.show_error(error.message)
                return 0
            opened.first_position -= len(older)
        else:
            return 0
        self._loading_older = True
        message_list = self.message_list
        message_list.has_older = self._has_older()
        views: list[MessageView] = [] if self._has_older() else self._system_view()
        views.extend(view_for(message) for message in older)
        current = message_list.views()
        anchor_view = current[0] if current else None
        if anchor_view is not None:
            message_list.mount_all(views, before=anchor_view)
        else:
            message_list.mount_all(views)

        following = message_list.following

        def keep_place() -> None:
            # Stay on the message that was at the top, instead of jumping to the oldest;
            # a list still following the bottom stays there by itself.
            if anchor_view is not None and not following:
                message_list.scroll_to(y=anchor_view.virtual_region.y, animate=False,
                                       immediate=True)
            self._loading_older = False

        self.call_after_refresh(keep_place)
        return len(older)

    # ---- per-message actions -----------------------------------------------------------

    def redirect_typing(self, event: events.Key) -> None:
        """A letter typed while a message has the focus goes to the prompt (see
        focus.typed_for_prompt); called by the app before the key is delivered."""
        if typed_for_prompt(self.focused, event):
            self.set_focus(self.prompt)

    @on(MessageFocusChanged)
    def _on_message_focus(self, event: MessageFocusChanged) -> None:
        event.stop()
        if self._focus_hint is None:
            self._focus_hint = FocusHint(self.status)
        app = self.chat_app
        if event.focused:
            self._last_message = event.view  # type: ignore[assignment]
            self._focus_hint.show(message_hint(app.keymap, kitty=app.terminal_keys.kitty))
        elif not isinstance(self.focused, MessageView):
            # ↑/↓ blur one message and focus the next; the blur may arrive after the
            # focus, so the hint stays while any message still has the focus.
            self._focus_hint.hide()

    @on(ChatScrollRequested)
    def _on_chat_scroll(self, event: ChatScrollRequested) -> None:
        event.stop()
        messages = self.message_list
        {
            "scroll_page_up": messages.scroll_page_up,
            "scroll_page_down": messages.scroll_page_down,
            "scroll_top": messages.scroll_home,
            "scroll_bottom": messages.scroll_end,
        }[event.action](animate=False)

    @on(MessageActionRequested)
    def _on_message_action(self, event: MessageActionRequested) -> None:
        event.stop()
        if event.action == "focus_prompt":
            self.prompt.focus()
            return
        message = self._message_by_id(event.message_id)
        if message is None:
            return
        if event.action == "copy":
            self.copy_text(message.content, "message")
        elif event.action == "copy_code":
            self.copy_code(message)

    def _message_by_id(self, message_id: str | None) -> Message | None:
        if message_id is None:
            return None
        view = self.message_list.view_for_id(message_id)
        return view.message if view is not None else None

    def copy_text(self, text: str, what: str) -> None:
        if not text:
            self.notify(f"The {what} is empty.", severity="warning")
            return
        self.app.copy_to_clipboard(text)
        self.notify(f"Copied the {what} ({len(text):,} characters).")

    def copy_code(self, message: Message) -> None:
        blocks = code_blocks(message.content)
        if not blocks:
            self.notify("This message has no code block.", severity="warning")
            return
        focused = self.focused
        # Pressing the key again on the same message walks through its blocks.
        index = 0
        if isinstance(focused, MessageView) and focused.message.id == message.id:
            index = focused._code_index % len(blocks)
            focused._code_index += 1
        self.copy_text(blocks[index], f"code block {index + 1} of {len(blocks)}")

    def last_reply(self) -> Message | None:
        index = _last_reply_index(self.conversation.messages)
        return self.conversation.messages[index] if index is not None else None

    def focused_or_last_reply(self) -> Message | None:
        focused = self.focused
        if isinstance(focused, MessageView):
            return focused.message
        return self.last_reply()


def _last_reply_index(messages: list[Message]) -> int | None:
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].role is Role.ASSISTANT:
            return index
        if messages[index].role is Role.USER:
            return None
    return None


def _last_reply_view(views: list[MessageView]) -> AssistantMessage | None:
    for view in reversed(views):
        if isinstance(view, AssistantMessage):
            return view
        if isinstance(view, UserMessage):
            return None
    return None


def _turn_views(turn: Turn) -> list[MessageView]:
    """The views of a prompt and its reply, made from the session's own Messages."""
    return [UserMessage(turn.user, classes="user"), AssistantMessage(turn.reply, is_last=True)]


def _session_saved(live: LiveReply) -> bool:
    return live.session is not None and live.session.saved
