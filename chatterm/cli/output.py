"""Writing to the terminal safely: model text is neutralised when it goes to a tty."""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO

from chatterm.sanitize import StreamNeutraliser, neutralise


class Out:
    """stdout for results; control sequences are neutralised when it is a terminal."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.is_tty = _isatty(self.stream)
        self._last = "\n"
        self._neutraliser = StreamNeutraliser()  # a reply arrives in pieces

    def write(self, text: str) -> None:
        if not text:
            return
        if self.is_tty:
            text = self._neutraliser.feed(text)
        self.stream.write(text)
        self.stream.flush()
        self._last = text[-1]

    def line(self, text: str = "") -> None:
        self.write(text + "\n")

    def end_line(self) -> None:
        """Finish a streamed reply on its own line so the shell prompt doesn't glue to it."""
        if self._last != "\n":
            self.write("\n")

    def json(self, value: Any) -> None:
        self.stream.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")
        self.stream.flush()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def warn(text: str) -> None:
    err = sys.stderr
    message = neutralise(text) if _isatty(err) else text
    err.write(f"chatterm: {message}\n")
    err.flush()


def error_line(text: str) -> str:
    """One line, whatever the error text held."""
    return " ".join(text.split()) or "unknown error"


def relative_time(timestamp: float, reference: float | None = None) -> str:
    seconds = max(0.0, (reference or time.time()) - timestamp)
    if seconds < 60:
        return "just now"
    units = ((86400 * 365, "y"), (86400 * 30, "mo"), (86400, "d"), (3600, "h"), (60, "min"))
    for size, unit in units:
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return "just now"


def short_id(conversation_id: str) -> str:
    return conversation_id[:8]
