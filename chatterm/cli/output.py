"""Everything the CLI writes goes through here, so nothing reaches a terminal raw.

- `Out` writes results to stdout: on a terminal, control and escape sequences and bidi
  overrides in the text (model text, imported titles and ids) are made visible and inert,
  JSON gets them as \\u escapes; piped, the bytes are exact.
- `note` / `warn` write one diagnostic line to stderr: always redacted (a server's words
  may quote the API key), and neutralised when stderr is a terminal.
"""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from chatterm.sanitize import StreamNeutraliser, escape_json_text, neutralise


class Out:
    """stdout for results; control sequences are neutralised when it is a terminal."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.is_tty = _isatty(self.stream)
        self._last = "\n"
        self._neutraliser = StreamNeutraliser()  # a reply arrives in pieces

    def write(self, text: str, style: str | None = None) -> None:
        """Write `text`; `style` (an SGR code such as "1;33") colours it on a terminal.

        Only chatterm's own SGR codes are ever written raw; the text itself never is."""
        if not text:
            return
        if self.is_tty:
            text = self._neutraliser.feed(text)
            if not text:
                return  # the LF of a CRLF already written as a line break
            if style:
                text = f"\x1b[{style}m{text}\x1b[0m"
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
        text = json.dumps(value, ensure_ascii=False, indent=2)
        if self.is_tty:
            # The same JSON value, without raw C1 or bidi controls (json.dumps escapes
            # only C0); piped, a script gets exactly what was stored.
            text = escape_json_text(text)
        self.stream.write(text + "\n")
        self.stream.flush()
        self._last = "\n"


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def note(text: str, *, stream: TextIO | None = None) -> None:
    """One diagnostic line on stderr (or `stream`), redacted and safe for a terminal."""
    from chatterm.redact import redact

    err = stream or sys.stderr
    text = redact(text)
    if _isatty(err):
        text = neutralise(text)
    err.write(text + "\n")
    err.flush()


def warn(text: str) -> None:
    note(f"chatterm: {text}")


def confirm(question: str) -> bool:
    """Ask a yes/no question on the terminal; the question is neutralised like any line."""
    sys.stdout.write(neutralise(question) + " [y/N] ")
    sys.stdout.flush()
    answer = sys.stdin.readline()
    return answer.strip().lower() in {"y", "yes"}


def error_line(text: str) -> str:
    """One line, whatever the error text held."""
    return " ".join(text.split()) or "unknown error"


def short_id(conversation_id: str) -> str:
    return conversation_id[:8]
