"""A message's header line: who wrote it on the left, `‹ 2/3 ›` on the right when the
message has other versions (an edited prompt, a regenerated reply).

One widget that lays the line out at its own width when it renders, so the switch stays
at the right edge through a resize and, in a narrow terminal, the left part gives way
(cut with "…") before the switch does. Clicking ‹ or › flips, as ←/→ do on a focused
message: the arrows carry click actions that post a MessageActionRequested.
"""

from __future__ import annotations

from textual.content import Content
from textual.widget import Widget

from chatterm.ui.events import MessageActionRequested

Versions = tuple[int, int]  # (this one, counting from 1; how many)

PREVIOUS = "previous_version"
NEXT = "next_version"


def version_switch(versions: Versions | None) -> Content:
    """`‹ 2/3 ›`, the arrows clickable where there is a version that way; empty when the
    message is the only one of its kind."""
    if versions is None or versions[1] <= 1:
        return Content("")
    this, count = versions
    # An arrow with nowhere to go is drawn dim, like a disabled button; both always
    # take their place so the numbers do not move as you flip.
    left = (Content.from_markup(f"[@click=flip('{PREVIOUS}')]‹[/]").stylize("bold $accent")
            if this > 1 else Content.styled("‹", "$foreground 40%"))
    right = (Content.from_markup(f"[@click=flip('{NEXT}')]›[/]").stylize("bold $accent")
             if this < count else Content.styled("›", "$foreground 40%"))
    return Content.assemble(left, (f" {this}/{count} ", "bold $foreground"), right)


class MessageHeader(Widget):
    """The first line of a message view (one row)."""

    DEFAULT_CSS = """
    MessageHeader {
        height: 1;
        width: 1fr;
    }
    """

    def __init__(self, left: Content, versions: Versions | None = None, *,
                 message_id: str = "", classes: str = "msg-header") -> None:
        super().__init__(classes=classes)
        self.left = left
        self.versions = versions
        self.message_id = message_id

    def update(self, left: Content, versions: Versions | None) -> None:
        if left != self.left or versions != self.versions:
            self.left, self.versions = left, versions
            self.refresh()

    @property
    def switch_text(self) -> str:
        """The switch as plain text ("" when there is none), for hints and tests."""
        return version_switch(self.versions).plain

    def render(self) -> Content:
        switch = version_switch(self.versions)
        width = self.content_region.width or self.size.width
        if not switch:
            if width and self.left.cell_length > width:
                return self.left.truncate(width - 1) + Content("…")
            return self.left
        room = width - switch.cell_length - 1
        left = self.left
        if room <= 1:
            return switch  # a very narrow column: the switch is what can be acted on
        if left.cell_length > room:
            left = left.truncate(room - 1) + Content("…")
        gap = width - left.cell_length - switch.cell_length
        return Content.assemble(left, " " * max(1, gap), switch)

    def action_flip(self, which: str) -> None:
        """A click on ‹ or ›."""
        self.post_message(MessageActionRequested(self.message_id, which))
