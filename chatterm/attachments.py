"""Attachments: the files and images a user message carries (issue 14's seam).

A message refers to its attachments by content (SHA-256); the bytes are stored once in
the store however many messages use them, and read only when they are needed (sending,
previewing, exporting), so opening a conversation of 50 images reads no image bytes.

This module holds the types every layer shares; the loader (`chatterm.attach_files`),
the store's table (schema v5) and the wire's content parts build on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from chatterm.errors import ChattermError

Kind = Literal["text", "image"]

# The image types OpenAI-compatible and Mistral APIs take as `image_url` data URLs.
IMAGE_MIMES: tuple[str, ...] = ("image/png", "image/jpeg", "image/webp", "image/gif")


class AttachmentError(ChattermError):
    """A file that cannot be attached: its message is the one line the user sees."""


@dataclass(frozen=True, slots=True)
class AttachmentLimits:
    """`[attachments]` in the config: checked before anything is sent or saved."""

    max_image_bytes: int = 20 * 1024 * 1024
    max_text_bytes: int = 1024 * 1024
    max_count: int = 10


@dataclass(frozen=True, slots=True)
class Attachment:
    """What a message says about one of its attachments (no bytes)."""

    name: str           # the file's base name as the user gave it ("notes.md", "stdin")
    mime: str           # "text/plain", "text/markdown", "image/png", ...
    size: int           # bytes
    sha256: str         # lowercase hex of the bytes: the key of the stored blob
    width: int | None = None   # images only, read from the header when it can be
    height: int | None = None

    @property
    def kind(self) -> Kind:
        return "image" if self.mime.startswith("image/") else "text"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "mime": self.mime, "size": self.size,
                                "sha256": self.sha256}
        if self.width is not None and self.height is not None:
            data["width"], data["height"] = self.width, self.height
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Attachment:
        """Raises KeyError/ValueError/TypeError on bad input (callers turn it into a line)."""
        width, height = data.get("width"), data.get("height")
        return cls(name=str(data["name"]), mime=str(data["mime"]), size=int(data["size"]),
                   sha256=str(data["sha256"]).lower(),
                   width=int(width) if width is not None else None,
                   height=int(height) if height is not None else None)


@dataclass(frozen=True, slots=True)
class PendingAttachment:
    """An attachment read from disk or stdin, not saved yet: its description and bytes."""

    meta: Attachment
    # Out of the repr: Textual names every worker by repr() of its callable, and a reply
    # worker's carries the turn with its attachments (repr of a 10 MB image's bytes held
    # the event loop for ~0.3 s at every send; bench/bench_attach_ui.py).
    data: bytes = field(repr=False)
