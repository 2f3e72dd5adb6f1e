"""Keyboard focus around the chat: regions for Tab, and the hint line of a focused message.

Tab moves between regions (the sidebar's widgets, the conversation, the prompt), not
through every message one by one: the conversation is one stop, the message focused last
(or the newest one), and ↑/↓ move between messages from there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from chatterm.ui import compat
from chatterm.ui.chat.key_hints import message_hint
from chatterm.ui.chat.message_view import NOT_ON_CALLS, MessageView
from chatterm.ui.chat.queue_view import QueuedPrompts
from chatterm.ui.chat.tool_block import ToolBlock
from chatterm.ui.compare.view import CompareView

if TYPE_CHECKING:
    from textual.events import Key
    from textual.widget import Widget

    from chatterm.ui.chat.status_bar import StatusBar


def region_chain(chain: list[Widget], focused: Widget | None,
                 last: Widget | None = None, newest_then: Widget | None = None) -> list[Widget]:
    """`chain` (Textual's focus chain) with the messages cut down to one stop: the
    focused message, else the one focused `last` (if still there, and nothing newer came
    since: `newest_then` was the newest message then), else the newest."""
    # A reply's tool calls are stops inside its message, for ↑/↓ only.
    stops = [widget for widget in chain if isinstance(widget, MessageView | ToolBlock)]
    messages = [widget for widget in stops if isinstance(widget, MessageView)]
    if len(stops) <= 1:
        return chain
    if isinstance(focused, MessageView | ToolBlock):
        stop: Widget = focused
    elif last is not None and last in stops and messages and newest_then is messages[-1]:
        stop = last
    elif not messages:
        return [widget for widget in chain if not isinstance(widget, ToolBlock)]
    else:
        # A new turn (or a new version) came after the message visited last: Shift+Tab
        # goes to the newest reply, not back to an old prompt (qa12 #9).
        stop = messages[-1]
    return [widget for widget in chain
            if not isinstance(widget, MessageView | ToolBlock) or widget is stop]


def hint_for(view: Widget, keymap: Mapping[str, str], *, kitty: bool) -> str:
    """The status line's keys while `view` (a message, or a tool call of a reply, where
    the reply's keys act too) has the focus."""
    block = view if isinstance(view, ToolBlock) else None
    message = block.parent if block is not None else view
    allowed = (message.check_action if isinstance(message, MessageView)
               else lambda _action, _parameters: True)
    if block is None:
        return message_hint(keymap, kitty=kitty, allowed=lambda action: bool(allowed(action, ())))
    # On a call: its own copy, and only the reply's keys that do what they say there.
    hint = message_hint(keymap, kitty=kitty, labels={"copy_message": f"copy {block.copy_what}"},
                        allowed=lambda action: action not in NOT_ON_CALLS
                        and bool(allowed(action, ())))
    return f"{block.keys_hint} · {hint}" if block.keys_hint else hint


def typed_for_prompt(focused: Widget | None, event: Key) -> bool:
    """Whether a key pressed while `focused` has the focus was meant for the prompt: a
    printable key on a message (or the columns of a comparison, or the queued prompts)
    that is not one of its own keys.

    Without this, "hello cab" typed after clicking a message would copy the message and
    a code block. It has to be decided when the app receives the key, before delivering
    it: focus() takes effect later, and a fast typist's next letters would still reach
    the message meanwhile. A tool call's block is part of its reply: the reply's keys
    act there too."""
    if isinstance(focused, ToolBlock):
        focused = focused.parent  # type: ignore[assignment]
    if (not isinstance(focused, MessageView | CompareView | QueuedPrompts)
            or not event.is_printable):
        return False
    bound = compat.node_bindings(focused).key_to_bindings.get(event.key, [])
    # A key of an action that does nothing on this message (`e` on a reply, `r` on a
    # prompt) is typing too, not a key swallowed in silence.
    return not any(focused.check_action(binding.action.split("(")[0], ()) for binding in bound)


def message_key(focused: Widget | None, event: Key) -> str | None:
    """The action a key pressed on a focused message runs there (None: not one of its
    keys, or one that does nothing on this message)."""
    if isinstance(focused, ToolBlock):
        focused = focused.parent  # type: ignore[assignment]
    if not isinstance(focused, MessageView):
        return None
    for binding in compat.node_bindings(focused).key_to_bindings.get(event.key, []):
        action = binding.action.split("(")[0]
        if focused.check_action(action, ()):
            return action
    return None


class FocusHint:
    """While a message has the focus, the status line lists its keys; afterwards the
    line goes back to what it showed, unless something newer replaced the hint."""

    def __init__(self, status: StatusBar) -> None:
        self._status = status
        self._hint = ""
        self._before = ""

    def show(self, hint: str) -> None:
        # A stream's rate, a countdown or an error matter more than the hint.
        if self._status.state != "idle":
            return
        if not self._hint:
            self._before = self._status.text
        self._hint = hint
        self._status.show_idle(hint)

    def hide(self) -> None:
        if self._hint and self._status.state == "idle" and self._status.text == self._hint:
            self._status.show_idle(self._before)
        self._hint = ""
