"""Make untrusted text safe to print on a terminal.

A reply, an imported title or id, a server's error can carry escape sequences (OSC 52
clipboard writes, OSC 8 links, clear-screen, title changes, C1 controls) or bidi overrides
that reorder what is shown (a "Trojan Source" line reads differently from what it is).
Printed raw, they act on the user's terminal, so every control character except newline
and tab, and every bidi embedding/override/isolate, is replaced by a visible stand-in.

Line ends of every kind (CRLF, and a lone CR as old Mac text has it) are line breaks:
they become "\n" first, so a CRLF reply does not end every line with a "␍" symbol,
and a lone CR can no longer return the cursor to overwrite a line.
"""

from __future__ import annotations

import re

# C0 controls except \t and \n, DEL, the C1 range (U+0080–U+009F), which some terminals
# treat as 8-bit CSI/OSC/ST introducers, and the bidi embeddings, overrides and isolates
# (U+202A–U+202E, U+2066–U+2069).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

# What JSON printed to a terminal must not carry raw: json.dumps already escapes C0, but
# not DEL, C1, the line/paragraph separators, bidi controls or lone surrogates.
_JSON_RISKY = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        # Control Pictures block: U+2400 + code shows e.g. ESC as ␛.
        return chr(0x2400 + code)
    if code == 0x7F:
        return "\u2421"
    if code <= 0x9F:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


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


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def escape_json_text(text: str) -> str:
    """JSON text (from json.dumps) with risky characters as \\u escapes: the same JSON
    value, harmless to print. Those characters only ever occur inside JSON strings."""
    return _JSON_RISKY.sub(_json_escape, text)
