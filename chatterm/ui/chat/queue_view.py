"""The queued prompts, between the messages and the status line (prompt_queue.py keeps
them): a line saying how many there are and what happens next, then one row per prompt,
cut to one line, each ending in a clickable ✕.

One widget for all of them (as the attachment tray above the prompt): Tab / Shift+Tab or
a click give it the focus, ↑/↓ pick a row, Delete or Backspace removes it (the
`remove_queued` key of the registry), Enter goes back to the prompt. Esc is the chat's
(it stops the reply, holds the queue, then clears it). At most MAX_ROWS rows are drawn,
around the picked one; the count line says how many there are in all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.geometry import Size
from textual.message import Message
from textual.widget import Widget

from chatterm.keymap import DEFAULT_KEYMAP
from chatterm.ui import inert
from chatterm.ui.keys import bindings_for, install_bindings

if TYPE_CHECKING:
    from chatterm.ui.chat.prompt_queue import QueuedPrompt

MAX_ROWS = 3


def row_text(prompt: QueuedPrompt) -> str:
    """A queued prompt on one line: its words (line breaks as spaces), then how many
    attachments go with it."""
    text = " ".join(inert.line(prompt.text).split())
    if prompt.attachments:
        count = len(prompt.attachments)
        text = f"{text} [+{count} attached]" if text else f"[{count} attached]"
    return text


def count_line(count: int, *, held: bool) -> str:
    what = f"{count} queued"
    return f"{what} · Enter sends · Esc clears" if held else f"{what} · sent when the reply ends"


class QueuedPrompts(Widget, can_focus=True):
    """The queue of the chat on screen; hidden while it is empty."""

    DEFAULT_CSS = """
    QueuedPrompts {
        height: auto;
        padding: 0 1;
        background: $surface;
        color: $foreground-muted;
        display: none;
    }
    QueuedPrompts.-some {
        display: block;
    }
    QueuedPrompts:focus {
        background: $boost;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        *bindings_for("queue"),
        Binding("up", "move(-1)", show=False),
        Binding("down", "move(1)", show=False),
        Binding("enter", "back", "Back", show=False),
    ]

    class Remove(Message):
        """Remove the queued prompt at `index` (a key or a click on its ✕)."""

        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    class Back(Message):
        """Enter on the queue, or it emptied while focused: the prompt takes the focus."""

    def __init__(self, *, id: str | None = None,
                 keymap: Mapping[str, str] = DEFAULT_KEYMAP) -> None:
        super().__init__(id=id)
        install_bindings(self, keymap, "queue")
        self._rows: list[str] = []
        self.held = False
        self.selected = 0

    @property
    def rows(self) -> list[str]:
        """Each queued prompt as its row says it (before cutting), for hints and tests."""
        return list(self._rows)

    def show(self, prompts: Sequence[QueuedPrompt], *, held: bool) -> None:
        self._rows = [row_text(prompt) for prompt in prompts]
        self.held = held
        self.selected = min(self.selected, max(0, len(self._rows) - 1))
        self.set_class(bool(self._rows), "-some")
        self.refresh(layout=True)
        if not self._rows and self.has_focus:
            self.post_message(self.Back())

    # ---- drawing ---------------------------------------------------------------------------

    def _window(self) -> range:
        """The rows drawn: MAX_ROWS of them, the picked one among them."""
        first = min(max(0, self.selected - MAX_ROWS + 1), max(0, len(self._rows) - MAX_ROWS))
        return range(first, min(len(self._rows), first + MAX_ROWS))

    def _lines(self, width: int) -> list[Content]:
        if not self._rows:
            return []
        width = max(8, width)
        header = Content(count_line(len(self._rows), held=self.held)).truncate(
            width, ellipsis=True)
        lines = [header.stylize("bold $warning" if self.held else "bold")]
        for index in self._window():
            mark = f"{index + 1} "
            room = width - len(mark) - 2  # the ✕ and the space before it
            text = Content(self._rows[index]).truncate(room, ellipsis=True, pad=True)
            picked = self.has_focus and index == self.selected
            lines.append(Content.assemble(
                (mark, "$text-muted"),
                text.stylize("reverse" if picked else "$foreground"),
                " ",
                Content.from_markup(f"[@click=remove({index})]✕[/]").stylize("$error"),
            ))
        return lines

    def render(self) -> Content:
        width = self.content_region.width or self.size.width or 80
        return Content("\n").join(self._lines(width))

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._lines(width))

    # ---- keys and clicks -------------------------------------------------------------------

    def on_focus(self, event: events.Focus) -> None:
        self.refresh()

    def on_blur(self, event: events.Blur) -> None:
        self.refresh()

    def action_remove(self, index: int) -> None:
        """A click on a row's ✕."""
        self.post_message(self.Remove(index))

    def action_remove_queued(self) -> None:
        if self._rows:
            self.post_message(self.Remove(self.selected))

    def action_move(self, step: int) -> None:
        if self._rows:
            self.selected = max(0, min(len(self._rows) - 1, self.selected + step))
            self.refresh()

    def action_back(self) -> None:
        self.post_message(self.Back())
