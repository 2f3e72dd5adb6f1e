"""Make untrusted model text safe to print on a terminal.

A reply can carry escape sequences (OSC 52 clipboard writes, OSC 8 links, clear-screen,
title changes, C1 controls). Printed raw, they act on the user's terminal, so every
control character except newline and tab is replaced by a visible stand-in.

Line ends of every kind (CRLF, and a lone CR as old Mac text has it) are line breaks:
they become "\n" first, so a CRLF reply does not end every line with a "␍" symbol,
and a lone CR can no longer return the cursor to overwrite a line.
"""

from __future__ import annotations

import re

# C0 controls except \t and \n, DEL, and the C1 range (U+0080–U+009F), which some
# terminals treat as 8-bit CSI/OSC introducers.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        # Control Pictures block: U+2400 + code shows e.g. ESC as ␛.
        return chr(0x2400 + code)
    if code == 0x7F:
        return "\u2421"
    return f"\\x{code:02x}"


def line_breaks(text: str) -> str:
    """CRLF and lone CR as \\n."""
    if "\r" not in text:
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


def neutralise(text: str) -> str:
    """Line ends as \\n, then every control character but \\n and \\t in a harmless
    visible form."""
    text = line_breaks(text)
    if not _CONTROL.search(text):
        return text
    return _CONTROL.sub(_visible, text)


class StreamNeutraliser:
    """`neutralise` for text that arrives in pieces: a CRLF split between two pieces
    is one line break, not two (which Markdown would read as a paragraph break)."""

    __slots__ = ("_after_cr",)

    def __init__(self) -> None:
        self._after_cr = False

    def feed(self, text: str) -> str:
        if not text:
            return text
        if self._after_cr and text[0] == "\n":
            text = text[1:]  # the LF of a CRLF whose CR ended the previous piece
        self._after_cr = text.endswith("\r")
        return neutralise(text)


def has_controls(text: str) -> bool:
    return _CONTROL.search(text) is not None
