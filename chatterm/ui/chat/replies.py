"""The reply controller: starting, stopping, continuing and retrying replies, and drawing
what the engine reports while one streams.

Replies run in one Textual worker of the chat screen at a time per conversation; the
session calls `on_event` on the event loop for every step, so widgets are updated
directly, without thread hops. Stopping is cancelling that worker: the session then
marks the partial reply interrupted and saves it before the worker ends. A reply whose
chat is left goes on in the background (live_replies.py) and is drawn again when its
chat comes back.

The calls into the engine for a reply (`new_turn`, `send`, `retry`, `continue_reply`)
are in `submit` and `_reply`; the events it reports for the chat on screen go to
reply_painter.py, which draws them. `engine()` is the session of the chat on screen, the
one way to change the conversation (edits.py and loading.py use it too).
"""

from __future__ import annotations

import asyncio
import contextlib
from functools import partial
from typing import TYPE_CHECKING

from textual.worker import WorkerCancelled, WorkerFailed

from chatterm.conversation import Message, MessageState, Role
from chatterm.engine.versions import resumes_tool_loop
from chatterm.errors import ChattermError, ConfigError
from chatterm.ui import inert
from chatterm.ui.chat import usage_total
from chatterm.ui.chat.assistant_view import AssistantMessage
from chatterm.ui.chat.live_replies import LiveReplies, LiveReply, ReplyKind
from chatterm.ui.chat.reply_painter import ReplyPainter
from chatterm.ui.events import ConversationChanged

if TYPE_CHECKING:
    from collections.abc import Sequence

    from chatterm.attachments import PendingAttachment
    from chatterm.engine.events import SessionEvent
    from chatterm.engine.session import ChatSession, Turn
    from chatterm.launch import OpenedConversation
    from chatterm.ui.chat.prompt_queue import Outcome
    from chatterm.ui.chat.screen import ChatScreen


class ReplyController:
    """The replies of the chat screen: this chat's and those left streaming."""

    def __init__(self, screen: ChatScreen) -> None:
        self.screen = screen
        # The session of the chat on screen (None until its first request).
        self.session: ChatSession | None = None
        # Replies being streamed, this chat's and those of chats left while streaming.
        self.live = LiveReplies()
        self.painter = ReplyPainter(screen)

    @property
    def active_view(self) -> AssistantMessage | None:
        """The reply view being streamed into, while its chat is on screen."""
        return self.painter.active_view

    @property
    def live_here(self) -> LiveReply | None:
        return self.live.get(self.screen.conversation.id)

    @property
    def busy(self) -> bool:
        """True while the chat on screen has a reply streaming."""
        return self.live_here is not None

    def refuse_while_busy(self) -> bool:
        """True, and says why, when a reply streams here: the one refusal every action
        that starts a reply or changes the branch on screen gives."""
        if self.busy:
            self.screen.notify("A reply is still streaming: Esc stops it first.",
                               severity="warning")
        return self.busy

    def _shows(self, live: LiveReply) -> bool:
        return self.screen.opened.conversation is live.opened.conversation

    def engine(self) -> ChatSession:
        """The session of the chat on screen, the one way to change it (made on first use)."""
        if self.session is None:
            self.session = self._new_session(self.screen.opened)
        return self.session

    def _new_session(self, opened: OpenedConversation) -> ChatSession:
        from chatterm.ui import warmup

        warmup.settle()
        from chatterm.engine.session import ChatSession

        services = self.screen.services
        conversation = opened.conversation
        session = ChatSession(
            services.store,
            services.config,
            conversation,
            api_key=services.keys.cached(conversation.provider),
            persisted=opened.saved,
            clients=services.client_pool(),
            complete=opened.complete,
        )
        if services.tools is not None:  # the MCP tools, the approval dialog, the switches
            services.tools.attach(session)
        return session

    def forget_key(self) -> None:
        """The provider's key changed: the next reply looks it up again."""
        if self.session is not None:
            self.session.use_key(None)

    # ---- sending -----------------------------------------------------------------------

    def submit(self, text: str, attachments: Sequence[PendingAttachment] = (), *,
               queued: bool = False) -> bool:
        """Send `text` (and `attachments`, the chips of ui/attach) as the next user
        message; False (and nothing changes) if impossible. While a reply streams it is
        queued instead (prompt_queue.py; `queued`: it comes from there)."""
        screen = self.screen
        if not text.strip() and not attachments:
            return screen.queue.send_next()  # an empty Enter sends the next held one
        if self.busy:
            live = self.live_here
            if (live is not None and live.kind == "compare") or screen.compare.pending:
                screen.notify("A comparison is streaming: Esc stops it (prompts queue "
                              "behind one reply, not a comparison).", severity="warning")
                return False
            return screen.queue.add(text, attachments)
        if screen.compare.pending:  # the send path forks: one prompt to every picked model
            return screen.compare.submit(text, attachments)
        if not screen.conversation.model:
            screen.status.show_error("no model chosen: press Ctrl+O to pick one")
            return False
        # The session's own messages, shown before the request is under way.
        try:
            turn = self.engine().new_turn(text, attachments)
        except ChattermError as error:  # more attachments than [attachments] max_count
            screen.status.show_error(error.message)
            return False
        screen.compare.settle()  # columns left unkept give way to the current reply
        screen.loader.show_end()
        if not queued:  # a queued prompt left the box long ago: what is there now is a draft
            screen.prompt.clear()
        self.painter.show_turn(turn)
        self._start_reply("send", text, turn)
        return True

    def start_edit(self, turn: Turn) -> None:
        """Stream the reply to an edited prompt (message_actions.py made the turn)."""
        self.painter.show_turn(turn)
        self._start_reply("edit", turn.user.content, turn)

    def regenerate(self, message_id: str, model: tuple[str, str] | None = None) -> None:
        """A new version of the reply `message_id` (with `model` for this reply only)."""
        self._start_reply("regenerate", target=message_id, use_model=model)

    def _start_reply(self, kind: ReplyKind, prompt: str = "", turn: Turn | None = None, *,
                     target: str | None = None,
                     use_model: tuple[str, str] | None = None) -> None:
        screen = self.screen
        screen.compare.settle()  # columns left unkept give way to the current reply
        if kind not in ("edit", "regenerate"):
            screen.loader.show_end()  # those two start where the message is
        screen.status.show_waiting()
        live = LiveReply(screen.opened, kind, prompt, blink=screen.prompt.cursor_blink,
                         session=self.engine(), turn=turn, target=target, use_model=use_model)
        self.live.add(live)
        live.worker = screen.run_worker(
            partial(self._reply, live), group="reply", exit_on_error=False
        )
        self.mark_streaming()

    async def _reply(self, live: LiveReply) -> None:
        """Get one reply; drawn only while its chat is the one on screen."""
        from chatterm.engine.events import ReplyRestored, ReplyStarted, TextArrived

        screen = self.screen
        kind, prompt = live.kind, live.prompt
        started = False
        outcome: Outcome = "failed"  # what the queue hears (prompt_queue.py)
        # Each blink of the prompt's cursor is a screen update of its own; a steady
        # cursor while the reply streams leaves the CPU to the reply.
        screen.prompt.cursor_blink = False

        def on_event(event: SessionEvent) -> None:
            nonlocal started
            started = True
            if isinstance(event, TextArrived):
                live.count(event.chunks)
            elif isinstance(event, ReplyStarted):
                live.message = event.message
            elif isinstance(event, ReplyRestored):
                live.gave_back = True
            else:
                live.note_tool(event)
            if self._shows(live):
                self.painter.draw(kind, event)
                if isinstance(event, ReplyStarted):
                    screen.versions.refresh_marks()  # a new version: `‹ 3/3 ›` at once

        try:
            session = await self._ready_session(live)
            provider, model = live.use_model or (None, None)
            if kind == "send":
                await session.send(live.turn or prompt, on_event)
            elif kind == "edit":
                assert live.turn is not None
                await session.edit(live.turn, on_event)
            elif kind == "regenerate":
                await session.regenerate(live.target, on_event, provider=provider,
                                         model=model)
            elif kind == "retry":
                await session.retry(on_event)
            else:
                await session.continue_reply(on_event)
        except asyncio.CancelledError:
            outcome = "stopped"
            if live.gave_back or not self._shows(live):
                pass  # the note is up (the reply is back as it was), or nobody looks
            elif started:
                self.painter.finish_active(self.painter.stop_note())
            else:
                self.painter.drop_pending(prompt)
                screen.attachments.give_back(live.turn)
                screen.status.show_note("stopped before the request was sent")
            raise
        except ChattermError as error:
            # Raised before anything streamed: no key, nothing to retry, a bad provider...
            if not self._shows(live):
                self._tell_done(live, error.message)
            elif started:
                self.painter.finish_active(error.message, error=True)
            else:
                self.painter.drop_pending(prompt)
                screen.attachments.give_back(live.turn)
                screen.status.show_error(error.message)
                if isinstance(error, ConfigError) and "API key" in error.message:
                    screen.edits.ask_for_key(screen.conversation.provider)
        except Exception as error:  # a bug must never leave the prompt dead
            screen.log.error("reply failed", repr(error))
            message = f"unexpected error: {type(error).__name__}: {error}"
            if not self._shows(live):
                self._tell_done(live, message)
            elif started:
                self.painter.finish_active(message, error=True)
            else:
                self.painter.drop_pending(prompt)
                screen.attachments.give_back(live.turn)
                screen.status.show_error(message)
        else:
            # An HTTP error or a cut stream ends the reply without raising: its state says.
            ended = live.message
            if ended is None or ended.state is MessageState.COMPLETE:
                outcome = "complete"
            if not self._shows(live):
                self._tell_done(live)
        finally:
            self.live.discard(live)
            shown = self._shows(live)
            screen.queue.reply_ended(live.conversation_id, outcome, shown=shown)
            if shown:
                screen.prompt.cursor_blink = live.blink
                self.painter.release()
                # The branch as the session left it: a new version's marks, or the old
                # branch back after a regeneration that came to nothing. After the views
                # the painter swapped or removed are gone.
                screen.call_after_refresh(screen.versions.sync)
            if started:
                live.opened.saved = live.opened.saved or _session_saved(live)
                if shown:
                    screen.opened.saved = live.opened.saved
                    screen.refresh_title()
                    usage_total.refresh(screen, live.session)  # the status bar's total
                screen.post_message(ConversationChanged(live.conversation_id))
            self.mark_streaming()

    async def _ready_session(self, live: LiveReply) -> ChatSession:
        """The reply's session, with the whole history loaded (requests carry all of it).
        The chat on screen may change meanwhile: `live.opened` is the one asked for."""
        session = live.session
        assert session is not None  # set by _start_reply
        await self.screen.loader.load_history(live.opened, session)
        return session

    # ---- another chat on screen ----------------------------------------------------------

    def to_background(self, *, notice: bool = True) -> None:
        """The chat on screen is about to change: its reply streams on, unseen."""
        live = self.live_here
        if live is None:
            return
        self.painter.release()
        self.screen.prompt.cursor_blink = live.blink
        if notice:
            self.screen.notify("The reply keeps streaming in the background.", markup=False)

    def pick_up(self, live: LiveReply) -> None:
        """The chat just shown has a reply streaming: draw it live from here on."""
        screen = self.screen
        self.session = live.session
        screen.prompt.cursor_blink = False
        screen.status.show_waiting()
        screen.status.resume_count(live.tokens, live.first_token_at)
        screen.loader.leave_to_scroll_back(live)
        self.painter.pick_up(live)

    def _tell_done(self, live: LiveReply, error: str | None = None) -> None:
        """A reply ended while its chat was not on screen: say so, in one line."""
        title = inert.text(live.opened.conversation.title or "a chat")
        message = live.message
        if error is None and message is not None and message.state is MessageState.COMPLETE:
            self.screen.notify(f"The reply in “{title}” is complete.", markup=False)
        else:
            reason = error or (message.error if message is not None else None) or "stopped"
            self.screen.notify(f"The reply in “{title}” ended early: {inert.text(reason)}.",
                               severity="warning", markup=False)

    def mark_streaming(self) -> None:
        """Tell the sidebar (if open) which chats have a reply streaming."""
        self.screen.sidebar_panel.set_streaming(self.live.streaming_ids())

    # ---- stop, retry, continue -----------------------------------------------------------

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
        screen = self.screen
        if self.refuse_while_busy():
            return
        if last_reply_index(screen.conversation.messages) is None and screen.opened.complete:
            screen.status.show_error("there is no reply to retry yet")
            return
        self._start_reply("retry")

    def continue_reply(self) -> None:
        screen = self.screen
        if self.busy:
            screen.notify("A reply is still streaming.", severity="warning")
            return
        index = last_reply_index(screen.conversation.messages)
        if index is None:
            screen.status.show_error("there is no reply to continue yet")
            return
        last = screen.conversation.messages[index]
        if resumes_tool_loop(screen.conversation.messages, index):
            self._start_reply("continue")  # the round's results go to the model again
            return
        if not last.content.strip():
            # Nothing was kept to continue from: a fresh attempt is the same thing.
            self._start_reply("retry")
            return
        self._start_reply("continue")


def last_reply_index(messages: list[Message]) -> int | None:
    """The index of the reply to the last prompt, or None if that prompt has none."""
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].role is Role.ASSISTANT:
            return index
        if messages[index].role is Role.USER:
            return None
    return None


def _session_saved(live: LiveReply) -> bool:
    return live.session is not None and live.session.saved
