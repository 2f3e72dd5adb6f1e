"""The reply widget: model label and usage, folded reasoning, refusal, the streaming
Markdown body, tool calls, and the error and continue/retry line of the last reply.

The reply controller (replies.py) feeds it the engine's deltas through `append_*`; the
body is chatterm.ui.markdown.streaming, which turns them into rows on screen.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Static

from chatterm.conversation import Message, MessageState, ToolCall
from chatterm.text_parts import TextParts
from chatterm.ui import inert
from chatterm.ui.chat.message_view import MessageView, usage_text
from chatterm.ui.chat.tool_block import ASKED, ToolBlock, known_specs

if TYPE_CHECKING:
    from chatterm.toolbox import ToolSpec
    from chatterm.ui.chat.message_header import Versions
    from chatterm.ui.markdown.streaming import StreamingMarkdown


def empty_badge(message: Message) -> tuple[str, str] | None:
    """"(empty)" for a reply that finished holding nothing (a model may answer so): only a
    header, it read as if its text had been lost (qa12 #9). Chat and compare columns."""
    if message.state is MessageState.COMPLETE and not (
            message.content or message.reasoning or message.refusal or message.tool_calls):
        return "  (empty)", "$foreground-muted"
    return None


def _markdown(text: str | None = None) -> StreamingMarkdown:
    # Imported on first use: the Markdown stack is the largest import of the UI, and a
    # new chat can paint its prompt before it is needed (the app pre-loads it after).
    from chatterm.ui import warmup

    warmup.settle()
    from chatterm.ui.markdown.streaming import StreamingMarkdown

    return StreamingMarkdown(text, classes="msg-body")


def _only_calls(body: Widget, blocks: list[ToolBlock]) -> None:
    """A reply that is only tool calls: the first one right under the header, with no
    empty body nor margin row between them."""
    body.display = False
    blocks[0].styles.margin = (0, 0, 0, 0)


class AssistantMessage(MessageView):
    """A reply: model label and usage, folded reasoning, refusal, Markdown body, tool
    calls, and (on the last reply, or after an error) a line with the error and actions.

    While streaming, `append_*` is called once per delta; everything but the Markdown
    body is throttled so a long reasoning trace does not re-render per token.
    """

    role_label = "assistant"
    own_actions = frozenset({"copy_message", "copy_code", "regenerate", "regenerate_with",
                             "delete_message"})

    def __init__(self, message: Message, *, is_last: bool = False,
                 versions: Versions | None = None) -> None:
        super().__init__(message, versions=versions)
        self.is_last = is_last
        self.streaming = message.state is MessageState.STREAMING
        self._body: StreamingMarkdown | None = None
        # A reply shown mid-stream (a chat reopened while its reply streams) starts from
        # the text it has now; deltas that come before compose are kept and drawn after.
        self._start_text = message.content
        self._early: list[str] = []
        # Deltas are neutralised one by one; this keeps a CRLF split across two whole.
        self._incoming = inert.Stream()
        self._reasoning_dirty = False
        # The streamed reasoning and refusal, built from the deltas: the engine joins the
        # message's own text only at save points (per-delta joins would be quadratic).
        # Kept inert, each delta neutralised once as it arrives.
        self._reasoning = TextParts(inert.text(message.reasoning))
        self._refusal = TextParts(inert.text(message.refusal))
        self._reasoning_in = inert.Stream()
        self._refusal_in = inert.Stream()
        self._flush_callback: Callable[[], None] | None = None
        # The tool messages of this reply's calls, by call id (message_list.py links
        # them as their views are mounted); each is drawn in its call's block.
        self._results: dict[str, Message] = {}
        # Blocks the loop's events moved before compose (a chat reopened mid-loop).
        self._premade: list[ToolBlock] | None = None
        # Tool-call arguments streaming in, by call index (drawn a few times a second).
        self._arguments: dict[int, list[str]] = {}
        self._arguments_dirty = False

    # ---- composition -------------------------------------------------------------------

    def header(self) -> Content:
        message = self.message
        parts: list[str | tuple[str, str]] = [
            (inert.text(message.model or "assistant"), "bold $accent")]
        if message.provider:
            parts.append((f"  {inert.text(message.provider)}", "$foreground-muted"))
        if not self.streaming:
            badge = {
                MessageState.INTERRUPTED: ("  ⏸ interrupted", "$warning"),
                MessageState.ERROR: ("  ✗ error", "$error"),
            }.get(message.state) or empty_badge(message)
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
            yield self._reasoning_box(self._reasoning.value)
        if message.refusal:
            yield self._refusal_box(self._refusal.value)
        if self.streaming:
            self._body = self._streaming_body()
            for piece in (self._start_text, *self._early):
                if piece:
                    self._body.append(self._incoming.feed(piece))
            self._early.clear()
        else:
            # History: rendered once, straight from the stored text. Replies are never
            # clipped: the streaming widget renders even a megabyte at a flat cost.
            self._body = _markdown(inert.text(message.content))
        yield self._body
        blocks, self._premade = self._premade or self._tool_blocks(), None
        if blocks and not message.content and not self.streaming:
            _only_calls(self._body, blocks)
        if not self.streaming:
            unrun = [b for b in blocks if b.result is None and b.state == ASKED]
            # The app's servers (if up) name them `server.tool`.
            specs = known_specs(getattr(getattr(self.app, "tools", None), "host", None)
                                ) if unrun else {}
            for block in unrun:
                # From the store: a call with no result never ran (a loop that is still
                # going moves it on again with its next event).
                block.settle(specs)
        yield from blocks
        footer = self.footer()
        if footer:
            yield Static(footer, classes="msg-footer", markup=False)

    def _reasoning_box(self, shown: str) -> Widget:
        """The folded reasoning; `shown` is already inert."""
        from textual.widgets import Collapsible

        return Collapsible(
            Static(Content(shown), classes="reasoning-text", markup=False),
            title="Reasoning",
            collapsed=True,
            classes="reasoning",
        )

    def _refusal_box(self, shown: str) -> Static:
        """The refusal; `shown` is already inert."""
        return Static(
            Content.assemble(("Refused: ", "bold $error"), shown),
            classes="refusal",
            markup=False,
        )

    # ---- tool calls --------------------------------------------------------------------

    def _tool_blocks(self) -> list[ToolBlock]:
        return [ToolBlock(call, self._results.get(call.id)) for call in self.message.tool_calls]

    @property
    def blocks(self) -> list[ToolBlock]:
        return list(self.query_children(ToolBlock).results(ToolBlock))

    def inner_stops(self) -> list[Widget]:
        return list(self.blocks)

    def has_call(self, call_id: str | None) -> bool:
        return any(call.id == call_id for call in self.message.tool_calls)

    def attach_result(self, result: Message) -> None:
        """The tool message of one of this reply's calls: shown in that call's block."""
        call_id = result.tool_call_id or ""
        self._results[call_id] = result
        for block in self._premade or self.blocks:
            if block.call.id == call_id:
                block.set_result(result)

    def block(self, index: int, call: ToolCall | None = None) -> ToolBlock | None:
        """The block of call `index` (the loop's events say which); made if the reply
        was shown without it."""
        if self._body is None:  # not composed yet: compose mounts these
            if self._premade is None:
                self._premade = self._tool_blocks()
            return self._premade[index] if index < len(self._premade) else None
        blocks = self.blocks
        if index < len(blocks):
            return blocks[index]
        if call is None:
            return None
        block = ToolBlock(call, self._results.get(call.id))
        self.mount(block, after=blocks[-1] if blocks else self._body)
        return block

    def append_tool_arguments(self, index: int, text: str) -> None:
        """Arguments streaming in: each call gets its block at its first piece, redrawn
        at most five times a second (its name is known only when the reply ends)."""
        if self._body is None or not text:
            return  # not composed: the finished reply's blocks show them
        self._arguments.setdefault(index, []).append(text)
        if not self._arguments_dirty:
            self._arguments_dirty = True
            self.set_timer(0.2, self._draw_arguments)

    def _draw_arguments(self) -> None:
        self._arguments_dirty = False
        if not self.streaming:
            return  # ended meanwhile: finish() drew the calls as made
        blocks = self.blocks
        for index in sorted(self._arguments):
            text = "".join(self._arguments[index])
            self._arguments[index] = [text]  # joined once per redraw, not per piece
            if index < len(blocks):
                blocks[index].arriving(text)
                continue
            block = ToolBlock(ToolCall("", "", ""))
            block.arriving(text)
            self.mount(block, after=blocks[-1] if blocks else self._body)
            blocks.append(block)

    def _final_blocks(self) -> None:
        """The reply ended: its calls' blocks, as the model made them (those drawn while
        the arguments streamed are reused, so the loop's events find them at once)."""
        calls = self.message.tool_calls
        existing = self.blocks
        for block, call in zip(existing, calls, strict=False):
            block.reset(call, self._results.get(call.id))
        for block in existing[len(calls):]:
            block.remove()
        extra = [ToolBlock(call, self._results.get(call.id)) for call in calls[len(existing):]]
        if extra:
            assert self._body is not None
            self.mount(*extra, after=existing[-1] if existing else self._body)
        if calls and not self.message.content and self._body is not None:
            _only_calls(self._body, [*existing, *extra])

    def settle_tools(self, specs: Mapping[str, ToolSpec] | None = None) -> None:
        """The reply's loop ended: calls it never finished did not run (`specs`: the
        tools on offer, to name them)."""
        for block in self.blocks:
            block.settle(specs)

    def footer(self) -> Content:
        """The error, and continue/retry links on the last reply; empty while streaming."""
        message = self.message
        if self.streaming:
            return Content("")
        parts: list[str | tuple[str, str] | Content] = []
        if message.state in (MessageState.ERROR, MessageState.INTERRUPTED) and message.error:
            # A server's words: redacted, then inert.
            parts.append((inert.server_words(message.error), "$error"))
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
                parts.append(Content.from_markup(f"[@click=screen.{action}]\\[{label}][/]"))
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
        self._incoming = inert.Stream()
        if message.content:
            self._body.append(self._incoming.feed(message.content))
        self._arguments.clear()
        for box in self.query(".reasoning, .refusal, .tool-block"):
            box.remove()
        self._reasoning = TextParts(inert.text(message.reasoning))
        self._refusal = TextParts(inert.text(message.refusal))
        self._reasoning_in = inert.Stream()
        self._refusal_in = inert.Stream()
        if message.reasoning:
            self.mount(self._reasoning_box(self._reasoning.value), before=self._body)
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
        self._reasoning.append(self._reasoning_in.feed(text))
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
            text.update(Content(self._reasoning.value))

    def append_refusal(self, text: str) -> None:
        self._refusal.append(self._refusal_in.feed(text))
        for box in self.query(".refusal"):
            box.remove()
        assert self._body is not None
        self.mount(self._refusal_box(self._refusal.value), before=self._body)

    def finish(self, message: Message) -> None:
        """The reply ended (complete, interrupted or failed): final render, state, usage."""
        self.message = message
        self.streaming = False
        if self._body is not None:
            self._body.finish(inert.text(message.content))
        self._reasoning = TextParts(inert.text(message.reasoning))
        self._refusal = TextParts(inert.text(message.refusal))
        if message.reasoning:
            self._draw_reasoning()
        self._arguments.clear()
        self._final_blocks()
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

