"""The replies of a model comparison, side by side: one column per model.

Each column is labelled with its model and has its own live Markdown body (the reply
widget's StreamingMarkdown, fed the same way) and its own token counter. The columns sit
side by side while each gets at least MIN_COLUMN_WIDTH cells; in a narrower chat (40
columns, or 4 models in 100) they are stacked, each still labelled, so no reply is
squeezed to a few letters a line.

The view is one focus stop: ←/→ choose a column, Enter (or `k`, the registry's
`keep_reply`) keeps its reply, a click on a column's [keep] does the same. Keeping is
the controller's job (controller.py): the view calls the `keep` it was given.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Static

from chatterm.conversation import Message, MessageState
from chatterm.ui import inert
from chatterm.ui.chat.assistant_view import empty_badge
from chatterm.ui.chat.message_view import usage_text
from chatterm.ui.compat import SingleLayout
from chatterm.ui.events import MessageActionRequested
from chatterm.ui.keys import bindings_for

if TYPE_CHECKING:
    from textual.timer import Timer

    from chatterm.ui.markdown.streaming import StreamingMarkdown

# Below this many cells per column, the columns are stacked.
MIN_COLUMN_WIDTH = 26
# The live token count is redrawn with the column's text, at most this often (seconds).
COUNT_REFRESH = 0.5


def _markdown(text: str | None = None) -> StreamingMarkdown:
    from chatterm.ui import warmup

    warmup.settle()
    from chatterm.ui.markdown.streaming import StreamingMarkdown

    return StreamingMarkdown(text, classes="compare-body")


class ColumnHeader(Static):
    """A column's label line; its [keep] link runs `action_keep` here."""

    def __init__(self, column: CompareColumn) -> None:
        super().__init__("", classes="compare-label", markup=False)
        self.column = column

    def action_keep(self) -> None:
        self.column.request_keep()


class CompareColumn(SingleLayout, Vertical):
    """One model's reply: its label (model, provider, count or state, [keep]) and body."""

    def __init__(self, message: Message, index: int) -> None:
        # Columns after the first are ruled off from the one before them.
        super().__init__(classes="compare-column -later" if index else "compare-column")
        self.message = message
        self.index = index
        self.tokens = 0
        self.streaming = message.state is MessageState.STREAMING
        self.keepable = False
        self.thinking = False
        self._incoming = inert.Stream()
        self._body = _markdown(None if self.streaming else inert.text(message.content))
        if self.streaming and message.content:
            self._body.append(self._incoming.feed(message.content))
        self._body.flush_callback = self._drawn
        self._label = ColumnHeader(self)
        self._counted_at = 0.0
        self._count_timer: Timer | None = None

    @property
    def message_id(self) -> str:
        return self.message.id

    @property
    def body(self) -> StreamingMarkdown:
        return self._body

    def compose(self) -> ComposeResult:
        self._label.update(self.label())
        yield self._label
        yield self._body
        yield Static("", classes="compare-error", markup=False)

    def label(self) -> Content:
        message = self.message
        parts: list[str | tuple[str, str] | Content] = [
            (inert.text(message.model or "assistant"), "bold $accent")]
        if message.provider:
            parts.append((f"  {inert.text(message.provider)}", "$foreground-muted"))
        if self.streaming:
            state = (f"  {self.tokens:,} token{'s' if self.tokens != 1 else ''}"
                     if self.tokens else "  waiting…")
            if self.thinking:  # reasoning streams, no answer yet: it is drawn once kept
                state = f"  reasoning…{state}"
            parts.append((state, "$foreground-muted"))
        else:
            badge = {MessageState.INTERRUPTED: ("  ⏸ interrupted", "$warning"),
                     MessageState.ERROR: ("  ✗ error", "$error")}.get(message.state) \
                or empty_badge(message)
            if badge:
                parts.append(badge)
            counted = f"{self.tokens:,} token{'s' if self.tokens != 1 else ''}"
            used = usage_text(message.usage) or (counted if self.tokens else "")
            if used:
                parts.append((f"  · {used}", "$foreground-muted"))
        if self.keepable:
            parts.append("  ")
            parts.append(Content.from_markup("[@click=keep]\\[keep][/]"))
        return Content.assemble(*parts)

    def redraw_label(self) -> None:
        self._label.update(self.label())

    # ---- streaming ---------------------------------------------------------------------

    def append(self, text: str, chunks: int, *, reasoning: bool = False) -> None:
        """Streamed text: the answer's (drawn), or reasoning (counted, shown once kept)."""
        self.tokens += chunks
        if reasoning and not self._body.text and not self.thinking:
            self.thinking = True
            self.redraw_label()
        if text:
            if self.thinking:
                self.thinking = False
                self.redraw_label()
            self._body.append(self._incoming.feed(text))

    def _drawn(self) -> None:
        # The count goes with the frames that draw the text, at most twice a second; a
        # frame held back is drawn when the half second is up, or text that arrived in
        # it and then a pause left the count behind the words shown (qa12 #9: `1 token`
        # over three words).
        wait = COUNT_REFRESH - (time.monotonic() - self._counted_at)
        if wait <= 0:
            self._count_now()
        elif self._count_timer is None:
            self._count_timer = self.set_timer(wait, self._count_now)

    def _count_now(self) -> None:
        self._count_timer = None
        self._counted_at = time.monotonic()
        if self.streaming:
            self.redraw_label()

    def finish(self, message: Message) -> None:
        """The reply ended (complete, stopped or failed): its final text and state."""
        self.message = message
        self.streaming = False
        self.thinking = False
        self._body.flush_callback = None
        self._body.finish(inert.text(message.content))
        error = self.query(".compare-error").first(Static)
        if message.error:
            error.update(Content.styled(inert.server_words(message.error), "$error"))
            error.add_class("-shown")
        self.redraw_label()

    @property
    def holds_a_reply(self) -> bool:
        """False for a reply that failed before any text: nothing to keep."""
        message = self.message
        return bool(message.content or message.reasoning or message.refusal
                    or message.tool_calls) or message.state is not MessageState.ERROR

    def request_keep(self) -> None:
        view = self.parent.parent if self.parent is not None else None
        if isinstance(view, CompareView):
            view.keep(self.index)

    @on(events.Click)
    def _clicked(self, event: events.Click) -> None:
        view = self.parent.parent if self.parent is not None else None
        if isinstance(view, CompareView):
            view.choose(self.index)


class _Columns(SingleLayout, Horizontal):
    """The row of columns (stacked by the view's `-stacked` class)."""


class CompareView(SingleLayout, Vertical, can_focus=True):
    """The columns of one comparison, in the order the models were picked."""

    DEFAULT_CSS = """
    CompareView {
        height: auto;
        margin: 1 0 0 0;
        padding: 0 0 0 1;
        border-left: thick $accent 60%;
    }
    CompareView:focus {
        border-left: double $accent;
    }
    CompareView > .compare-title {
        height: auto;
        color: $text-muted;
    }
    CompareView > #compare-columns {
        height: auto;
        layout: horizontal;
    }
    CompareView.-stacked > #compare-columns {
        layout: vertical;
    }
    CompareColumn {
        width: 1fr;  /* until the first resize sets whole cells (on_resize) */
        height: auto;
        padding: 0 1 0 0;
    }
    CompareColumn.-later {
        padding: 0 1;
        border-left: vkey $accent 30%;
    }
    CompareView.-stacked CompareColumn {
        margin: 0 0 1 0;
        padding: 0 1 0 0;
        border-left: none;
    }
    CompareColumn > .compare-label {
        height: auto;
    }
    CompareColumn > .compare-error {
        height: auto;
        display: none;
    }
    CompareColumn > .compare-error.-shown {
        display: block;
    }
    CompareView:focus CompareColumn.-chosen {
        background: $accent 18%;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        *bindings_for("compare"),
        Binding("left", "choose_step(-1)", show=False),
        Binding("right", "choose_step(1)", show=False),
        Binding("up", "focus_above", show=False),
        Binding("down", "back", show=False),
        Binding("escape", "back", "Back", show=False),
    ]

    def __init__(self, replies: list[Message], keep: Callable[[str], None]) -> None:
        super().__init__(classes="compare")
        self._keep = keep  # called with the id of the reply to keep
        self.columns = [CompareColumn(message, index) for index, message in enumerate(replies)]
        self.chosen = 0
        self._title = Static(self._title_text(), classes="compare-title", markup=False)

    def compose(self) -> ComposeResult:
        yield self._title
        with _Columns(id="compare-columns"):
            yield from self.columns

    def on_mount(self) -> None:
        self._mark_chosen()

    def _title_text(self) -> Content:
        count = len(self.columns)
        if self.streaming:
            return Content(f"comparing {count} models · Esc stops them all")
        if not self.has_a_reply:
            return Content.styled("no model gave a reply (each column says why)", "$error")
        return Content(f"{count} replies · ←/→ choose · Enter or [keep] keeps one")

    @property
    def streaming(self) -> bool:
        return any(column.streaming for column in self.columns)

    @property
    def has_a_reply(self) -> bool:
        """False when every model failed before any text: there is nothing to keep."""
        return any(column.holds_a_reply for column in self.columns)

    @property
    def stacked(self) -> bool:
        return self.has_class("-stacked")

    def column_for(self, message_id: str) -> CompareColumn | None:
        return next((c for c in self.columns if c.message_id == message_id), None)

    def on_resize(self, event: events.Resize) -> None:
        # The chat's own width decides: stacked when a column would get too few cells.
        # The content's width: the event's size counts the view's border and padding.
        width = self.size.width
        count = len(self.columns)
        stacked = width < MIN_COLUMN_WIDTH * count
        self.set_class(stacked, "-stacked")
        # Whole cells per column, the same in every layout pass. With `1fr` Textual's
        # passes shared the width out as 25 and 26 cells by turns, and each change of
        # width re-rasterises a body's whole text: a quarter of the app's time in a
        # profile of four streams (bench/bench_compare.py).
        base = width if stacked else width // count
        for index, column in enumerate(self.columns):
            extra = 0 if stacked or index < count - 1 else width - base * count
            column.styles.width = base + extra

    # ---- streaming ---------------------------------------------------------------------

    def finish(self, message: Message) -> None:
        column = self.column_for(message.id)
        if column is not None:
            column.finish(message)
        if not self.streaming:
            for each in self.columns:
                each.keepable = each.holds_a_reply
                each.redraw_label()
            self._title.update(self._title_text())

    # ---- choosing and keeping ------------------------------------------------------------

    def _mark_chosen(self) -> None:
        for column in self.columns:
            column.set_class(column.index == self.chosen, "-chosen")

    def choose(self, index: int) -> None:
        self.chosen = max(0, min(index, len(self.columns) - 1))
        self._mark_chosen()
        self.columns[self.chosen].scroll_visible(animate=False)

    def action_choose_step(self, step: int) -> None:
        self.choose(self.chosen + step)

    def action_keep_reply(self) -> None:
        self.keep(self.chosen)

    def keep(self, index: int) -> None:
        self.choose(index)
        column = self.columns[index]
        if not self.streaming and not column.holds_a_reply:
            self.app.bell()
            self._title.update(Content.assemble(
                self._title_text(), "  ", ("that one failed before any text: keep another",
                                           "bold $warning")))
            return
        self._keep(column.message_id)

    def action_focus_above(self) -> None:
        """↑: the message above (the prompt that was compared), as ↑ on a message does."""
        parent = self.parent
        siblings = list(parent.children) if parent is not None else []
        for widget in reversed(siblings[:siblings.index(self)]):
            if widget.focusable:
                widget.focus()
                widget.scroll_visible(animate=False)
                return

    def action_back(self) -> None:
        self.post_message(MessageActionRequested(None, "back"))  # Esc stops, too
