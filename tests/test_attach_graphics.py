"""Which terminals get pictures of attached images, and that textual-image is imported
without asking the terminal anything (its import would write queries to a tty and read
the answers from stdin, where Textual's input thread is reading keys)."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios

import pytest

from chatterm.ui.attach.graphics import mode_for


@pytest.mark.parametrize(("env", "mode"), [
    ({"TERM": "xterm-kitty"}, "kitty"),
    ({"TERM": "xterm-256color", "KITTY_WINDOW_ID": "1"}, "kitty"),
    ({"TERM_PROGRAM": "ghostty"}, "kitty"),
    ({"TERM": "xterm-ghostty"}, "kitty"),
    ({"TERM_PROGRAM": "WezTerm"}, "sixel"),
    ({"KONSOLE_VERSION": "230800"}, "sixel"),
    ({"TERM": "foot"}, "sixel"),
    ({"TERM": "xterm-256color"}, None),
    ({"TERM": "xterm-kitty", "TMUX": "/tmp/tmux-0/default,1,0"}, None),  # tmux drops them
    ({"TERM": "screen", "STY": "1.pts"}, None),
    ({}, None),
    ({"CHATTERM_IMAGES": "sixel"}, "sixel"),
    ({"CHATTERM_IMAGES": "kitty", "TMUX": "x"}, "kitty"),  # the user knows best
    ({"CHATTERM_IMAGES": "off", "TERM": "xterm-kitty"}, None),
])
def test_the_terminal_decides_the_protocol(env: dict[str, str], mode: str | None) -> None:
    assert mode_for(env) == mode


def test_textual_image_is_imported_without_a_question_to_the_terminal() -> None:
    """In a pseudo-terminal (where textual-image's own import asks about Sixel, the Kitty
    protocol and the cell size, and waits for answers), chatterm's import writes nothing."""
    code = ("from chatterm.ui.attach import graphics; w = graphics._quiet_import(); "
            "print('IMPORTED', w.TGPImage.__name__)")
    leader, follower = pty.openpty()
    # 80×24 cells, size in pixels unknown (as in tmux): textual-image would ask for it.
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    process = subprocess.Popen([sys.executable, "-c", code], stdin=follower, stdout=follower,
                               stderr=subprocess.PIPE, close_fds=True)
    os.close(follower)
    out = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 30)
        if not ready:
            process.kill()
            break
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    process.wait(timeout=30)
    os.close(leader)
    assert process.returncode == 0, process.stderr.read() if process.stderr else ""
    assert b"IMPORTED TGPImage" in out
    # No query: DA1 (Sixel), a Kitty graphics query (ESC _ G), the cell size (CSI 16 t).
    assert b"\x1b[c" not in out and b"\x1b_G" not in out and b"\x1b[16t" not in out
