"""The real `chatterm` executable in tmux: chat, quit, reopen with -c.

It runs `python -m chatterm` (the console script when installed behaves the same) in a
120x40 tmux pane on a private tmux socket, against tests/loopback.py run standalone, and
reads the screen with capture-pane. The reply carries hostile escape sequences too: tmux
would act on them (set its paste buffer, retitle the pane) if they reached it raw.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LOOPBACK = Path(__file__).resolve().parent / "loopback.py"

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(shutil.which("tmux") is None,
                                 reason="tmux is not installed: the end-to-end test needs it")]

REPLY = ["The ", "quick ", "brown ", "fox ", "jumps ", "over ", "the ", "lazy ", "dog. ",
         "clip\x1b]52;c;ZXZpbA==\x07 ", "title\x1b]2;pwned\x07 ", "done-marker"]


class Tmux:
    def __init__(self, socket_name: str, config: Path) -> None:
        self.socket = socket_name
        self.config = config

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["tmux", "-L", self.socket, "-f", str(self.config), *args],
                              capture_output=True, text=True, timeout=20, check=check)

    def start(self, session: str, command: str) -> None:
        self.run("new-session", "-d", "-x", "120", "-y", "40", "-s", session, command)

    def screen(self, session: str) -> str:
        done = self.run("capture-pane", "-p", "-t", session, check=False)
        return done.stdout

    def alive(self, session: str) -> bool:
        return self.run("has-session", "-t", session, check=False).returncode == 0

    def keys(self, session: str, *keys: str, literal: bool = False) -> None:
        self.run("send-keys", "-t", session, *(["-l"] if literal else []), *keys)


def poll(condition: Callable[[], object], what: str, timeout: float = 20.0,
         screen: Callable[[], str] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            shown = f"; the screen:\n{screen()}" if screen is not None else ""
            raise AssertionError(f"timed out waiting for {what}{shown}")
        time.sleep(0.05)


def send_until(send: Callable[[], None], condition: Callable[[], object], what: str,
               screen: Callable[[], str], tries: int = 3) -> None:
    """Send keys and wait for their effect; if none shows, send them again, as a person
    whose keys were swallowed would (on a loaded machine keys can arrive before the editor
    takes input)."""
    for attempt in range(tries):
        send()
        try:
            poll(condition, what, timeout=5, screen=screen)
            return
        except AssertionError:
            if attempt == tries - 1:
                raise


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    # set-clipboard on: an OSC 52 reaching tmux raw would create a paste buffer.
    config = tmp_path / "tmux.conf"
    config.write_text("set -g set-clipboard on\n")
    server = Tmux(f"chatterm-e2e-{os.getpid()}-{tmp_path.name}", config)
    try:
        yield server
    finally:
        server.run("kill-server", check=False)


@pytest.fixture
def loopback_process(tmp_path: Path) -> Iterator[str]:
    script = tmp_path / "script.json"
    script.write_text(json.dumps({
        "queue": {"chat/completions": [{"sse_text": REPLY, "delay": 0.03, "model": "e2e-model",
                                        "usage": {"prompt_tokens": 4, "completion_tokens": 12}}]}
    }))
    port_file = tmp_path / "port"
    process = subprocess.Popen(
        [sys.executable, str(LOOPBACK), "--script", str(script), "--port-file", str(port_file)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        poll(port_file.exists, "the loopback server to listen", timeout=15)
        yield f"http://127.0.0.1:{port_file.read_text().strip()}/v1"
    finally:
        process.terminate()
        process.wait(timeout=10)


def launcher(tmp_path: Path, home: Path, url: str) -> Path:
    config = home / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        'default_provider = "loop"\n'
        "[providers.loop]\n"
        f'base_url = "{url}"\n'
        'api_key_env = "LOOP_API_KEY"\n'
        'default_model = "e2e-model"\n'
    )
    config.chmod(0o600)
    env = {
        "CHATTERM_CONFIG": str(config),
        "CHATTERM_DATA_DIR": str(home / "data"),
        "CHATTERM_CACHE_DIR": str(home / "cache"),
        "LOOP_API_KEY": "sk-e2e-0123456789abcdef",
        "PYTHONPATH": str(REPO),
        "TERM": "xterm-256color",
    }
    script = tmp_path / "chatterm.sh"
    exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items())
    # COLUMNS/LINES would override the pane's real size (shutil.get_terminal_size reads
    # them first), and the tmux server inherits them from the test process when set.
    script.write_text(f'#!/bin/sh\nunset COLUMNS LINES\n{exports}'
                      f'exec {shlex.quote(sys.executable)} -m chatterm "$@"\n')
    script.chmod(0o755)
    return script


def test_chat_quit_and_reopen_with_continue(tmux: Tmux, loopback_process: str,
                                            tmp_path: Path) -> None:
    script = launcher(tmp_path, tmp_path / "home", loopback_process)

    tmux.start("first", str(script))
    first = lambda: tmux.screen("first")  # noqa: E731
    poll(lambda: "Ask anything" in first(), "the prompt", screen=first)
    # Enter only once the prompt shows the text, as a person would.
    send_until(lambda: tmux.keys("first", "hello from tmux", literal=True),
               lambda: "hello from tmux" in first(), "the typed prompt", screen=first)
    # Sent: the prompt is empty again and shows its placeholder.
    send_until(lambda: tmux.keys("first", "Enter"),
               lambda: "Ask anything" in first(), "the prompt to be sent", screen=first)
    poll(lambda: "quick brown fox" in first(), "the first streamed words", screen=first)
    poll(lambda: "done-marker" in first(), "the end of the reply", screen=first)
    screen = tmux.screen("first")
    assert "hello from tmux" in screen
    assert "e2e-model" in screen
    # The escape sequences were shown, not obeyed.
    assert "␛]52;c;ZXZpbA==" in screen
    assert tmux.run("list-buffers", check=False).stdout.strip() == ""
    title = tmux.run("display-message", "-p", "-t", "first", "#{pane_title}").stdout
    assert "pwned" not in title
    tmux.keys("first", "C-q")
    poll(lambda: not tmux.alive("first"), "chatterm to quit")

    tmux.start("second", f"{script} -c")
    poll(lambda: "done-marker" in tmux.screen("second"), "the reopened conversation",
         screen=lambda: tmux.screen("second"))
    screen = tmux.screen("second")
    assert "hello from tmux" in screen
    assert "hello from tmux" in screen.splitlines()[0]  # the title, from the first prompt
    tmux.keys("second", "C-q")
    poll(lambda: not tmux.alive("second"), "chatterm to quit again")


def test_compare_two_models_at_120_then_40_columns_keep_one_and_reopen(
        tmux: Tmux, tmp_path: Path) -> None:
    """Compare models as a person does it: F9, Space, Enter, a prompt; the columns side by
    side at 120 columns, stacked once the pane is 40 wide; keep the second, quit, reopen."""
    def reply(words: list[str], model: str) -> dict[str, object]:
        return {"sse_text": words, "delay": 0.05, "model": model,
                "usage": {"prompt_tokens": 4, "completion_tokens": len(words)}}

    script_file = tmp_path / "script.json"
    script_file.write_text(json.dumps({
        "by_model": {"chat/completions": {
            "e2e-model": [reply(["Alpha ", "says ", "left-marker"], "e2e-model")],
            "e2e-other": [reply(["Beta ", "says ", "right-marker"], "e2e-other")]}},
        "always": {"models": {"json": {"object": "list", "data": [
            {"id": "e2e-model"}, {"id": "e2e-other"}]}}},
    }))
    port_file = tmp_path / "port"
    process = subprocess.Popen(
        [sys.executable, str(LOOPBACK), "--script", str(script_file), "--port-file",
         str(port_file)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        poll(port_file.exists, "the loopback server to listen", timeout=15)
        url = f"http://127.0.0.1:{port_file.read_text().strip()}/v1"
        script = launcher(tmp_path, tmp_path / "home", url)
        tmux.start("cmp", str(script))
        screen = lambda: tmux.screen("cmp")  # noqa: E731
        poll(lambda: "Ask anything" in screen(), "the prompt", screen=screen)
        send_until(lambda: tmux.keys("cmp", "F9"), lambda: "Compare models" in screen(),
                   "the multi-select picker", screen=screen)
        poll(lambda: "e2e-other" in screen(), "the live model list", screen=screen)
        send_until(lambda: tmux.keys("cmp", "e2e-other", literal=True),
                   lambda: "e2e-other" in screen() and "Other (1)" in screen(),
                   "the filtered list", screen=screen)
        send_until(lambda: tmux.keys("cmp", "Space"), lambda: "2 marked" in screen(),
                   "two marked", screen=screen)
        send_until(lambda: tmux.keys("cmp", "Enter"), lambda: "compare 2 models" in screen(),
                   "compare mode on the status bar", screen=screen)
        send_until(lambda: tmux.keys("cmp", "which one?", literal=True),
                   lambda: "which one?" in screen(), "the typed prompt", screen=screen)
        tmux.keys("cmp", "Enter")
        poll(lambda: "left-marker" in screen() and "right-marker" in screen(),
             "both replies", screen=screen)
        # Side by side: one line holds both labels, another both texts.
        lines = screen().splitlines()
        assert any("e2e-model" in line and "e2e-other" in line for line in lines)
        assert any("left-marker" in line and "right-marker" in line for line in lines)
        poll(lambda: "[keep]" in screen(), "the keep links", screen=screen)

        tmux.run("resize-window", "-t", "cmp", "-x", "40", "-y", "40")
        poll(lambda: not any("e2e-model" in line and "e2e-other" in line
                             for line in screen().splitlines())
             and "right-marker" in screen(), "the columns stacked", screen=screen)
        lines = screen().splitlines()
        top = next(i for i, line in enumerate(lines) if "left-marker" in line)
        bottom = next(i for i, line in enumerate(lines) if "right-marker" in line)
        assert bottom > top

        send_until(lambda: tmux.keys("cmp", "BTab"), lambda: "Keep" in screen(),
                   "the columns focused (their key in the footer)", screen=screen)
        tmux.keys("cmp", "Right")
        send_until(lambda: tmux.keys("cmp", "Enter"),
                   lambda: "left-marker" not in screen() and "right-marker" in screen(),
                   "the kept reply alone", screen=screen)
        poll(lambda: "‹ 2/2 ›" in screen() and "Keep" not in screen(),
             "its other version marked, the focus back in the prompt", screen=screen)
        tmux.keys("cmp", "C-q")
        poll(lambda: not tmux.alive("cmp"), "chatterm to quit")

        tmux.start("again", f"{script} -c")
        again = lambda: tmux.screen("again")  # noqa: E731
        poll(lambda: "right-marker" in again(), "the kept reply after reopening",
             screen=again)
        assert "left-marker" not in again()
        tmux.keys("again", "C-q")
        poll(lambda: not tmux.alive("again"), "chatterm to quit again")
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_editor_hands_the_screen_back_whole_at_120_and_40_columns(
        tmux: Tmux, loopback_process: str, tmp_path: Path) -> None:
    """Ctrl+E as a person uses it: the editor takes the screen, the pane is resized while
    it runs, the editor fails (one line, the draft kept), is stopped by Ctrl+C, then
    succeeds (its text sent);
    each time the app comes back whole: title, prompt, footer."""
    script = launcher(tmp_path, tmp_path / "home", loopback_process)
    editor = f"{shlex.quote(sys.executable)} {shlex.quote(str(REPO / 'tests/fake_editor.py'))}"
    record = tmp_path / "record.json"
    tmux.start("edit", f"env EDITOR={shlex.quote(editor)} EDITOR_ASKS=1 "
                       f"EDITOR_RECORD={shlex.quote(str(record))} {script}")
    screen = lambda: tmux.screen("edit")  # noqa: E731

    def whole(width: int) -> bool:
        lines = screen().rstrip("\n").splitlines()
        return (len(lines) > 3 and "New chat" in lines[0] and "^e Editor" in lines[-2]
                and "^p" in lines[-1] and all(len(line) <= width for line in lines))

    def open_editor(run: int) -> None:
        # Once: a second Ctrl+E sent while the editor starts would be typed into it. The
        # run's number is waited for: the shell's screen, shown again as the app
        # suspends, still holds the last run's line before this one has started.
        tmux.keys("edit", "C-e")
        poll(lambda: f"FAKE-EDITOR #{run}: draft to keep" in screen(), "the editor",
             timeout=60, screen=screen)

    poll(lambda: "Ask anything" in screen(), "the prompt", screen=screen)
    send_until(lambda: tmux.keys("edit", "draft to keep", literal=True),
               lambda: "draft to keep" in screen(), "the typed draft", screen=screen)
    open_editor(1)
    assert "^e Editor" not in screen()  # the editor has the screen to itself
    tmux.run("resize-window", "-t", "edit", "-x", "40", "-y", "30")
    tmux.keys("edit", "fail", literal=True)
    tmux.keys("edit", "Enter")
    poll(lambda: "status 3" in screen() and whole(40), "the app back at 40 columns",
         screen=screen)
    assert "draft to keep" in screen()
    # Ctrl+C in the editor is the editor's (the terminal signals chatterm too): the
    # editor, waiting for its line, is stopped by SIGINT and chatterm is not. Its line is
    # looked for once the first one's toast has gone (two stack past a 30-row pane), by a
    # word the toast cannot wrap ("keeps its" may fall on two lines at 40 columns).
    poll(lambda: "status 3" not in screen(), "the first line to go", timeout=30,
         screen=screen)
    open_editor(2)
    tmux.keys("edit", "C-c")
    poll(lambda: "SIGINT;" in screen() and whole(40), "the app back after Ctrl+C",
         screen=screen)
    assert "draft to keep" in screen()
    tmux.run("resize-window", "-t", "edit", "-x", "120", "-y", "40")
    poll(lambda: whole(120) and "Ctrl+B chats" in screen(), "120 columns", screen=screen)
    open_editor(3)
    tmux.keys("edit", "written in the editor", literal=True)
    tmux.keys("edit", "Enter")
    poll(lambda: "written in the editor" in screen() and whole(120),
         "the editor's text in the prompt", screen=screen)
    assert "draft to keep" not in screen()
    send_until(lambda: tmux.keys("edit", "Enter"), lambda: "Ask anything" in screen(),
               "the prompt to be sent", screen=screen)
    poll(lambda: "done-marker" in screen(), "the reply", screen=screen)
    tmux.keys("edit", "C-q")
    poll(lambda: not tmux.alive("edit"), "chatterm to quit")
