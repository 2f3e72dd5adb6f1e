"""The prompt queue: Enter while a reply streams (or its tool calls run or wait for a
yes) queues the prompt instead of refusing it, and each reply that ends well sends the
next one.

A queue belongs to its conversation (kept here by conversation id, in memory only: a
queued prompt is saved when it is sent, like any prompt). It is *held* (nothing is sent
until you say so) when Esc stops the reply, when a reply fails (an error, a refused
request: prompts are not fired into a broken provider) and when a reply ends while its
chat is not on screen. Held, Enter in an empty prompt sends the next one and lets the
queue run again; Esc clears it. Sending goes through `ReplyController.submit`, the same
path (the engine's `session.send`) as a prompt typed and sent by hand.

Drawn by queue_view.py, between the messages and the status line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Sequence

    from chatterm.attachments import PendingAttachment
    from chatterm.ui.chat.queue_view import QueuedPrompts
    from chatterm.ui.chat.screen import ChatScreen

# How a reply ended, as the reply controller saw it.
Outcome = Literal["complete", "stopped", "failed"]


@dataclass(eq=False)
class QueuedPrompt:
    text: str
    # The attachment chips that were above the prompt when it was queued.
    attachments: tuple[PendingAttachment, ...] = ()


@dataclass(eq=False)
class PromptQueue:
    prompts: list[QueuedPrompt] = field(default_factory=list)
    held: bool = False


class QueueController:
    """The queues of the chat screen's conversations; the one on screen is drawn."""

    def __init__(self, screen: ChatScreen) -> None:
        self.screen = screen
        self._queues: dict[str, PromptQueue] = {}

    # ---- what there is ---------------------------------------------------------------

    @property
    def here(self) -> PromptQueue:
        """The queue of the chat on screen (an empty one if it has none)."""
        return self._queues.get(self.screen.conversation.id) or PromptQueue()

    @property
    def prompts(self) -> list[QueuedPrompt]:
        return list(self.here.prompts)

    @property
    def held(self) -> bool:
        return self.here.held and bool(self.here.prompts)

    def waiting(self) -> int:
        """Queued prompts in every conversation (quitting asks when there are some)."""
        return sum(len(queue.prompts) for queue in self._queues.values())

    # ---- changes ---------------------------------------------------------------------

    def add(self, text: str, attachments: Sequence[PendingAttachment] = ()) -> bool:
        """Queue `text` behind the reply streaming in the chat on screen."""
        queue = self._queues.setdefault(self.screen.conversation.id, PromptQueue())
        queue.prompts.append(QueuedPrompt(text, tuple(attachments)))
        self.screen.prompt.clear()
        self.redraw()
        return True

    def remove(self, index: int) -> None:
        queue = self.here
        if 0 <= index < len(queue.prompts):
            del queue.prompts[index]
            self._tidy()
            self.redraw()

    def clear(self) -> bool:
        """Esc with nothing streaming: the queue goes (True if there was one)."""
        count = len(self.here.prompts)
        if not count:
            return False
        self._queues.pop(self.screen.conversation.id, None)
        self.redraw()
        self.screen.status.show_note(f"{_count(count)} cleared")
        return True

    def forget(self, conversation_id: str) -> None:
        """The conversation was deleted: its queue goes, unsent."""
        self._queues.pop(conversation_id, None)
        self.redraw()

    def send_next(self) -> bool:
        """Enter in an empty prompt: the next held prompt goes, and the queue runs again."""
        queue = self.here
        if not queue.prompts or self.screen.busy:
            return False
        queue.held = False
        return self._send_first()

    # ---- the reply controller's calls --------------------------------------------------

    def reply_ended(self, conversation_id: str, outcome: Outcome, *, shown: bool) -> None:
        """A reply of `conversation_id` ended: the next prompt goes if it ended well on
        screen; otherwise the queue is held."""
        queue = self._queues.get(conversation_id)
        if queue is None or not queue.prompts:
            return
        if outcome != "complete" or not shown:
            queue.held = True
            if shown:
                self.redraw()
            return
        if not queue.held:
            # After the reply's worker has wound up: the chat is not busy any more then.
            self.screen.call_later(self._send_after, conversation_id)

    def _send_after(self, conversation_id: str) -> None:
        queue = self._queues.get(conversation_id)
        if (queue is None or queue.held or not queue.prompts or self.screen.busy
                or self.screen.conversation.id != conversation_id):
            return
        self._send_first()

    def _send_first(self) -> bool:
        queue = self.here
        first = queue.prompts.pop(0)
        self._tidy()
        self.redraw()
        if self.screen.replies.submit(first.text, first.attachments, queued=True):
            return True
        # Not sent (no model chosen...; submit said why): back at the front, held.
        queue = self._queues.setdefault(self.screen.conversation.id, queue)
        queue.prompts.insert(0, first)
        queue.held = True
        self.redraw()
        return False

    def _tidy(self) -> None:
        conversation_id = self.screen.conversation.id
        queue = self._queues.get(conversation_id)
        if queue is not None and not queue.prompts:
            del self._queues[conversation_id]

    def redraw(self) -> None:
        """Draw the queue of the chat on screen (another chat shown: its queue)."""
        view: QueuedPrompts = self.screen.query_one("#queue")  # type: ignore[assignment]
        queue = self.here
        view.show(queue.prompts, held=queue.held)


def _count(count: int) -> str:
    return f"{count} queued prompt" + ("" if count == 1 else "s")
