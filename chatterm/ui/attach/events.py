"""What the prompt tells the chat screen about attachments (the screen owns the chips)."""

from __future__ import annotations

from textual.message import Message


class AttachRequested(Message):
    """Ctrl+A in the prompt (or its footer key): open the attach dialog."""


class PathPasted(Message):
    """Text was pasted into the prompt: if it is a path to a file, offer to attach it."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class EmptyBackspace(Message):
    """Backspace in an empty prompt: the last chip goes."""
