"""Compare models: the mode, the prompt sent to every picked model, and keeping one reply.

"Compare models" (palette, or its key) opens the model picker's multi-select mode
(pickers/multi_picker.py). Once 2 to 4 models are marked the chat is in compare mode:
the status bar says so until the next prompt is sent (or Esc cancels the mode). That
prompt's replies come from `ChatSession.new_compare` / `compare`, which streams them
concurrently, one event stream with each event naming its message; this module routes
each to its column (view.py). Esc cancels the task awaiting them, which stops them all
(each keeps what arrived, as an interrupted version). Keeping a column calls
`ChatSession.keep`: that reply becomes the current branch, the others stay as its
versions, and the columns give way to the normal single reply view. Sending another
prompt without keeping one goes on from the first model's reply, which the engine made
current.

A comparison is one reply as far as the reply controller is concerned (replies.py): it
is registered in its live replies, so the chat is busy meanwhile, Esc stops it, leaving
the chat lets it stream on unseen, and quitting stops and saves it.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

from chatterm.conversation import Message, MessageState
from chatterm.errors import ChattermError
from chatterm.text_parts import TextParts
from chatterm.ui import inert
from chatterm.ui.chat.assistant_view import AssistantMessage
from chatterm.ui.chat.live_replies import LiveReply
from chatterm.ui.chat.message_list import view_for
from chatterm.ui.chat.message_view import UserMessage
from chatterm.ui.compare.view import CompareView
from chatterm.ui.events import ConversationChanged
from chatterm.ui.pickers.multi_picker import picked_label

if TYPE_CHECKING:
    from collections.abc import Sequence

    from chatterm.attachments import PendingAttachment
    from chatterm.engine.compare import CompareTurn
    from chatterm.engine.events import SessionEvent
    from chatterm.engine.session import ChatSession
    from chatterm.ui.chat.screen import ChatScreen


@dataclass(eq=False)
class CompareRun:
    """One comparison's replies as they stream, kept whether its chat is shown or not,
    so its columns can be drawn again when the chat is reopened mid-stream."""

    user: Message
    replies: list[Message]
    texts: dict[str, TextParts] = field(default_factory=dict)
    tokens: dict[str, int] = field(default_factory=dict)
    ended: dict[str, Message] = field(default_factory=dict)

    def add(self, message_id: str, text: str, chunks: int) -> None:
        self.tokens[message_id] = self.tokens.get(message_id, 0) + chunks
        if text:
            self.texts.setdefault(message_id, TextParts()).append(text)

    def shown_replies(self) -> list[Message]:
        """The replies as they stand: final ones as ended, live ones with their text."""
        shown: list[Message] = []
        for reply in self.replies:
            ended = self.ended.get(reply.id)
            if ended is not None:
                shown.append(ended)
                continue
            texts = self.texts.get(reply.id)
            # A copy: the engine's own message is never changed here.
            shown.append(dataclasses.replace(reply, content=texts.value if texts else "",
                                             state=MessageState.STREAMING))
        return shown


class CompareController:
    """The chat screen's comparisons: the pending mode, the run, the columns."""

    def __init__(self, screen: ChatScreen) -> None:
        self.screen = screen
        # The models the next prompt goes to, while in compare mode.
        self.models: list[tuple[str, str]] | None = None
        # The columns on screen, until one is kept (or the chat moves on).
        self.view: CompareView | None = None
        self._runs: dict[str, CompareRun] = {}

    @property
    def pending(self) -> bool:
        """True in compare mode: the next prompt goes to every picked model."""
        return self.models is not None

    # ---- the mode -----------------------------------------------------------------------

    def ask(self) -> None:
        """Open the multi-select model picker; compare mode starts once it answers."""
        from chatterm.ui.pickers.multi_picker import CompareModelPicker

        screen = self.screen
        if screen.replies.refuse_while_busy():
            return
        conversation = screen.conversation
        picker = CompareModelPicker(screen.services.config.providers, conversation.provider,
                                    conversation.model)

        def picked(models: list[tuple[str, str]] | None) -> None:
            if models:
                self.start(models)
            screen.prompt.focus()

        screen.app.push_screen(picker, picked)

    def start(self, models: list[tuple[str, str]]) -> None:
        self.models = list(models)
        screen = self.screen
        names = picked_label(self.models, screen.conversation.provider)
        screen.status.set_compare(f"compare {len(self.models)} models")
        screen.status.show_note(f"compare mode: the next prompt goes to {names} (Esc cancels)")

    def cancel(self, *, quiet: bool = False) -> bool:
        """Leave compare mode; False if it was not on."""
        if self.models is None:
            return False
        self.models = None
        screen = self.screen
        screen.status.set_compare(None)
        if not quiet:
            screen.status.show_note(
                f"compare mode cancelled: the next prompt goes to {screen.conversation.model}")
        return True

    def leave(self) -> None:
        """Another chat is shown: the mode and the columns were this chat's."""
        self.cancel(quiet=True)
        self.view = None

    # ---- sending --------------------------------------------------------------------------

    def submit(self, text: str, attachments: Sequence[PendingAttachment] = ()) -> bool:
        """Send `text` (and its attachments) to every picked model (the reply controller
        has checked it)."""
        screen = self.screen
        models = self.models
        assert models is not None
        session = screen.engine()
        try:
            turn = session.new_compare(text, models, attachments)
        except ChattermError as error:
            screen.status.show_error(error.message)
            return False
        self.cancel(quiet=True)
        self.settle()
        screen.loader.show_end()
        screen.prompt.clear()
        message_list = screen.message_list
        for old in message_list.views():
            if isinstance(old, AssistantMessage):
                old.set_last(False)
        run = CompareRun(turn.user, list(turn.replies))
        self._runs[screen.conversation.id] = run
        self.view = CompareView(run.replies, self.keep)
        message_list.mount_all([UserMessage(turn.user, classes="user"), self.view])
        message_list.scroll_end(animate=False)
        replies = screen.replies
        live = LiveReply(screen.opened, "compare", text, blink=screen.prompt.cursor_blink,
                         session=session)
        replies.live.add(live)
        live.worker = screen.run_worker(partial(self._run, live, run, turn), group="reply",
                                        exit_on_error=False)
        replies.mark_streaming()
        return True

    def _shows(self, live: LiveReply) -> bool:
        return self.screen.opened.conversation is live.opened.conversation

    async def _run(self, live: LiveReply, run: CompareRun, turn: CompareTurn) -> None:
        """Stream every reply of the comparison; drawn while its chat is on screen."""
        from chatterm.engine.events import TextArrived

        screen = self.screen
        session = live.session
        assert session is not None
        started = False
        screen.prompt.cursor_blink = False
        screen.status.show_note(f"comparing {len(run.replies)} models · Esc stops them all")

        def on_event(event: SessionEvent) -> None:
            nonlocal started
            started = True
            if isinstance(event, TextArrived):
                live.count(event.chunks)
                run.add(event.message_id, event.text if event.kind == "content" else "",
                        event.chunks)
            else:
                message = getattr(event, "message", None)
                if isinstance(message, Message) and message.state is not MessageState.STREAMING:
                    run.ended[message.id] = message
            if self._shows(live):
                self._draw(event)

        try:
            await screen.loader.load_history(live.opened, session)
            await session.compare(turn, on_event)
        except asyncio.CancelledError:
            if self._shows(live):
                self._end_columns(run)
                screen.status.show_note("stopped: each column keeps what arrived; keep one "
                                        "(←/→, Enter) or go on with the first")
            raise
        except ChattermError as error:
            self._failed(live, run, error.message, started)
        except Exception as error:  # a bug must never leave the prompt dead
            screen.log.error("compare failed", repr(error))
            self._failed(live, run, f"unexpected error: {type(error).__name__}: {error}",
                         started)
        else:
            if self._shows(live):
                self._end_columns(run)
            if self._shows(live) and self.view is not None and not self.view.has_a_reply:
                screen.status.show_error("every model failed (each column says why)")
            elif self._shows(live):
                screen.status.show_note(
                    f"{len(run.replies)} replies: Shift+Tab to them, ←/→ and Enter keep one "
                    "(or click [keep])")
            else:
                screen.notify(f"The comparison in “{inert.text(live.opened.conversation.title)}"
                              "” is complete.", markup=False)
        finally:
            # Kept only to draw the columns again while the run streams (pick_up).
            if self._runs.get(live.conversation_id) is run:
                del self._runs[live.conversation_id]
            replies = screen.replies
            replies.live.discard(live)
            if self._shows(live):
                screen.prompt.cursor_blink = live.blink
            if started:
                live.opened.saved = live.opened.saved or session.saved
                if self._shows(live):
                    screen.opened.saved = live.opened.saved
                    screen.refresh_title()
                screen.post_message(ConversationChanged(live.conversation_id))
            replies.mark_streaming()

    def _failed(self, live: LiveReply, run: CompareRun, message: str, started: bool) -> None:
        screen = self.screen
        if not self._shows(live):
            screen.notify(f"The comparison ended early: {inert.text(message)}.",
                          severity="warning", markup=False)
            return
        if started:
            self._end_columns(run)
        else:
            # Nothing was sent: the views go, the prompt and the mode come back.
            view = self.view
            if view is not None:
                users = [v for v in screen.message_list.views() if v.message.id == run.user.id]
                for widget in [*users, view]:
                    widget.remove()
                self.view = None
            if not screen.prompt.text:
                screen.prompt.load_text(live.prompt)
            self.start([(m.provider or "", m.model or "") for m in run.replies])
        screen.status.show_error(message)

    def _end_columns(self, run: CompareRun) -> None:
        """Every column ends, with its final message (or as it stands, if none came)."""
        view = self.view
        if view is None:
            return
        for column in view.columns:
            if column.streaming:
                view.finish(run.ended.get(column.message_id, column.message))

    def _draw(self, event: SessionEvent) -> None:
        from chatterm.engine.events import (
            ReplyFailed,
            ReplyFinished,
            ReplyRetrying,
            ReplyStarted,
            ReplyStopped,
            TextArrived,
        )

        view = self.view
        if view is None:
            return
        if isinstance(event, TextArrived):
            column = view.column_for(event.message_id)
            if column is not None:
                column.append(event.text if event.kind == "content" else "", event.chunks,
                              reasoning=event.kind == "reasoning")
        elif isinstance(event, ReplyStarted):
            column = view.column_for(event.message.id)
            if column is not None:
                column.message = event.message
        elif isinstance(event, ReplyFinished | ReplyStopped | ReplyFailed):
            view.finish(event.message)
        elif isinstance(event, ReplyRetrying):
            retrying = event.retrying
            self.screen.status.show_retry(retrying.delay, retrying.attempt,
                                          retrying.max_retries, retrying.reason)

    def pick_up(self, live: LiveReply) -> None:
        """The chat just shown has a reply streaming: a comparison's columns again, live."""
        run = self._runs.get(live.conversation_id)
        if live.kind != "compare" or run is None:
            return
        screen = self.screen
        ids = {reply.id for reply in run.replies}
        for view in screen.message_list.views():
            if view.message.id in ids:
                view.remove()
        self.view = CompareView(run.shown_replies(), self.keep)
        for column in self.view.columns:
            column.tokens = run.tokens.get(column.message_id, 0)
        screen.message_list.mount(self.view)
        screen.message_list.scroll_end(animate=False)
        screen.status.show_note(f"comparing {len(run.replies)} models · Esc stops them all")

    # ---- keeping one --------------------------------------------------------------------

    def keep(self, message_id: str) -> None:
        screen = self.screen
        view = self.view
        if view is None or view.column_for(message_id) is None:
            return
        if view.streaming or screen.busy:
            screen.status.show_note("the replies are still streaming: Esc stops them first")
            return
        # A callable, not a coroutine (one a cancelled worker never starts is never
        # awaited); Textual's WorkType is a union of callables: mypy infers Never for it.
        screen.run_worker(partial(self._keep, view, message_id),  # type: ignore[arg-type]
                          group="compare-keep", exclusive=True, exit_on_error=False)

    async def _keep(self, view: CompareView, message_id: str) -> None:
        screen = self.screen
        session: ChatSession = screen.engine()
        try:
            change = await session.keep(message_id)
        except ChattermError as error:
            screen.status.show_error(error.message)
            return
        if self.view is not view or not view.is_attached:
            return  # the chat moved on meanwhile
        kept = next(c for c in view.columns if c.message_id == message_id).message
        # Keeping the reply that was current already changes no message of the path.
        self._collapse(view, change.messages or [kept])
        # The next prompts go to the model whose reply was kept.
        conversation = screen.conversation
        if kept.provider and kept.model and (kept.provider, kept.model) != (
                conversation.provider, conversation.model):
            screen.edits.apply_model(kept.provider, kept.model)
        others = len(view.columns) - 1
        versions = "the other one stays as a version" if others == 1 else (
            f"the other {others} stay as versions")
        screen.status.show_note(
            f"kept {kept.model}'s reply ({versions}); next replies: {kept.model}")
        screen.prompt.focus()
        screen.post_message(ConversationChanged(screen.conversation.id))

    def settle(self) -> None:
        """The chat goes on without a keep: the columns give way to the current reply
        (the first model's, which the engine made current)."""
        view = self.view
        if view is None:
            return
        if view.is_attached:
            shown = {m.id: m for m in self.screen.conversation.messages}
            current = next((c.message for c in view.columns if c.message_id in shown),
                           view.columns[0].message)
            self._collapse(view, [shown.get(current.id, current)])
        self.view = None

    def _collapse(self, view: CompareView, messages: list[Message]) -> None:
        """Put the normal views of `messages` where the columns were."""
        message_list = self.screen.message_list
        views = [view_for(message, is_last=index == len(messages) - 1)
                 for index, message in enumerate(messages)]
        if views:
            message_list.mount_all(views, after=view)
        view.remove()
        if self.view is view:
            self.view = None
        # The reply shown now has the others as versions: its `‹ n/m ›`.
        self.screen.call_after_refresh(self.screen.versions.refresh_marks)
