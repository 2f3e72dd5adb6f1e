"""A sent prompt's attachments, under its text: one line each, an image's picture below
its line where the terminal can draw one.

Opening a chat of 50 images must not read 50 images: a line costs no bytes, and an
image's picture is asked for (`PreviewWanted`, which the chat screen answers through the
session, off the event loop) only when its line is first drawn, which Textual does only
for what is on screen. Where the terminal cannot draw pictures (graphics.py decides), the
line is all there is: name, size and dimensions.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from chatterm.attachments import Attachment
from chatterm.ui import inert
from chatterm.ui.attach.labels import placeholder


class PreviewWanted(Message):
    """An image line came on screen: the chat screen may fetch its bytes for a picture."""

    def __init__(self, slot: ImageSlot) -> None:
        super().__init__()
        self.slot = slot


class AttachmentLine(Widget):
    """One attachment's line: "file notes.md · 3.4 KB" / "image shot.png · 1.2 MB · 800×600"."""

    DEFAULT_CSS = """
    AttachmentLine {
        height: auto;
        color: $text-muted;
    }
    """

    def __init__(self, attachment: Attachment) -> None:
        super().__init__(classes="attachment-line")
        self.attachment = attachment

    @property
    def label(self) -> str:
        return placeholder(self.attachment)

    def render(self) -> Content:
        return Content.styled(f"▪ {inert.line(self.label)}", "$text-muted")


class ImageSlot(AttachmentLine):
    """An image's line, asking for its picture the first time it is drawn on screen."""

    def __init__(self, attachment: Attachment, *, previews: bool) -> None:
        super().__init__(attachment)
        self.previews = previews
        self.asked = False  # PreviewWanted posted (at most once)
        self.shown = False  # the picture is mounted

    def render_lines(self, crop: Region) -> list[Strip]:
        # Called only with the part of the widget inside the visible region: the
        # cheapest "on screen" test there is.
        if self.previews and not self.asked and crop.area:
            self.asked = True
            # Posted from the slot's own turn: a message made while the screen renders
            # has the screen as its sender, and would stop bubbling just below it.
            self.call_later(self._ask)
        return super().render_lines(crop)

    def _ask(self) -> None:
        self.post_message(PreviewWanted(self))

    def show_picture(self, picture: Widget) -> None:
        """Put the picture (a textual-image widget) under the line."""
        parent = self.parent
        if self.shown or not isinstance(parent, Widget):
            return
        self.shown = True
        parent.mount(picture, after=self)


class AttachmentList(Vertical):
    """Every attachment of one message, in order."""

    DEFAULT_CSS = """
    AttachmentList {
        height: auto;
        padding: 0;
    }
    """

    def __init__(self, attachments: Sequence[Attachment], *, previews: bool) -> None:
        super().__init__(classes="attachments")
        self.attachments = list(attachments)
        self.previews = previews

    def compose(self) -> ComposeResult:
        for attachment in self.attachments:
            if attachment.kind == "image":
                yield ImageSlot(attachment, previews=self.previews)
            else:
                yield AttachmentLine(attachment)

    @property
    def lines(self) -> list[str]:
        """Each attachment's line as shown, for tests."""
        return [line.label for line in self.query(AttachmentLine).results(AttachmentLine)]
