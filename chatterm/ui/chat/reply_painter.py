"""Drawing a reply as the engine reports it: the views put up on Enter, the view each
event goes to, and the status line.

The reply controller (replies.py) runs the reply and hands every event of the chat on
screen to `ReplyPainter.draw`. The tool loop's events move the call blocks of the reply
that made the calls (tool_block.py) and the status line along; each saved result gets a
view of its own at the end of the list (drawn inside its call's block, so the views match
the conversation's messages), and the loop's next reply streams into a new view below.
A `TextArrived`'s text goes to the reply's view
(assistant_view.py: `append_content`, `append_reasoning`, `append_refusal`), whose
streaming Markdown body turns it into rows on screen. Every view shows the session's own
`Message` (made with the turn on Enter), and an ending event brings the final one.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from chatterm.conversation import MessageState
from chatterm.engine.versions import resumes_tool_loop
from chatterm.ui import inert
from chatterm.ui.chat.assistant_view import AssistantMessage
from chatterm.ui.chat.message_view import MessageView, ToolMessage, UserMessage, usage_text
from chatterm.ui.chat.tool_block import known_specs

if TYPE_CHECKING:
    from chatterm.conversation import Message
    from chatterm.engine.events import (
        ReplyRestored,
        SessionEvent,
        ToolCallFinished,
        ToolCallPending,
        ToolCallStarted,
    )
    from chatterm.engine.session import Turn
    from chatterm.toolbox import ToolSpec
    from chatterm.ui.chat.live_replies import LiveReply, ReplyKind
    from chatterm.ui.chat.screen import ChatScreen


class ReplyPainter:
    """The views of the reply on screen: the optimistic ones, then the one streaming."""

    def __init__(self, screen: ChatScreen) -> None:
        self.screen = screen
        # The prompt's and the reply's views put up on Enter, before the request is sent.
        self._pending_views: list[MessageView] = []
        # The reply view being streamed into (None while nothing streams on screen).
        self.active_view: AssistantMessage | None = None
        # The tool calls of the round under way, by (reply id, index): the labels of those
        # waiting for approval, and of those running with their start (time.monotonic()).
        self._waiting: dict[tuple[str, int], str] = {}
        self._running: dict[tuple[str, int], tuple[str, float]] = {}
        self._outcomes: Counter[str] = Counter()
        # The replies whose calls this loop moved: settled when it ends.
        self._tool_views: list[AssistantMessage] = []

    def show_turn(self, turn: Turn) -> None:
        """Enter: the prompt and its empty streaming reply, shown before anything is sent."""
        message_list = self.screen.message_list
        for view in message_list.views():
            if isinstance(view, AssistantMessage):
                view.set_last(False)
        self._pending_views = _turn_views(turn)
        message_list.mount_all(self._pending_views)
        message_list.scroll_end(animate=False)

    def pick_up(self, live: LiveReply) -> None:
        """A chat shown again mid-reply: draw the reply live from where its view is."""
        screen = self.screen
        message = live.message
        if message is None:  # the request is not under way yet: as on Enter
            if live.turn is not None:
                self._pending_views = _turn_views(live.turn)
                screen.message_list.mount_all(self._pending_views)
            return
        view = screen.message_list.view_for_id(message.id)
        if isinstance(view, AssistantMessage) and view.streaming:
            self.active_view = view
            view.set_flush_callback(screen.status.reply_drawn)
        for event in live.tool_calls.values():  # the calls waiting or running meanwhile
            self.draw(live.kind, event)

    def release(self) -> None:
        """The reply ended or its chat left the screen: its views are drawn no more."""
        if self.active_view is not None:
            self.active_view.set_flush_callback(None)
            self._tool_views.append(self.active_view)
        specs = self._specs() if self._tool_views else {}
        for view in self._tool_views:
            view.settle_tools(specs)  # a call the loop never finished did not run
        if self._tool_views:
            last = last_reply_view(self.screen.message_list.views())
            if last is not None:
                last.set_last(True)  # a loop that stopped: its last reply carries the links
        self.active_view = None
        self._pending_views = []
        self._tool_views = []
        self._waiting.clear()
        self._running.clear()
        self._outcomes.clear()

    def _specs(self) -> dict[str, ToolSpec]:
        """The tools the chat's session offers, by the name the model sees."""
        session = self.screen.replies.session
        return known_specs(session.tools if session is not None else None)

    def stop_note(self) -> str:
        """What the status line says after Esc."""
        if self._running or self._waiting or self._outcomes["stopped"]:
            return "stopped: calls that had not finished are saved as stopped"
        messages = self.screen.conversation.messages
        if messages and resumes_tool_loop(messages, len(messages) - 1):
            # Nothing of the next reply came: the results are saved, still unanswered.
            return "stopped before the reply began: Ctrl+G sends the tool results again"
        return "stopped: the partial reply is kept (Ctrl+G continues)"

    def drop_pending(self, prompt: str) -> None:
        """Nothing was sent: take the optimistic views back and give the text back."""
        screen = self.screen
        for view in self._pending_views:
            view.remove()
        self._pending_views = []
        if prompt and not screen.prompt.text:
            screen.prompt.load_text(prompt)
            screen.prompt.move_cursor(screen.prompt.document.end)
        last = last_reply_view(screen.message_list.views())
        if last is not None:
            last.set_last(True)

    def finish_active(self, note: str, *, error: bool = False) -> None:
        """The reply stopped or failed outside the engine's events: end its view."""
        view = self.active_view
        if view is not None and view.streaming:
            # No final event came (the save at the end failed): end it as it stands.
            view.finish(view.message)
        if error:
            self.screen.status.show_error(note)
        else:
            self.screen.status.show_note(note)

    def draw(self, kind: ReplyKind, event: SessionEvent) -> None:
        """One step of the reply on screen, as the engine reports it."""
        from chatterm.engine.events import (
            ReplyFailed,
            ReplyFinished,
            ReplyRestored,
            ReplyRetrying,
            ReplyStarted,
            ReplyStopped,
            TextArrived,
            ToolCallFinished,
            ToolCallPending,
            ToolCallStarted,
            ToolRoundsExhausted,
        )

        status = self.screen.status
        if isinstance(event, ToolCallPending | ToolCallStarted | ToolCallFinished):
            self._draw_tool(event)
            return
        if isinstance(event, ToolRoundsExhausted):
            view = self.screen.message_list.view_for_id(event.reply.id)
            if isinstance(view, AssistantMessage):
                view.settle_tools(self._specs())
            status.show_note(event.line)
            return
        if isinstance(event, TextArrived):
            view = self.active_view
            if view is None:
                return
            if event.kind == "content":
                view.append_content(event.text)
            elif event.kind == "reasoning":
                view.append_reasoning(event.text)
            elif event.kind == "refusal":
                view.append_refusal(event.text)
            else:
                view.append_tool_arguments(event.index, event.text)
            if event.chunks or event.kind != "tool_arguments":
                status.count_tokens(event.chunks)
        elif isinstance(event, ReplyStarted):
            self._bind_started(kind, event.message, event.replaces)
        elif isinstance(event, ReplyRetrying):
            retrying = event.retrying
            status.show_retry(
                retrying.delay, retrying.attempt, retrying.max_retries, retrying.reason
            )
        elif isinstance(event, ReplyFinished):
            message = event.message
            if self.active_view is not None:
                self.active_view.finish(message)
            if message.state is MessageState.COMPLETE:
                status.show_done(usage_text(message.usage))
            else:
                status.show_note(
                    "the reply was cut off: Ctrl+G continues it, Ctrl+R retries"
                )
        elif isinstance(event, ReplyRestored):
            self._give_back(event)
        elif isinstance(event, ReplyStopped):
            if self.active_view is not None:
                self.active_view.finish(event.message)
        elif isinstance(event, ReplyFailed):
            if self.active_view is not None:
                self.active_view.finish(event.message)
            # The reply's error, which adds close catalog matches for an unknown model.
            status.show_error(f"{event.message.error or event.error.message} (Ctrl+R retries)")

    def _draw_tool(self, event: ToolCallPending | ToolCallStarted | ToolCallFinished) -> None:
        """One call of the round moved on: its block, and the status line."""
        from chatterm.engine.events import ToolCallPending, ToolCallStarted

        key = (event.reply.id, event.index)
        view = self.screen.message_list.view_for_id(event.reply.id)
        block = view.block(event.index, event.call) if isinstance(view, AssistantMessage) else None
        if isinstance(view, AssistantMessage) and view not in self._tool_views:
            self._tool_views.append(view)
        if isinstance(event, ToolCallPending):
            if isinstance(view, AssistantMessage):
                view.set_last(False)  # no [regenerate] under calls that are running
            label = event.spec.label if event.spec is not None else event.call.name
            if event.needs_approval:
                self._waiting[key] = label
            if block is not None:
                block.pending(event.call, event.spec, event.needs_approval)
        elif isinstance(event, ToolCallStarted):
            self._waiting.pop(key, None)
            self._running[key] = (event.spec.label, event.started)
            if event.warning:  # e.g. an "always" that could not be saved: it runs anyway
                self.screen.notify(inert.server_words(event.warning), severity="warning",
                                   markup=False)
            if block is not None:
                block.running(event.call, event.spec, event.started)
        else:
            self._waiting.pop(key, None)
            self._running.pop(key, None)
            self._outcomes[str(event.outcome)] += 1
            if block is not None:
                block.set_result(event.result, event.call)
            # The result's own view: in the list like every message, drawn in the block.
            self.screen.message_list.mount(ToolMessage(event.result, classes="tool"))
        self._tool_status()

    def _tool_status(self) -> None:
        status = self.screen.status
        if self._waiting or self._running:
            status.show_tools(list(self._waiting.values()), list(self._running.values()))
        elif self._outcomes:
            counts = ", ".join(f"{n} {outcome}" for outcome, n in self._outcomes.items())
            status.show_note(f"tool calls done ({counts})")

    def _give_back(self, event: ReplyRestored) -> None:
        """A retry or continue came to nothing: the reply is shown again as it was."""
        view, self.active_view = self.active_view, None
        if view is not None:
            view.set_flush_callback(None)
            self.screen.message_list.mount(AssistantMessage(event.message, is_last=True),
                                           after=view)
            view.remove()
        if event.stopped:
            self.screen.status.show_note("stopped: the previous reply is back as it was")
        else:
            self.screen.status.show_error(
                f"{event.error or 'the attempt failed'}: the previous reply is back (Ctrl+R "
                "retries)")

    def _bind_started(
        self, kind: ReplyKind, message: Message, replaces: Message | None = None
    ) -> None:
        """Find the view that shows the session's message (made on Enter from the same
        Message; for a retry, the view of the reply it replaces)."""
        screen = self.screen
        message_list = screen.message_list
        view: AssistantMessage
        pending = self._pending_views[-1] if self._pending_views else None
        if kind in ("send", "edit") and isinstance(pending, AssistantMessage) \
                and pending.message.id == message.id:  # the turn's
            view = pending
        else:
            found = message_list.view_for_id((replaces or message).id)
            if isinstance(found, AssistantMessage):
                view = found
                view.restart(message)
            else:
                # A new reply: a retry's, or the tool loop's next one, below the results.
                view = AssistantMessage(message, is_last=True)
                message_list.mount(view)
        if self.active_view is not None and self.active_view is not view:
            self.active_view.set_flush_callback(None)
            self.active_view.set_last(False)
            self._tool_views.append(self.active_view)
        self._outcomes.clear()
        self.active_view = view
        view.set_flush_callback(screen.status.reply_drawn)
        if message.state is MessageState.STREAMING:
            screen.status.show_waiting()


def last_reply_view(views: list[MessageView]) -> AssistantMessage | None:
    for view in reversed(views):
        if isinstance(view, AssistantMessage):
            return view
        if isinstance(view, UserMessage):
            return None
    return None


def _turn_views(turn: Turn) -> list[MessageView]:
    """The views of a prompt and its reply, made from the session's own Messages."""
    return [UserMessage(turn.user, classes="user"), AssistantMessage(turn.reply, is_last=True)]
