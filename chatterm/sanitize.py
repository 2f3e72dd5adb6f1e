"""Make untrusted model text safe to print on a terminal.

A reply can carry escape sequences (OSC 52 clipboard writes, OSC 8 links, clear-screen,
title changes, C1 controls). Printed raw, they act on the user's terminal, so every
control character except newline and tab is replaced by a visible stand-in.
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


def neutralise(text: str) -> str:
    """Replace every control character but \\n and \\t with a harmless visible form."""
    if not _CONTROL.search(text):
        return text
    return _CONTROL.sub(_visible, text)


def has_controls(text: str) -> bool:
    return _CONTROL.search(text) is not None
