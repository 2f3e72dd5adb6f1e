"""Which keys the user's terminal can actually send: is the kitty keyboard protocol on?

Textual asks every terminal for the kitty protocol (`CSI > flags u`) but never checks the
answer. Without it, Shift+Enter and Ctrl+Enter arrive as a bare CR, which is Enter, so
the app must not advertise them (tmux, xterm, the Linux console...). A terminal that
speaks the protocol answers the query `CSI ? u` with its current flags, `CSI ? flags u`;
one that does not, ignores it. So the app asks once after its first frame, and the hints
name Shift+Enter only after a reply (or after a Shift+Enter key actually arrived, as it
does from xterm with modifyOtherKeys set by the user).

The reply comes in through Textual's input parser, which would otherwise type it into the
prompt as "[?25u": `teach_parser` makes each possible reply a key of its own (through
chatterm.ui.compat, as `_teach_alt_enter` does), which the app takes out of the stream
(`take`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

QUERY = "\x1b[?u"
REPLY_KEY_PREFIX = "chatterm-kitty-flags-"
# The progressive-enhancement flags that give modified Enter keys codes of their own:
# "disambiguate escape codes" (1) and "report all keys as escape codes" (8).
_DISAMBIGUATING_FLAGS = 0b1001
# Names Textual gives a Shift+Enter that reached it as such.
_SHIFT_ENTER_KEYS = frozenset({"shift+enter", "shift+\r"})


def teach_parser() -> None:
    """Make every `CSI ? flags u` reply one key event instead of five typed characters."""
    from chatterm.ui.compat import teach_key_sequences

    teach_key_sequences({f"\x1b[?{flags}u": f"{REPLY_KEY_PREFIX}{flags}" for flags in range(256)})


class TerminalKeys:
    """What is known about the terminal's keyboard; `changed` runs when it changes."""

    def __init__(self) -> None:
        self.kitty = False  # Shift+Enter and friends reach the app as keys of their own
        self.replied = False
        self.changed: Callable[[], None] | None = None

    def query(self, driver: Any) -> None:
        """Ask the terminal for its kitty protocol flags (a headless driver has none)."""
        if driver is None or getattr(driver, "is_headless", True):
            return
        try:
            driver.write(QUERY)
            driver.flush()
        except (OSError, AttributeError):  # a terminal gone or a driver without a writer
            return

    def take(self, key: str) -> bool:
        """Look at one key event; True if it was the terminal's reply (not a key press)."""
        if key.startswith(REPLY_KEY_PREFIX):
            self.replied = True
            flags = int(key.removeprefix(REPLY_KEY_PREFIX) or 0)
            self._set(bool(flags & _DISAMBIGUATING_FLAGS))
            return True
        if key in _SHIFT_ENTER_KEYS:
            self._set(True)
        return False

    def _set(self, kitty: bool) -> None:
        if kitty != self.kitty:
            self.kitty = kitty
            if self.changed is not None:
                self.changed()
