"""Replies that keep streaming while another chat is on screen.

Each conversation has at most one reply being streamed, run by a worker of the chat
screen. Opening another chat (Ctrl+N, the sidebar) leaves it running: the session keeps
saving it as it streams (as for any reply), the sidebar marks the chat as streaming,
and reopening the chat shows the live reply where it has got to, still streaming. The
chat screen only draws the events of the reply whose conversation it shows. Quitting
stops them all, and each partial reply is saved as interrupted.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from textual.worker import Worker, WorkerCancelled, WorkerFailed

from chatterm.launch import FIRST_PAGE, OpenedConversation
from chatterm.ui.chat import status_bar

if TYPE_CHECKING:
    from chatterm.conversation import Message
    from chatterm.engine.events import SessionEvent, ToolCallPending, ToolCallStarted
    from chatterm.engine.session import ChatSession, Turn

# "edit": a new version of a prompt and its reply; "regenerate": of a given reply.
ReplyKind = Literal["send", "retry", "continue", "edit", "regenerate", "compare"]


@dataclass(eq=False)
class LiveReply:
    """One reply being fetched for `opened.conversation`, shown or not."""

    opened: OpenedConversation
    kind: ReplyKind
    prompt: str
    # The prompt's cursor blink to give back when the reply ends or goes to the background.
    blink: bool
    session: ChatSession | None = None
    # A send's prompt and reply, the session's own Messages, from Enter on.
    turn: Turn | None = None
    # A regeneration's reply, and the (provider, model) picked for that one reply.
    target: str | None = None
    use_model: tuple[str, str] | None = None
    # The session's message, from ReplyStarted on.
    message: Message | None = None
    worker: Worker[Any] | None = None
    # Set when a retry or continue came to nothing and the old reply is back.
    gave_back: bool = False
    # Tokens so far and when the first came (status_bar.clock), for the status line of
    # a reply shown again mid-stream.
    tokens: int = 0
    first_token_at: float = 0.0
    # The tool calls waiting or running, by (reply id, index): the event that last moved
    # each, replayed when the chat is shown again mid-loop.
    tool_calls: dict[tuple[str, int], ToolCallPending | ToolCallStarted] = field(
        default_factory=dict)

    def note_tool(self, event: SessionEvent) -> None:
        from chatterm.engine.events import ToolCallFinished, ToolCallPending, ToolCallStarted

        if isinstance(event, ToolCallPending | ToolCallStarted):
            self.tool_calls[(event.reply.id, event.index)] = event
        elif isinstance(event, ToolCallFinished):
            self.tool_calls.pop((event.reply.id, event.index), None)

    def count(self, tokens: int) -> None:
        if tokens and not self.tokens:
            self.first_token_at = status_bar.clock()
        self.tokens += tokens

    @property
    def conversation_id(self) -> str:
        return self.opened.conversation.id

    @property
    def running(self) -> bool:
        return self.worker is None or not self.worker.is_finished

    def reopened(self, *, saved: bool = False) -> OpenedConversation:
        """The chat to show again: the session's own conversation, which is ahead of the
        store (it holds the whole history and the reply's live text)."""
        if self.session is not None:
            # The message's text lags the deltas by up to a save interval; the view
            # made from it next must start from all of them (later ones follow).
            self.session.catch_up()
        complete = self.opened.complete
        return OpenedConversation(
            self.opened.conversation, saved=saved or self.opened.saved,
            first_position=0 if complete else self.opened.first_position, complete=complete)

    @staticmethod
    def trim_backlog(backlog: list[Message], total: int) -> int:
        """How many of the oldest unmounted messages to leave to scroll-back, so that
        reopening a long chat mid-stream mounts one page, as opening it does. The
        session holds the whole history, so message indices are store positions."""
        mounted = total - len(backlog)
        return max(0, len(backlog) - max(0, FIRST_PAGE - mounted))


class LiveReplies:
    """The replies being streamed, by conversation id."""

    def __init__(self) -> None:
        self._by_id: dict[str, LiveReply] = {}

    def add(self, live: LiveReply) -> None:
        self._by_id[live.conversation_id] = live

    def get(self, conversation_id: str) -> LiveReply | None:
        live = self._by_id.get(conversation_id)
        return live if live is not None and live.running else None

    def discard(self, live: LiveReply) -> None:
        if self._by_id.get(live.conversation_id) is live:
            del self._by_id[live.conversation_id]

    def streaming_ids(self) -> frozenset[str]:
        return frozenset(cid for cid, live in self._by_id.items() if live.running)

    async def stop_all(self) -> None:
        """Stop every reply and wait until each session has saved its partial reply."""
        workers = [live.worker for live in self._by_id.values() if live.worker is not None]
        for worker in workers:
            worker.cancel()
        for worker in workers:
            with contextlib.suppress(WorkerCancelled, WorkerFailed, asyncio.CancelledError):
                await worker.wait()
