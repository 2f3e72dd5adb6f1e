"""Where text from models and servers becomes text the app may draw: the one boundary.

A reply's content, reasoning, refusal and tool calls, a conversation's title, a search
snippet, a model id a server listed, a server's error: any of them can carry escape
sequences (OSC 52 clipboard writes, title changes, clear-screen), C1 controls or bidi
overrides. Every such text reaches a widget through this module, and the UI calls
chatterm.sanitize only here, once per text: the widgets never neutralise again. (The
Markdown renderer checks what it renders itself, since parsing creates characters of its
own: see ui/markdown/blocks.clean_output.) tests/test_ui_hostile.py checks both.
"""

from __future__ import annotations

from collections.abc import Iterable

from chatterm.redact import redact
from chatterm.sanitize import StreamNeutraliser, neutralise


def text(value: str) -> str:
    """Model or stored text, inert: line ends as \\n, controls and bidi controls shown."""
    return neutralise(value)


def line(value: str) -> str:
    """`text` on one line (a title in a list): each run of whitespace is one space."""
    return " ".join(neutralise(value).split())


def marked(value: str, positions: Iterable[int]) -> tuple[str, list[int]]:
    """`text` of a value with some characters marked (a search's matched letters): the
    marks move with the text, since a control drawn as `\\x9b` is four characters."""
    wanted = set(positions)
    pieces: list[str] = []
    moved: list[int] = []
    at = 0
    for index, char in enumerate(value):
        piece = neutralise(char) if not char.isprintable() else char
        if index in wanted:
            moved.extend(range(at, at + len(piece)))
        pieces.append(piece)
        at += len(piece)
    return "".join(pieces), moved


def server_words(value: str) -> str:
    """What a server said (an error, a retry's reason): redacted, then inert."""
    return neutralise(redact(value))


class Stream:
    """`text` for a reply arriving in pieces: a CRLF split between two pieces is one
    line break, not two (which Markdown would read as a paragraph break)."""

    __slots__ = ("_neutraliser",)

    def __init__(self) -> None:
        self._neutraliser = StreamNeutraliser()

    def feed(self, piece: str) -> str:
        return self._neutraliser.feed(piece)
