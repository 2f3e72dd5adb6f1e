"""Copying from the chat to the clipboard: a message, a reply, a code block of one.

What to copy is the screen's to decide (the focused message, the last reply); this puts
the text on the clipboard and says what was copied, in one line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chatterm.ui.chat.message_view import MessageView, code_blocks

if TYPE_CHECKING:
    from textual.screen import Screen

    from chatterm.conversation import Message


def copy_text(screen: Screen[Any], text: str, what: str) -> None:
    if not text:
        screen.notify(f"The {what} is empty.", severity="warning", markup=False)
        return
    screen.app.copy_to_clipboard(text)
    # `what` may name a tool (a server's words): shown as written, never as markup.
    screen.notify(f"Copied the {what} ({len(text):,} characters).", markup=False)


def copy_code(screen: Screen[None], message: Message) -> None:
    blocks = code_blocks(message.content)
    if not blocks:
        screen.notify("This message has no code block.", severity="warning")
        return
    focused = screen.focused
    # Pressing the key again on the same message walks through its blocks.
    index = 0
    if isinstance(focused, MessageView) and focused.message.id == message.id:
        index = focused.next_code_block(len(blocks))
    copy_text(screen, blocks[index], f"code block {index + 1} of {len(blocks)}")
