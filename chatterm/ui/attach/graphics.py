"""Pictures in the terminal: can it draw them, and the widget that does (textual-image).

Which terminals draw pictures is decided from the environment, once, without asking the
terminal: textual-image asks with escape sequences when it is imported, which works only
before Textual reads the keyboard (Textual's input thread would eat the answer, or the
question would eat a key), and chatterm must not import it before the first frame.

- Kitty and Ghostty: the Kitty graphics protocol (`TERM=xterm-kitty`, `KITTY_WINDOW_ID`,
  `TERM_PROGRAM=ghostty`).
- WezTerm, Konsole, foot, mlterm, contour: Sixel (textual-image's own advice: WezTerm and
  Konsole announce the Kitty protocol but draw its placeholders wrong; Sixel works).
- Inside tmux or screen nothing is drawn (they drop graphics unless set up to pass them).
- `CHATTERM_IMAGES=kitty|sixel|off` overrides the guess.

textual-image (and Pillow under it) is imported the first time a picture is shown, on a
worker thread, with its terminal questions turned off (`_quiet_import`).
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from textual.widget import Widget

Mode = Literal["kitty", "sixel"]

# A picture's height in rows at most; its width follows (the widget keeps the ratio).
PICTURE_ROWS = 12
# Pictures are scaled down to this many pixels on their longer side before they are
# drawn: the terminal shows a dozen rows of them, and encoding 4,000 pixels for that
# would cost the event loop tens of milliseconds per redraw.
PICTURE_PIXELS = 640

_SIXEL_TERMINALS = ("wezterm", "konsole", "foot", "mlterm", "contour")


def mode_for(env: Mapping[str, str]) -> Mode | None:
    """The graphics protocol the terminal described by `env` speaks, or None."""
    forced = env.get("CHATTERM_IMAGES", "").strip().lower()
    if forced in ("kitty", "sixel"):
        return forced  # type: ignore[return-value]
    if forced in ("off", "none", "no", "0"):
        return None
    if env.get("TMUX") or env.get("STY"):
        return None
    term = env.get("TERM", "").lower()
    program = env.get("TERM_PROGRAM", "").lower()
    if "kitty" in term or env.get("KITTY_WINDOW_ID") or program == "ghostty" \
            or "ghostty" in term:
        return "kitty"
    if program in _SIXEL_TERMINALS or env.get("KONSOLE_VERSION") \
            or term.startswith(("foot", "mlterm", "contour")):
        return "sixel"
    return None


def terminal_mode() -> Mode | None:
    """This process's terminal (a few lookups in the environment: not worth a cache)."""
    return mode_for(os.environ)


def _quiet_import() -> Any:
    """textual_image.widget, imported without its questions to the terminal.

    Its package asks the terminal about Sixel and the Kitty protocol, and its cell size,
    at import time. Here its one way of reading an answer fails at once (no answer:
    the query functions return False), and the cell size comes from the window's size in
    pixels (an ioctl, no escape sequence) or a common default. Private names of
    textual-image 0.12 (pinned below 1 in pyproject.toml), here and nowhere else.
    """
    import textual_image._terminal as terminal

    def no_answer(*_args: object, **_kwargs: object) -> Any:
        raise terminal.TerminalError("chatterm does not ask the terminal")

    real = terminal.capture_terminal_response
    if not hasattr(terminal.get_cell_size, "_result"):
        setattr(terminal.get_cell_size, "_result", _cell_size(terminal.CellSize))  # noqa: B010
    terminal.capture_terminal_response = no_answer
    try:
        import textual_image.widget as widget
    finally:
        terminal.capture_terminal_response = real
    return widget


def _cell_size(cell_size: Any) -> Any:
    try:
        import fcntl
        import struct
        import termios

        packed = fcntl.ioctl(sys.__stdout__.fileno() if sys.__stdout__ else 1,
                             termios.TIOCGWINSZ, b"\0" * 8)
        rows, columns, width, height = struct.unpack("HHHH", packed)
        if rows and columns and width and height:
            return cell_size(width // columns, height // rows)
    except (OSError, ValueError, ImportError, AttributeError):
        pass
    return cell_size(10, 20)  # what textual-image assumes too (a VT340's cells)


def decode(data: bytes) -> Any:
    """The picture, decoded and scaled down (Pillow; runs on a worker thread)."""
    from PIL import Image

    opened = Image.open(io.BytesIO(data))
    opened.seek(0)  # a GIF's first frame
    picture = opened.convert("RGBA") if opened.mode not in ("RGB", "RGBA") else opened
    picture.thumbnail((PICTURE_PIXELS, PICTURE_PIXELS))
    return picture


def picture_widget(picture: Any, mode: Mode) -> Widget:
    """A textual-image widget drawing `picture` with `mode`, PICTURE_ROWS high at most."""
    widget = _quiet_import()
    kind = widget.TGPImage if mode == "kitty" else widget.SixelImage
    shown: Widget = kind(picture, classes="attachment-picture")
    shown.styles.height = PICTURE_ROWS
    shown.styles.width = "auto"
    return shown


def prepare(data: bytes) -> Any:
    """Worker-thread half of showing a picture: import what draws it, decode it."""
    _quiet_import()
    return decode(data)
