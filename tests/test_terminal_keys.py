"""What the app advertises for a newline depends on the terminal: the real `chatterm` in a
pseudo-terminal that plays a kitty-protocol terminal (or a legacy one), and in tmux."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import shutil
import signal
import struct
import sys
import termios
import threading
import time
from pathlib import Path

import pytest
from test_e2e_tmux import Tmux, launcher, poll, tmux  # noqa: F401 - tmux is a fixture

REPO = Path(__file__).resolve().parent.parent
QUERY = b"\x1b[?u"


class FakeTerminal:
    """`chatterm` on a pty; answers the kitty query with `reply` (None: a legacy terminal
    that ignores it). The output is kept as text with the escape sequences removed."""

    def __init__(self, home: Path, reply: bytes | None) -> None:
        config = home / "config.toml"
        config.write_text('default_provider = "loop"\n[providers.loop]\n'
                          'base_url = "http://127.0.0.1:9/v1"\ndefault_model = "m"\n')
        config.chmod(0o600)
        env = {**os.environ, "CHATTERM_CONFIG": str(config),
               "CHATTERM_DATA_DIR": str(home / "data"), "CHATTERM_CACHE_DIR": str(home / "c"),
               "PYTHONPATH": str(REPO), "TERM": "xterm-256color", "COLUMNS": "120",
               "LINES": "30"}
        self.reply = reply
        self.raw = b""
        self.queried = False
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: the app
            os.execve(sys.executable, [sys.executable, "-m", "chatterm"], env)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            ready, _, _ = select.select([self.fd], [], [], 0.2)
            if not ready:
                continue
            try:
                data = os.read(self.fd, 65536)
            except OSError:
                return
            if not data:
                return
            with self._lock:
                self.raw += data
                if not self.queried and QUERY in self.raw:
                    self.queried = True
                    if self.reply is not None:
                        os.write(self.fd, self.reply)

    @property
    def text(self) -> str:
        import re

        with self._lock:
            raw = self.raw.decode("utf-8", "replace")
        return re.sub(r"\x1b\[[0-9;?<>=]*[A-Za-z~]|\x1b[()][0-9A-Za-z]|\x1b[=>]", "", raw)

    def type(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def close(self) -> None:
        try:
            os.write(self.fd, b"\x11")  # Ctrl+Q
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                done, _ = os.waitpid(self.pid, os.WNOHANG)
                if done:
                    break
                time.sleep(0.05)
            else:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
        finally:
            os.close(self.fd)


@pytest.mark.e2e
@pytest.mark.parametrize("reply", [b"\x1b[?25u", None], ids=["kitty", "legacy"])
def test_shift_enter_is_advertised_only_by_a_terminal_that_can_send_it(
        tmp_path: Path, reply: bytes | None) -> None:
    terminal = FakeTerminal(tmp_path, reply)
    try:
        poll(lambda: "Ctrl+J newline" in terminal.text, "the idle hint", timeout=30,
             screen=lambda: terminal.text[-2000:])
        poll(lambda: terminal.queried, "the kitty-protocol query", timeout=30)
        if reply is not None:
            poll(lambda: "Shift+Enter newline" in terminal.text, "Shift+Enter in the hint",
                 screen=lambda: terminal.text[-2000:])
        terminal.type("xyz")
        poll(lambda: "xyz" in terminal.text, "typed text", screen=lambda: terminal.text[-2000:])
        # The terminal's reply was taken as such, never typed into the prompt.
        assert "?25u" not in terminal.text
        if reply is None:
            assert "Shift+Enter" not in terminal.text
    finally:
        terminal.close()


@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_in_tmux_the_hint_names_ctrl_j_and_ctrl_j_inserts_a_newline(
        tmux: Tmux, tmp_path: Path) -> None:  # noqa: F811 - the fixture
    script = launcher(tmp_path, tmp_path / "home", "http://127.0.0.1:9/v1")
    tmux.start("keys", str(script))
    screen = lambda: tmux.screen("keys")  # noqa: E731
    poll(lambda: "Ask anything" in screen(), "the prompt", screen=screen)
    poll(lambda: "Enter sends · Ctrl+J newline" in screen(), "the idle hint", screen=screen)
    assert "Shift+Enter" not in screen()
    tmux.keys("keys", "one", literal=True)
    poll(lambda: "one" in screen(), "the first line", screen=screen)
    tmux.keys("keys", "C-j")
    tmux.keys("keys", "two", literal=True)
    poll(lambda: any(line.strip() == "two" for line in screen().splitlines()),
         "the second line, below the first", screen=screen)
    assert any(line.strip() == "one" for line in screen().splitlines())
    tmux.keys("keys", "C-q")
    poll(lambda: not tmux.alive("keys"), "chatterm to quit")
