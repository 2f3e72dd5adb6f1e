"""Textual messages that carry user intent from widgets up to the chat screen.

Widgets never call the engine themselves: they post one of these and the screen, which
owns the ChatSession, decides what happens. That keeps every flow testable in one place.
"""

from __future__ import annotations

from textual.message import Message
from textual.widget import Widget


class PromptSubmitted(Message):
    """The user pressed Enter in the prompt."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class MessageActionRequested(Message):
    """A message view asks for an action on its message: retry, continue, copy, copy_code."""

    def __init__(self, message_id: str | None, action: str) -> None:
        super().__init__()
        self.message_id = message_id
        self.action = action


class OlderMessagesWanted(Message):
    """The user scrolled to the top of the message list and earlier messages exist."""


class NewerMessagesWanted(Message):
    """The user scrolled to the bottom of a window of messages that is not the end."""


class ConversationChanged(Message):
    """A conversation was created, renamed, deleted or got a new reply: lists should refresh."""

    def __init__(self, conversation_id: str | None) -> None:
        super().__init__()
        self.conversation_id = conversation_id


class ChatScrollRequested(Message):
    """The prompt passes on a scrolling key (PageUp/PageDown/Home/End) for the chat."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action = action  # scroll_page_up, scroll_page_down, scroll_top, scroll_bottom


class MessageFocusChanged(Message):
    """A message got or lost the focus (the status line shows its keys meanwhile)."""

    def __init__(self, view: Widget, focused: bool) -> None:
        super().__init__()
        self.view = view  # the MessageView
        self.focused = focused
