"""One widget per message role, and the scrolling list that holds them.

Everything a model (or a user) wrote goes through `neutralise` before it reaches a widget:
escape sequences in a reply must show up as visible text, never act on the terminal.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Static

from chatterm.conversation import Message, MessageState, Role, Usage
from chatterm.keymap import DEFAULT_KEYMAP, actions_in
from chatterm.redact import shown
from chatterm.sanitize import StreamNeutraliser, neutralise
from chatterm.text_parts import TextParts
from chatterm.ui.compat import SingleLayout
from chatterm.ui.events import (
    MessageActionRequested,
    MessageFocusChanged,
    NewerMessagesWanted,
    OlderMessagesWanted,
)
from chatterm.ui.keys import bindings_for, install_bindings

if TYPE_CHECKING:
    from chatterm.ui.markdown.streaming import StreamingMarkdown

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

    def _on_mount(self) -> None:
        keymap = getattr(self.app, "keymap", None)
        if isinstance(keymap, dict) and any(
            keymap.get(a.name) != DEFAULT_KEYMAP[a.name] for a in actions_in("message")
        ):
            install_bindings(self, keymap, "message")

    def _on_focus(self, event: events.Focus) -> None:
        self.post_message(MessageFocusChanged(self, True))

    def _on_blur(self, event: events.Blur) -> None:
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

    def action_focus_prompt(self) -> None:
        self.post_message(MessageActionRequested(None, "focus_prompt"))

    def action_focus_sibling(self, step: int) -> None:
        views = [view for view in self.parent.children if isinstance(view, MessageView)]
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
                             Content(neutralise(clipped(self.message.content)))),
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
                Content(neutralise(clipped(self.message.content))),
                classes="msg-body",
                markup=False,
            )


class ToolMessage(MessageView):
    role_label = "tool"

    def compose(self) -> ComposeResult:
        call = self.message.tool_call_id or ""
        yield Static(
            Content.assemble(("tool result", "bold"), (f"  {call}", "$foreground-muted"), "\n",
                             Content(neutralise(clipped(self.message.content)))),
            classes="msg-body",
            markup=False,
        )


def _markdown(text: str | None = None) -> StreamingMarkdown:
    # Imported on first use: the Markdown stack is the largest import of the UI, and a
    # new chat can paint its prompt before it is needed (the app pre-loads it after).
    from chatterm.ui import warmup

    warmup.settle()
    from chatterm.ui.markdown.streaming import StreamingMarkdown

    return StreamingMarkdown(text, classes="msg-body")


class AssistantMessage(MessageView):
    """A reply: model label and usage, folded reasoning, refusal, Markdown body, tool
    calls, and (on the last reply, or after an error) a line with the error and actions.

    While streaming, `append_*` is called once per delta; everything but the Markdown
    body is throttled so a long reasoning trace does not re-render per token.
    """

    role_label = "assistant"

    def __init__(self, message: Message, *, is_last: bool = False) -> None:
        super().__init__(message)
        self.is_last = is_last
        self.streaming = message.state is MessageState.STREAMING
        self._body: StreamingMarkdown | None = None
        # A reply shown mid-stream (a chat reopened while its reply streams) starts from
        # the text it has now; deltas that come before compose are kept and drawn after.
        self._start_text = message.content
        self._early: list[str] = []
        # Deltas are neutralised one by one; this keeps a CRLF split across two whole.
        self._incoming = StreamNeutraliser()
        self._reasoning_dirty = False
        # The streamed reasoning and refusal, built from the deltas: the engine joins the
        # message's own text only at save points (per-delta joins would be quadratic).
        self._reasoning = TextParts(message.reasoning)
        self._refusal = TextParts(message.refusal)
        self._flush_callback: Callable[[], None] | None = None

    # ---- composition -------------------------------------------------------------------

    def header(self) -> Content:
        message = self.message
        parts: list[str | tuple[str, str]] = [(message.model or "assistant", "bold $accent")]
        if message.provider:
            parts.append((f"  {message.provider}", "$foreground-muted"))
        if not self.streaming:
            badge = {
                MessageState.INTERRUPTED: ("  ⏸ interrupted", "$warning"),
                MessageState.ERROR: ("  ✗ error", "$error"),
            }.get(message.state)
            if badge:
                parts.append(badge)
            used = usage_text(message.usage)
            if used:
                parts.append((f"  · {used}", "$foreground-muted"))
        return Content.assemble(*parts)

    def compose(self) -> ComposeResult:
        yield from super().compose()
        message = self.message
        if message.reasoning:
            yield self._reasoning_box(message.reasoning)
        if message.refusal:
            yield self._refusal_box(message.refusal)
        if self.streaming:
            self._body = self._streaming_body()
            for piece in (self._start_text, *self._early):
                if piece:
                    self._body.append(self._incoming.feed(piece))
            self._early.clear()
        else:
            # History: rendered once, straight from the stored text. Replies are never
            # clipped: the streaming widget renders even a megabyte at a flat cost.
            self._body = _markdown(neutralise(message.content))
        yield self._body
        if message.tool_calls:
            yield self._tool_calls_box()
        footer = self.footer()
        if footer:
            yield Static(footer, classes="msg-footer", markup=False)

    def _reasoning_box(self, text: str) -> Widget:
        from textual.widgets import Collapsible

        return Collapsible(
            Static(Content(neutralise(text)), classes="reasoning-text", markup=False),
            title="Reasoning",
            collapsed=True,
            classes="reasoning",
        )

    def _refusal_box(self, text: str) -> Static:
        return Static(
            Content.assemble(("Refused: ", "bold $error"), neutralise(text)),
            classes="refusal",
            markup=False,
        )

    def _tool_calls_box(self) -> Static:
        lines: list[str | tuple[str, str]] = []
        for index, call in enumerate(self.message.tool_calls):
            if index:
                lines.append("\n")
            lines.append(("⚙ " + neutralise(call.name or "?"), "bold"))
            lines.append(("(" + neutralise(clipped(call.arguments)) + ")", "$foreground-muted"))
        return Static(Content.assemble(*lines), classes="tool-calls", markup=False)

    def footer(self) -> Content:
        """The error, and continue/retry links on the last reply; empty while streaming."""
        message = self.message
        if self.streaming:
            return Content("")
        parts: list[str | tuple[str, str] | Content] = []
        if message.state in (MessageState.ERROR, MessageState.INTERRUPTED) and message.error:
            parts.append((shown(message.error), "$error"))  # a server's words: redacted
        if self.is_last:
            actions: list[tuple[str, str]] = []
            if message.state is MessageState.INTERRUPTED or message.finish_reason == "length":
                actions.append(("continue", "continue_reply"))
            actions.append(("retry" if message.state is not MessageState.COMPLETE
                            else "regenerate", "retry"))
            if parts:
                parts.append("\n")
            for index, (label, action) in enumerate(actions):
                if index:
                    parts.append("  ")
                parts.append(Content.from_markup(f"[@click=app.{action}]\\[{label}][/]"))
        return Content.assemble(*parts) if parts else Content("")

    def refresh_footer(self) -> None:
        footer = self.footer()
        found = self.query(".msg-footer")
        if found:
            if footer:
                found.first(Static).update(footer)
            else:
                found.remove()
        elif footer:
            self.mount(Static(footer, classes="msg-footer", markup=False))

    # ---- streaming ---------------------------------------------------------------------

    def _streaming_body(self) -> StreamingMarkdown:
        body = _markdown()
        body.flush_callback = self._flush_callback
        return body

    def set_flush_callback(self, callback: Callable[[], None] | None) -> None:
        """Call `callback` each time the streaming body draws new text (or stop)."""
        self._flush_callback = callback
        if self._body is not None:
            self._body.flush_callback = callback

    def restart(self, message: Message) -> None:
        """A retry or continue starts streaming into this view again."""
        self.message = message
        self.streaming = True
        old = self._body
        self._body = self._streaming_body()
        if old is not None:
            self.mount(self._body, after=old)
            old.remove()
        else:
            self.mount(self._body)
        self._incoming = StreamNeutraliser()
        if message.content:
            self._body.append(self._incoming.feed(message.content))
        for box in self.query(".reasoning, .refusal, .tool-calls"):
            box.remove()
        self._reasoning = TextParts(message.reasoning)
        self._refusal = TextParts(message.refusal)
        if message.reasoning:
            self.mount(self._reasoning_box(message.reasoning), before=self._body)
        self.refresh_header()
        self.refresh_footer()

    def append_content(self, text: str) -> None:
        if not text:
            return
        if self._body is None:
            self._early.append(text)  # not composed yet: compose draws it
            return
        self._body.append(self._incoming.feed(text))

    def append_reasoning(self, text: str) -> None:
        """Reasoning is redrawn at most a few times a second."""
        self._reasoning.append(text)
        if not self.query(".reasoning"):
            assert self._body is not None
            self.mount(self._reasoning_box(self._reasoning.value), before=self._body)
            return
        if not self._reasoning_dirty:
            self._reasoning_dirty = True
            self.set_timer(0.2, self._draw_reasoning)

    def _draw_reasoning(self) -> None:
        self._reasoning_dirty = False
        for text in self.query(".reasoning-text").results(Static):
            text.update(Content(neutralise(self._reasoning.value)))

    def append_refusal(self, text: str) -> None:
        self._refusal.append(text)
        for box in self.query(".refusal"):
            box.remove()
        assert self._body is not None
        self.mount(self._refusal_box(self._refusal.value), before=self._body)

    def finish(self, message: Message) -> None:
        """The reply ended (complete, interrupted or failed): final render, state, usage."""
        self.message = message
        self.streaming = False
        if self._body is not None:
            self._body.finish(neutralise(message.content))
        self._reasoning = TextParts(message.reasoning)
        self._refusal = TextParts(message.refusal)
        if message.reasoning:
            self._draw_reasoning()
        if message.tool_calls and not self.query(".tool-calls"):
            assert self._body is not None
            self.mount(self._tool_calls_box(), after=self._body)
        self.refresh_header()
        self.refresh_footer()

    def set_last(self, is_last: bool) -> None:
        if self.is_last != is_last:
            self.is_last = is_last
            if self.is_mounted:
                self.refresh_footer()

    @property
    def body_text(self) -> str:
        return self._body.text if self._body is not None else ""


def view_for(message: Message, *, is_last: bool = False) -> MessageView:
    if message.role is Role.ASSISTANT:
        return AssistantMessage(message, is_last=is_last)
    if message.role is Role.USER:
        return UserMessage(message, classes="user")
    if message.role is Role.SYSTEM:
        return SystemMessage(message, classes="system")
    return ToolMessage(message, classes="tool")


class MessageList(SingleLayout, VerticalScroll):
    """The conversation, newest at the bottom; asks for older messages at the top.

    It is anchored to the bottom so a stream stays in view, Textual releases the anchor
    when the user scrolls up and restores it when they come back down.
    """

    can_focus = False
    # Starts as True so the first scroll-to-top after a load asks for older messages.
    has_older: bool = False
    # True while loaded messages below the mounted ones wait (opened at a search hit).
    has_newer: bool = False

    def on_mount(self) -> None:
        self.anchor()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self.has_older and new_value <= 0 < old_value:
            self.post_message(OlderMessagesWanted())
        if self.has_newer and new_value >= self.max_scroll_y > old_value:
            self.post_message(NewerMessagesWanted())

    def _on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        # Already at the top, the wheel moves nothing and scroll_y never changes.
        if self.has_older and self.scroll_y <= 0:
            self.post_message(OlderMessagesWanted())
        super()._on_mouse_scroll_up(event)

    def _on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        # Already at the bottom of a window, the wheel moves nothing.
        if self.has_newer and self.scroll_y >= self.max_scroll_y:
            self.post_message(NewerMessagesWanted())
        super()._on_mouse_scroll_down(event)

    def follow_from_bottom(self) -> None:
        """Follow the bottom again from when the reader next gets there (not at once)."""
        self._anchored = True
        self._anchor_released = True

    @property
    def following(self) -> bool:
        """True while the list sticks to the bottom (the user has not scrolled away)."""
        return self._anchored and not self._anchor_released

    def views(self) -> list[MessageView]:
        return [child for child in self.children if isinstance(child, MessageView)]

    def view_for_id(self, message_id: str) -> MessageView | None:
        for view in reversed(self.views()):
            if view.message.id == message_id:
                return view
        return None

