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
from textual.widget import Widget
from textual.widgets import Static

from chatterm.conversation import Message, Usage
from chatterm.keymap import DEFAULT_KEYMAP, actions_in
from chatterm.ui import inert
from chatterm.ui.chat.message_header import MessageHeader, Versions
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
    # The message-scope actions that make sense for this kind of message (check_action).
    own_actions: ClassVar[frozenset[str]] = frozenset(
        {"copy_message", "copy_code", "delete_message"})

    def __init__(self, message: Message, *, classes: str = "",
                 versions: Versions | None = None) -> None:
        super().__init__(classes=f"message {classes}".strip())
        self.message = message
        self._code_index = 0
        # (this version, how many) when the message has siblings; None when it is the
        # only one. Set by whoever mounts the view (chatterm.ui.chat.versions).
        self.versions = versions if versions is not None and versions[1] > 1 else None

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
        yield MessageHeader(self.header(), self.versions, message_id=self.message.id)

    def refresh_header(self) -> None:
        for header in self.query(".msg-header").results(MessageHeader):
            header.update(self.header(), self.versions)

    @property
    def switch_text(self) -> str:
        """The header's `‹ 2/3 ›` as plain text, "" when there is none."""
        for header in self.query(".msg-header").results(MessageHeader):
            return header.switch_text
        return ""

    def set_versions(self, versions: Versions | None) -> None:
        """Show `‹ this/count ›` in the header (None or a count of 1: no switch)."""
        versions = versions if versions is not None and versions[1] > 1 else None
        if versions == self.versions:
            return
        self.versions = versions
        # Composed but maybe not mounted yet (the Mount event comes after compose): the
        # header is there to update either way.
        self.refresh_header()
        # Only a focused message's keys are on screen (footer, hint); refreshing the
        # bindings of every view would rebuild the footer once per view.
        if self.is_mounted and self.has_focus:
            self.refresh_bindings()
            self.post_message(MessageFocusChanged(self, True))  # the hint's keys, too

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide the keys that do nothing here (the footer and the hint list the rest)."""
        if action in ("previous_version", "next_version"):
            # Only the way there is a version to go (qa12 #5: on ‹ 2/2 › the footer offered
            # `→ Next`, which did nothing): the footer and the hint follow every flip,
            # as the header's dim arrow does.
            if self.versions is None:
                return False
            this, count = self.versions
            return this > 1 if action == "previous_version" else this < count
        if action in _MESSAGE_ACTIONS:
            if action in NOT_ON_CALLS and self.call_focused():
                return False
            return action in self.own_actions
        return True

    def call_focused(self) -> bool:
        """Whether the focus is on one of this message's tool calls (inner stops)."""
        if not self.is_attached:
            return False
        focused = self.screen.focused
        return focused is not None and focused.parent is self and focused in self.inner_stops()

    def _request(self, action: str) -> None:
        self.post_message(MessageActionRequested(self.message.id, action))

    def action_previous_version(self) -> None:
        self._request("previous_version")

    def action_next_version(self) -> None:
        self._request("next_version")

    async def action_edit_prompt(self) -> None:
        # Straight to the screen's action, awaited while this key is handled, not a
        # posted message: the keys typed next must land in the text being edited, and a
        # message could be handled after them.
        await self.run_action(f"screen.edit_message({self.message.id!r})")

    def action_regenerate(self) -> None:
        self._request("regenerate")

    def action_regenerate_with(self) -> None:
        self._request("regenerate_with")

    def action_copy_message(self) -> None:
        self.post_message(MessageActionRequested(self.message.id, "copy"))

    def action_copy_code(self) -> None:
        self.post_message(MessageActionRequested(self.message.id, "copy_code"))

    def action_delete_message(self) -> None:
        self.post_message(MessageActionRequested(self.message.id, "delete_message"))

    def action_focus_prompt(self) -> None:
        # Esc: back to the prompt, stopping a reply on the way (qa12 #6: a reply waiting
        # while a message had the focus needed a second Esc).
        self.post_message(MessageActionRequested(None, "back"))

    def action_focus_sibling(self, step: int) -> None:
        move_focus(self, step)

    def inner_stops(self) -> list[Widget]:
        """Widgets inside this view that ↑/↓ stop at after it (a reply's tool calls)."""
        return []


def move_focus(widget: Widget, step: int) -> None:
    """↑/↓ from a message (or a tool call inside one): the next stop in the list, each
    message followed by its own stops; past the last, the prompt."""
    view = widget if isinstance(widget, MessageView) else widget.parent
    message_list = view.parent if view is not None else None
    siblings = message_list.children if message_list is not None else []
    stops: list[Widget] = []
    for sibling in siblings:
        if isinstance(sibling, MessageView) and sibling.focusable:
            stops.append(sibling)
            stops.extend(sibling.inner_stops())
    if widget not in stops:
        return
    index = stops.index(widget) + step
    if 0 <= index < len(stops):
        stops[index].focus()
        stops[index].scroll_visible(animate=False)
    elif step > 0:
        widget.post_message(MessageActionRequested(None, "focus_prompt"))


class UserMessage(MessageView):
    """Label and text in one Static: one widget per prompt (two for a prompt with other
    versions, whose header line carries the switch)."""

    role_label = "you"
    own_actions = frozenset({"copy_message", "copy_code", "edit_prompt", "delete_message"})

    def header(self) -> Content:
        return Content.styled(self.role_label, "bold $primary")

    # Whether compose made a header line of its own (None: not composed yet).
    _with_header: bool | None = None

    def compose(self) -> ComposeResult:
        text = Content(inert.text(clipped(self.message.content)))
        self._with_header = self.versions is not None
        if self.versions is not None:
            yield from super().compose()
            yield Static(text, classes="msg-body", markup=False)
        elif text or not self.message.attachments:
            yield Static(Content.assemble(self.header(), "\n", text), classes="msg-body",
                         markup=False)
        else:  # an image alone: no blank line for the text there is not
            yield Static(self.header(), classes="msg-body", markup=False)
        if self.message.attachments:  # a line each, pictures where the terminal can
            from chatterm.ui.attach.graphics import terminal_mode
            from chatterm.ui.attach.message_parts import AttachmentList

            yield AttachmentList(self.message.attachments,
                                 previews=terminal_mode() is not None)

    def set_versions(self, versions: Versions | None) -> None:
        super().set_versions(versions)
        if self._with_header is not None and self._with_header != (self.versions is not None):
            self.refresh(recompose=True)  # the header line comes or goes


_MESSAGE_ACTIONS = frozenset(action.name for action in actions_in("message"))
# The reply's keys that would not do what they say on one of its tool calls (qa13 F4):
# `b` copies a code block of the reply's text, `d` deletes the whole reply. With a call
# focused they are off (not in the hint or the footer; the letter is typing). The call's
# own `c` copies the call (tool_block.py); r, R and the versions act on the reply that
# made the call, as they say.
NOT_ON_CALLS = frozenset({"copy_code", "delete_message"})


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
    """A tool result. Below the reply that made its call, it is drawn inside that call's
    block (tool_block.py) and this view takes no room and no focus: it stays in the list
    so the views match the conversation's messages one for one. Only a result whose call
    is not shown (an imported oddity) is drawn here, on its own."""

    role_label = "tool"
    # True once its reply's call block shows it.
    in_call = False

    def hide_in_call(self) -> None:
        if self.in_call:
            return
        self.in_call = True
        self.can_focus = False
        # Inline: the stylesheet's `.message` margin and padding must not make a blank row.
        self.styles.height = 0
        self.styles.margin = 0
        self.styles.padding = 0
        self.styles.border_left = None
        self.remove_children()

    def compose(self) -> ComposeResult:
        if self.in_call:
            return
        from chatterm.conversation import ToolCall
        from chatterm.ui.chat.tool_block import ToolBlock

        call_id = self.message.tool_call_id or ""
        yield Static(Content.assemble(("tool result", "bold"),
                                      (f"  {inert.line(call_id)}", "$foreground-muted")),
                     classes="msg-header", markup=False)
        # Folded as in a call's block (a long result would otherwise fill the screen).
        yield ToolBlock(ToolCall(call_id, self.message.model or "", ""), self.message)

    def inner_stops(self) -> list[Widget]:
        from chatterm.ui.chat.tool_block import ToolBlock

        return list(self.query_children(ToolBlock).results(ToolBlock))
