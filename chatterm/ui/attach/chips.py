"""The chips above the prompt: one per attachment waiting for the next send.

One widget for all of them, whose text is the chips in a row: Textual wraps it like any
text, so at 40 columns the chips go on as many lines as they need instead of running
off the edge. Each chip ends in a clickable ✕ (the prompt keeps the focus). The tray
takes the focus (Tab, or a click on a chip): ←/→ pick a chip, Backspace or Delete
removes it, Esc or Enter go back to the prompt. Backspace in an empty prompt removes the
last chip (the prompt asks the tray).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.geometry import Size
from textual.message import Message
from textual.widget import Widget

from chatterm.attachments import Attachment, PendingAttachment
from chatterm.ui import inert
from chatterm.ui.attach.labels import chip_label


class AttachmentTray(Widget, can_focus=True):
    """The pending attachments, in the order they were added."""

    DEFAULT_CSS = """
    AttachmentTray {
        height: auto;
        max-height: 6;
        padding: 0 1;
        background: $surface;
        display: none;
    }
    AttachmentTray.-some {
        display: block;
    }
    AttachmentTray:focus {
        background: $boost;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("backspace,delete", "remove_selected", "Remove", show=True),
        Binding("left", "move(-1)", show=False),
        Binding("right", "move(1)", show=False),
        Binding("escape,enter", "back", "Back", show=False),
    ]

    class Changed(Message):
        """The chips changed (added, removed, taken for a send)."""

    class Back(Message):
        """Esc/Enter on the tray (or a letter typed there): the prompt takes the focus
        back, with the letter typed into it."""

        def __init__(self, typed: str = "") -> None:
            super().__init__()
            self.typed = typed

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._pending: list[PendingAttachment] = []
        self.selected = 0

    # ---- what the chat uses ---------------------------------------------------------------

    @property
    def pending(self) -> list[PendingAttachment]:
        return list(self._pending)

    @property
    def chips(self) -> list[str]:
        """Each chip's text as shown (without the ✕), for hints and tests."""
        return [chip_label(p.meta) for p in self._pending]

    def add(self, attachment: PendingAttachment) -> bool:
        """Add a chip; False when the same content is already there (nothing changes)."""
        if any(p.meta.sha256 == attachment.meta.sha256 and p.meta.name == attachment.meta.name
               for p in self._pending):
            return False
        self._pending.append(attachment)
        self._changed()
        return True

    def put_back(self, attachments: Sequence[PendingAttachment]) -> None:
        """A send that did not happen gives its attachments back, before any added since."""
        kept = [p for p in self._pending if p not in attachments]
        self._pending = [*attachments, *kept]
        self._changed()

    def remove_at(self, index: int) -> Attachment | None:
        if not 0 <= index < len(self._pending):
            return None
        gone = self._pending.pop(index).meta
        self.selected = min(self.selected, max(0, len(self._pending) - 1))
        self._changed()
        if not self._pending and self.has_focus:
            self.post_message(self.Back())
        return gone

    def remove_last(self) -> Attachment | None:
        return self.remove_at(len(self._pending) - 1)

    def take(self) -> list[PendingAttachment]:
        """Empty the tray and return what it held (the next send carries them)."""
        taken, self._pending = self._pending, []
        self.selected = 0
        self._changed()
        return taken

    # ---- drawing and keys -------------------------------------------------------------------

    def _changed(self) -> None:
        self.set_class(bool(self._pending), "-some")
        self.refresh(layout=True)
        self.post_message(self.Changed())

    def _chips(self) -> list[Content]:
        parts: list[Content] = []
        for index, attachment in enumerate(self._pending):
            style = "reverse bold" if self.has_focus and index == self.selected else "bold"
            parts.append(Content.assemble(
                (f"[{inert.line(chip_label(attachment.meta))} ", style),
                Content.from_markup(f"[@click=remove({index})]✕[/]").stylize("$error"),
                ("]", style),
            ))
        return parts

    def _lines(self, width: int) -> list[Content]:
        """The chips in lines of `width` cells, broken between chips (a chip wider than
        the line has a line of its own, and Textual wraps it there)."""
        lines: list[Content] = []
        for chip in self._chips():
            if lines and lines[-1].cell_length + 1 + chip.cell_length <= width:
                lines[-1] = Content.assemble(lines[-1], " ", chip)
            else:
                lines.append(chip)
        return lines

    def render(self) -> Content:
        width = self.content_region.width or self.size.width or 80
        return Content("\n").join(self._lines(width))

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return sum(max(1, -(-line.cell_length // max(1, width))) for line in self._lines(width))

    def on_focus(self, event: events.Focus) -> None:
        self.selected = min(self.selected, max(0, len(self._pending) - 1))
        self.refresh()

    def on_key(self, event: events.Key) -> None:
        # A letter is meant for the prompt (as on a focused message): it goes there.
        if event.is_printable and event.character and event.key not in ("left", "right"):
            event.stop()
            event.prevent_default()
            self.post_message(self.Back(event.character))

    def on_blur(self, event: events.Blur) -> None:
        self.refresh()

    def action_remove(self, index: int) -> None:
        """A click on a chip's ✕: the chip goes and the prompt gets the focus back (the
        click focused the tray; left there, what is typed next would be lost)."""
        self.remove_at(index)
        self.post_message(self.Back())

    def action_remove_selected(self) -> None:
        self.remove_at(self.selected)

    def action_move(self, step: int) -> None:
        if self._pending:
            self.selected = (self.selected + step) % len(self._pending)
            self.refresh()

    def action_back(self) -> None:
        self.post_message(self.Back())
