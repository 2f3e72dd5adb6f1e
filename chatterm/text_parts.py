"""Text that arrives in many pieces: linear to build, and always valid Unicode.

Two problems of streamed text live here because every text field of a reply shares them:

- `s += piece` on an attribute copies the whole string per piece (CPython can only grow a
  string in place when nothing else refers to it), so a reply of n pieces costs O(n^2).
  `TextParts` keeps the pieces and joins them once, when the text is read.
- JSON may carry UTF-16 surrogates as `\\uD83D` escapes. A proxy that cuts strings per
  UTF-16 code unit sends the two halves of a pair in two chunks, and a lone half cannot
  be encoded as UTF-8: printing or saving it raises UnicodeEncodeError. `TextParts` holds
  a trailing high surrogate back until the next piece says whether it completes a pair,
  and `mend_surrogates` replaces any half that stays alone with U+FFFD.
"""

from __future__ import annotations

import re

REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")


def _is_high(char: str) -> bool:
    return "\ud800" <= char <= "\udbff"


def _is_low(char: str) -> bool:
    return "\udc00" <= char <= "\udfff"


def mend_surrogates(text: str) -> str:
    """`text` with each surrogate pair made one character and every lone half U+FFFD."""
    if text.isascii() or not _SURROGATE.search(text):
        return text  # the common case costs one scan and no copy
    # UTF-16 with surrogatepass turns adjacent halves into a real pair; decoding with
    # `replace` then joins pairs and turns each unpaired half into U+FFFD.
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


class TextParts:
    """A growing text: `append` costs the piece's length, `value` joins at most once per read.

    Readers should read at save points or at the end, not after every piece.
    """

    __slots__ = ("_held", "_parts")

    def __init__(self, text: str = "") -> None:
        self._parts: list[str] = [mend_surrogates(text)] if text else []
        self._held = ""  # a high surrogate waiting for its low half

    def append(self, piece: str) -> str:
        """Add `piece`; returns exactly the text that became part of the value."""
        if not piece:
            return ""
        if self._held:
            piece, self._held = self._held + piece, ""
        if _is_high(piece[-1]):
            piece, self._held = piece[:-1], piece[-1]
        piece = mend_surrogates(piece)
        if piece:
            self._parts.append(piece)
        return piece

    def flush(self) -> str:
        """End of the text: a high surrogate still waiting becomes U+FFFD (returned)."""
        if not self._held:
            return ""
        self._held = ""
        self._parts.append(REPLACEMENT)
        return REPLACEMENT

    @property
    def value(self) -> str:
        """The text so far (a waiting half counts as U+FFFD, without being consumed)."""
        parts = self._parts
        if len(parts) > 1:
            parts[:] = ["".join(parts)]
        text = parts[0] if parts else ""
        return text + REPLACEMENT if self._held else text

    def __bool__(self) -> bool:
        return bool(self._parts or self._held)

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return f"TextParts({self.value!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, TextParts):
            return self.value == other.value
        if isinstance(other, str):
            return self.value == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable
