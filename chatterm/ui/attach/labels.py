"""How an attachment is named on screen: in a chip, a dialog line, a sent message."""

from __future__ import annotations

from chatterm.attach_files import size_text
from chatterm.attachments import Attachment


def dimensions(attachment: Attachment) -> str:
    """"800×600", or "" when the header did not say."""
    if attachment.width is None or attachment.height is None:
        return ""
    return f"{attachment.width}×{attachment.height}"


def chip_label(attachment: Attachment) -> str:
    """"shot.png 1.2 MB 800×600": name, size and, for an image, its dimensions."""
    parts = [attachment.name, size_text(attachment.size)]
    if dims := dimensions(attachment):
        parts.append(dims)
    return " ".join(parts)


def placeholder(attachment: Attachment) -> str:
    """A sent attachment where no picture is drawn: "image shot.png · 1.2 MB · 800×600"."""
    kind = "image" if attachment.kind == "image" else "file"
    parts = [f"{kind} {attachment.name}", size_text(attachment.size)]
    if dims := dimensions(attachment):
        parts.append(dims)
    return " · ".join(parts)
