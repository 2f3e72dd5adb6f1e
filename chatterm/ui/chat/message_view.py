"""The frame every message view shares, and the views of prompts, system prompts and
tool results (replies: assistant_view.py; the list: message_list.py).

Everything a model (or a user) wrote goes through chatterm.ui.inert before it reaches a widget:
escape sequences in a reply must show up as visible text, never act on the terminal.
"""

from __future__ import annotations

import re
from typing import ClassVar

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static

from chatterm.conversation import Message, Usage
from chatterm.keymap import DEFAULT_KEYMAP, actions_in
from chatterm.ui import inert
from chatterm.ui.compat import SingleLayout
from chatterm.ui.events import MessageActionRequested, MessageFocusChanged
from chatterm.ui.keys import bindings_for, install_bindings

# Showing a megabyte prompt in full would cost seconds of layout (a plain Static wraps
# it all) for no reader; the full text is still saved and sent, only the view is cut.
# Replies are not cut: StreamingMarkdown renders them block by block.
DISPLAY_LIMIT = 32_000

_FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})[^\n]*\n(?P<body>.*?)(?:^(?P=fence)[ \t]*$|\Z)",
                    re.M | re.S)


def code_blocks(markdown: str) -> list[str]:
    """The bodies of the fenced code blocks in `markdown`, in order. A fence left open
    (a reply stopped inside it) runs to the end, as it is drawn."""
    return [found["body"].rstrip("\n") for found in _FENCE.finditer(markdown)]


def clipped(text: str) -> str:
    if len(text) <= DISPLAY_LIMIT:
        return text
    hidden = len(text) - DISPLAY_LIMIT
    return f"{text[:DISPLAY_LIMIT]}\n… ({hidden:,} more characters not shown; all were saved)"


def usage_text(usage: Usage | None) -> str:
    if usage is None:
        return ""
    parts: list[str] = []
    if usage.prompt_tokens is not None or usage.completion_tokens is not None:
        parts.append(f"{usage.prompt_tokens or 0:,} in · {usage.completion_tokens or 0:,} out")
    elif usage.total_tokens is not None:
        parts.append(f"{usage.total_tokens:,} tokens")
    if usage.reasoning_tokens:
        parts.append(f"{usage.reasoning_tokens:,} reasoning")
    if usage.cost is not None:
        parts.append(f"${usage.cost:.4f}" if usage.cost < 1 else f"${usage.cost:.2f}")
    return " · ".join(parts)


class MessageView(SingleLayout, Vertical, can_focus=True):
    """Common frame: a header line naming the role, then the role's own body.

    Kept to as few widgets as possible: a reopened chat mounts dozens of these at once.
    """

    # c and b by default (the [keys] table can move them); every other printable key
    # goes back to the prompt with the focus (see chatterm.ui.chat.focus).
    BINDINGS: ClassVar = [
        *bindings_for("message"),
        Binding("up", "focus_sibling(-1)", show=False),
        Binding("down", "focus_sibling(1)", show=False),
        Binding("escape", "focus_prompt", "Back", show=False),
    ]

    role_label = ""

    def __init__(self, message: Message, *, classes: str = "") -> None:
        super().__init__(classes=f"message {classes}".strip())
        self.message = message
        self._code_index = 0

    @property
    def message_id(self) -> str:
        return self.message.id

    def next_code_block(self, count: int) -> int:
        """Which of this message's `count` code blocks to copy: pressing the key again
        on the same message walks through them."""
        index = self._code_index % count
        self._code_index += 1
        return index

    # Decorated handlers, so a subclass's own on_mount/on_focus runs beside these.
    @on(events.Mount)
    def _install_keys(self, event: events.Mount) -> None:
        keymap = getattr(self.app, "keymap", None)
        if isinstance(keymap, dict) and any(
            keymap.get(a.name) != DEFAULT_KEYMAP[a.name] for a in actions_in("message")
        ):
            install_bindings(self, keymap, "message")

    @on(events.Focus)
    def _focused(self, event: events.Focus) -> None:
        self.post_message(MessageFocusChanged(self, True))

    @on(events.Blur)
    def _blurred(self, event: events.Blur) -> None:
        self.post_message(MessageFocusChanged(self, False))

    def header(self) -> Content:
        return Content.styled(self.role_label, "bold")

    def compose(self) -> ComposeResult:
        yield Static(self.header(), classes="msg-header", markup=False)

    def refresh_header(self) -> None:
        for header in self.query(".msg-header").results(Static):
            header.update(self.header())

    def action_copy_message(self) -> None:
        self.post_message(MessageActionRequested(self.message.id, "copy"))

    def action_copy_code(self) -> None:
        self.post_message(MessageActionRequested(self.message.id, "copy_code"))

    def action_delete_message(self) -> None:
        self.post_message(MessageActionRequested(self.message.id, "delete_message"))

    def action_focus_prompt(self) -> None:
        self.post_message(MessageActionRequested(None, "focus_prompt"))

    def action_focus_sibling(self, step: int) -> None:
        siblings = self.parent.children if self.parent is not None else []
        views = [view for view in siblings if isinstance(view, MessageView)]
        index = views.index(self) + step
        if 0 <= index < len(views):
            views[index].focus()
            views[index].scroll_visible(animate=False)
        elif step > 0:
            self.post_message(MessageActionRequested(None, "focus_prompt"))


class UserMessage(MessageView):
    """Label and text in one Static: one widget per prompt."""

    role_label = "you"

    def compose(self) -> ComposeResult:
        yield Static(
            Content.assemble((self.role_label, "bold $primary"), "\n",
                             Content(inert.text(clipped(self.message.content)))),
            classes="msg-body",
            markup=False,
        )


class SystemMessage(MessageView):
    """The system prompt: folded by default, since it rarely changes and can be long."""

    role_label = "system"

    def compose(self) -> ComposeResult:
        from textual.widgets import Collapsible

        with Collapsible(title="System prompt", collapsed=True):
            yield Static(
                Content(inert.text(clipped(self.message.content))),
                classes="msg-body",
                markup=False,
            )


class ToolMessage(MessageView):
    role_label = "tool"

    def compose(self) -> ComposeResult:
        call = self.message.tool_call_id or ""
        yield Static(
            Content.assemble(("tool result", "bold"), (f"  {call}", "$foreground-muted"), "\n",
                             Content(inert.text(clipped(self.message.content)))),
            classes="msg-body",
            markup=False,
        )
